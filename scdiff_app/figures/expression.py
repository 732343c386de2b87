"""Expression of chosen genes: generated sets next to real cells."""
from __future__ import annotations

import numpy as np

from .style import set_color


def expression_figure(recs: list[dict], genes: list[str], real=None, real_name: str = "real (held-out test)",
                      colors: dict[str, str] | None = None):
    """Box plots of log-normalized expression per gene: generated sets (and real cells)."""
    import plotly.graph_objects as go

    fig = go.Figure()
    colors = colors or {}
    groups = [(r["name"], r["adata"], colors.get(r["id"], set_color(i))) for i, r in enumerate(recs)]
    if real is not None:
        groups = [(real_name, real, "#17a2b8")] + groups
    for name, a, color in groups:
        idx = [list(a.var_names).index(g) for g in genes]
        X = np.asarray(a.X[:, idx])
        xs = np.repeat(np.array(genes, dtype=object), X.shape[0]).reshape(len(genes), -1).T.ravel()
        fig.add_trace(go.Box(x=xs, y=X.ravel(), name=name[:40], marker_color=color, boxpoints=False))
    fig.update_layout(boxmode="group", height=360, margin=dict(l=10, r=10, t=30, b=10),
                      yaxis_title="log-normalized expression", legend=dict(orientation="h", y=-0.2),
                      title=dict(text="Expression of chosen genes", font=dict(size=14)))
    return fig
