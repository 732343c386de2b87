"""A model card's figures: training loss curves and training cells per condition value."""
from __future__ import annotations

import numpy as np

from .style import palette


def training_curves_figure(cfg: dict):
    """Loss curves of every training stage recorded in config.json (log scale), or None if none are."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    tr = cfg.get("training") or {}
    stages = [(k, v["loss_curve"]) for k, v in tr.items() if isinstance(v, dict) and v.get("loss_curve")]
    if not stages:
        return None
    fig = make_subplots(rows=1, cols=len(stages), subplot_titles=[k.replace("_", " ") for k, _ in stages],
                        horizontal_spacing=0.06)
    colors = palette(len(stages))
    for j, (k, curve) in enumerate(stages, start=1):
        arr = np.asarray(curve, dtype=float)
        fig.add_trace(go.Scatter(x=arr[:, 0], y=arr[:, 1], mode="lines", name=k, showlegend=False,
                                 line=dict(color=colors[j - 1])), row=1, col=j)
        if np.all(arr[:, 1] > 0):
            fig.update_yaxes(type="log", row=1, col=j)
        fig.update_xaxes(title_text="step" if k != "autoencoder" else "iteration", row=1, col=j)
    fig.update_layout(height=260, margin=dict(l=10, r=10, t=40, b=10))
    fig.update_annotations(font_size=12)
    return fig


def counts_figure(cfg: dict, col: str):
    """Training cells per value of a condition column (horizontal bars)."""
    import plotly.graph_objects as go

    counts = (cfg.get("counts") or {}).get(col) or {}
    vals = list(counts)
    fig = go.Figure(go.Bar(x=[counts[v] for v in vals], y=vals, orientation="h", marker_color="#4c78a8",
                           hovertemplate="%{y}: %{x} cells<extra></extra>"))
    fig.update_layout(height=max(160, 40 + 18 * len(vals)), margin=dict(l=10, r=10, t=30, b=10),
                      title=dict(text=f"{col}: cells per value", font=dict(size=13)), yaxis=dict(autorange="reversed"))
    return fig
