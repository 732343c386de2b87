"""Evaluation metrics of generated cells against the real-vs-real control, per scope (all cells, each label)."""
from __future__ import annotations

import numpy as np
import pandas as pd

METRIC_HELP = {
    "rf_auroc": "Random forest telling real from generated (cross-validated AUROC): 0.5 = indistinguishable "
                "(good), 1.0 = trivially told apart.",
    "mmd2": "Maximum mean discrepancy² in PCA space (lower is better; the control row is the real-vs-real floor).",
    "energy": "Energy distance in PCA space (lower is better).",
    "scc_means": "Spearman correlation of per-gene means, generated vs real (1 is best).",
    "zero_frac_gap": "Mean |zero fraction real − generated| over genes (0 is best).",
    "label_fidelity": "Share of cells whose label, predicted by a classifier fitted on training cells, is the "
                      "label asked for (1 is best).",
    "phase_fidelity": "Share of cells whose scored cell-cycle phase is the phase asked for (1 is best).",
}
# two-line titles: three panels side by side stay legible on a narrow window (800 px with the sidebar open)
PANELS = [("rf_auroc", "RF AUROC<br>(0.5 = indistinguishable)"), ("mmd2", "MMD²<br>(lower = better)"),
          ("label_fidelity", "Label fidelity<br>(1 = right label)")]


def badness(metric: str, gen: pd.Series, ctl: pd.Series, ctl_all: float) -> pd.Series:
    """How far from real each generated value is, 0 (as good as real) … 1 (far): the bars' colour.

    RF AUROC: 0.5 → 0, 1 → 1. MMD²: log10 of the ratio to the control's floor (per scope, at least
    the all-cells control and 1e-3), 100× the floor → 1. Fidelities: 1 − value.
    """
    if metric == "rf_auroc":
        return ((gen - 0.5) / 0.5).clip(0, 1)
    if metric == "mmd2":
        floor = np.nanmax([ctl.clip(lower=0).fillna(0).to_numpy(), np.full(len(ctl), ctl_all if ctl_all > 0 else 0)],
                          axis=0)
        floor = np.maximum(floor, 1e-3)
        return pd.Series(np.clip(np.log10(np.maximum(gen.to_numpy(), 1e-6) / floor) / 2, 0, 1), index=gen.index)
    return (1 - gen).clip(0, 1)


def _add_panel(fig, col: int, metric: str, g: pd.Series, c: pd.Series, bad: pd.Series) -> None:
    import plotly.graph_objects as go

    scopes = list(g.index)
    fig.add_trace(go.Bar(y=scopes, x=g, orientation="h", name="generated", showlegend=False,
                         marker=dict(color=bad.fillna(0.5), colorscale="RdYlGn_r", cmin=0, cmax=1),
                         hovertemplate="%{y}: %{x:.3f}<extra>generated</extra>"), row=1, col=col)
    fig.add_trace(go.Scatter(y=scopes, x=c, mode="markers", name="control (real vs real)", showlegend=col == 1,
                             marker=dict(symbol="diamond", size=10, color="#555555", line=dict(width=1, color="white")),
                             hovertemplate="%{y}: %{x:.3f}<extra>control</extra>"), row=1, col=col)
    if metric == "rf_auroc":
        fig.add_vline(x=0.5, line_dash="dash", line_color="#2ca02c", row=1, col=col)
        fig.update_xaxes(range=[0.4, 1.02], tickvals=[0.5, 0.75, 1.0], row=1, col=col)
    if metric == "label_fidelity":
        fig.update_xaxes(range=[0, 1.02], row=1, col=col)


def evaluation_figure(table: pd.DataFrame):
    """Generated (bars, green = good … red = bad) next to the real-vs-real control (grey diamonds), per scope."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    gen = table[table["set"] == "generated"].set_index("scope")
    ctl = table[table["set"] == "control"].set_index("scope")
    scopes = list(gen.index)
    panels = [(k, t) for k, t in PANELS if k in gen and gen[k].notna().any()]
    fig = make_subplots(rows=1, cols=len(panels), shared_yaxes=True, subplot_titles=[t for _, t in panels],
                        horizontal_spacing=0.04)
    ctl_all = float(ctl.loc["all", "mmd2"]) if "all" in ctl.index and "mmd2" in ctl else np.nan
    for j, (k, _) in enumerate(panels, start=1):
        g = gen[k].reindex(scopes).astype(float)
        c = ctl[k].reindex(scopes).astype(float) if k in ctl else pd.Series(np.nan, index=scopes)
        _add_panel(fig, j, k, g, c, badness(k, g, c, ctl_all))
    # legend swatches: a neutral bar for 'generated' (its bars are coloured by how far from real they are)
    fig.add_trace(go.Bar(x=[None], y=[None], orientation="h", name="generated (green = close to real, red = far)",
                         marker_color="#66bb6a"), row=1, col=1)
    fig.update_yaxes(autorange="reversed", automargin=True)
    fig.update_layout(height=max(300, 100 + 28 * len(scopes)), margin=dict(l=10, r=10, t=60, b=40),
                      legend=dict(orientation="h", y=-0.12, yanchor="top", x=0), barmode="overlay",
                      plot_bgcolor="white")
    fig.update_xaxes(showgrid=True, gridcolor="#eeeeee")
    return fig
