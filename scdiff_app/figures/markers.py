"""A volcano plot of marker genes (scdiff_core.markers.rank_markers)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from .style import small_layout


LABEL_W, LABEL_H = 0.16, 0.07
"""A gene label's box as shares of the x span and the y span of the volcano (10 px text, ~420 px high)."""


def label_positions(px: np.ndarray, py: np.ndarray, xspan: float, yspan: float, iters: int = 200):
    """Places for labels near their points that do not overlap (a small repulsion in one dimension).

    Each label starts just above its point; two labels whose boxes (:data:`LABEL_W` × :data:`LABEL_H`
    of the spans) overlap are pushed apart vertically, half the overlap each, until none does.
    Returns (label x, label y), in data units.
    """
    lx = np.asarray(px, float).copy()
    ly = np.asarray(py, float) + 0.5 * LABEL_H * yspan
    w, h = LABEL_W * xspan, LABEL_H * yspan
    for _ in range(iters):
        moved = False
        order = np.argsort(ly)
        for a in range(len(order)):
            for b in range(a + 1, len(order)):
                i, j = order[a], order[b]
                if abs(lx[i] - lx[j]) < w and abs(ly[i] - ly[j]) < h:
                    push = (h - abs(ly[j] - ly[i])) / 2 + 1e-9 * yspan
                    ly[i] -= push
                    ly[j] += push
                    moved = True
        if not moved:
            break
    return lx, ly


def volcano_figure(df: pd.DataFrame, name_a: str, name_b: str, alpha: float = 0.05, min_lfc: float = 1.0,
                   n_labels: int = 8):
    """log2 fold change (a over b) against −log10 adjusted p; genes past both thresholds coloured, the
    strongest named."""
    import plotly.graph_objects as go

    y = -np.log10(np.clip(df["p_adjusted"].to_numpy(float), 1e-300, 1.0))
    x = df["log2_fold_change"].to_numpy(float)
    up = (df["p_adjusted"] < alpha) & (x >= min_lfc)
    down = (df["p_adjusted"] < alpha) & (x <= -min_lfc)
    fig = go.Figure()
    for mask, name, color in ((~(up | down), "not significant", "#b0b0b0"), (up, f"up in {name_a[:30]}", "#d62728"),
                              (down, f"up in {name_b[:30]}", "#1f3fb4")):
        m = np.asarray(mask)
        fig.add_trace(go.Scattergl(x=x[m], y=y[m], mode="markers", name=name, text=df["gene"][m],
                                   marker=dict(size=6, color=color, opacity=0.8),
                                   hovertemplate="%{text}<br>log2 FC %{x:.2f}<br>−log10 p adj %{y:.1f}<extra></extra>"))
    sig = np.flatnonzero(np.asarray(up | down))
    if len(sig):
        xspan = float(np.ptp(x)) or 1.0
        yspan = float(y.max()) or 1.0
        score = y[sig] / yspan + np.abs(x[sig]) / xspan  # far out on both axes first
        top = sig[np.argsort(-score, kind="stable")[:n_labels]]
        lx, ly = label_positions(x[top], y[top], xspan, yspan)
        for i, k in enumerate(top):  # a label at (ax, ay), a thin line to its gene's point
            fig.add_annotation(x=x[k], y=y[k], ax=lx[i], ay=ly[i], axref="x", ayref="y", text=str(df["gene"].iloc[k]),
                               showarrow=True, arrowhead=0, arrowwidth=0.6, arrowcolor="#777",
                               font=dict(size=10), bgcolor="rgba(255,255,255,0.7)")
    for v in (-min_lfc, min_lfc):
        fig.add_vline(x=v, line=dict(color="#999", width=1, dash="dot"))
    fig.add_hline(y=-np.log10(alpha), line=dict(color="#999", width=1, dash="dot"))
    small_layout(fig, "Marker genes: Wilcoxon rank-sum, Benjamini-Hochberg", height=420,
                 xaxis_title=f"log2 fold change ({name_a[:25]} over {name_b[:25]})",
                 yaxis_title="−log10 adjusted p", plot_bgcolor="white",
                 legend=dict(orientation="h", y=-0.2, font=dict(size=11)))
    return fig
