"""A volcano plot of marker genes (scdiff_core.markers.rank_markers)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from .style import small_layout


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
    top = df.assign(_y=y).loc[np.asarray(up | down)].nlargest(n_labels, "_y")
    fig.add_trace(go.Scatter(x=top["log2_fold_change"], y=top["_y"], mode="text", text=top["gene"],
                             textposition="top center", textfont=dict(size=10), showlegend=False, hoverinfo="skip"))
    for v in (-min_lfc, min_lfc):
        fig.add_vline(x=v, line=dict(color="#999", width=1, dash="dot"))
    fig.add_hline(y=-np.log10(alpha), line=dict(color="#999", width=1, dash="dot"))
    small_layout(fig, "Marker genes: Wilcoxon rank-sum, Benjamini-Hochberg", height=420,
                 xaxis_title=f"log2 fold change ({name_a[:25]} over {name_b[:25]})",
                 yaxis_title="−log10 adjusted p", plot_bgcolor="white",
                 legend=dict(orientation="h", y=-0.2, font=dict(size=11)))
    return fig
