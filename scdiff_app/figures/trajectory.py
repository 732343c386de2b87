"""A trajectory on the reference map (with a client-side λ slider), gene trends and predicted labels along λ."""
from __future__ import annotations

import numpy as np
import pandas as pd

from scdiff_core.trajectory.summaries import label_shares, trajectory_means

from ..bundle import Bundle
from .animation import add_frame_controls
from .style import palette, small_layout, umap_layout
from .umap import reference_traces

_MOVING = 3  # index of the trace the slider's frames replace: the cells at the chosen λ


def _path_traces(a, lam: np.ndarray, means: np.ndarray) -> list:
    """Trajectory cells coloured by λ, the path of per-λ means with arrows, the cells of the first λ."""
    import plotly.graph_objects as go

    xy = a.obsm["X_umap_ref"]
    first = a.obs["point"].to_numpy() == 0
    return [
        go.Scattergl(x=xy[:, 0], y=xy[:, 1], mode="markers", name="trajectory cells",
                     marker=dict(size=4, color=a.obs["lambda"].to_numpy(), colorscale="Viridis", cmin=0, cmax=1,
                                 opacity=0.45, colorbar=dict(title="λ", thickness=12, len=0.6)),
                     hovertemplate="λ=%{marker.color:.2f}<extra></extra>"),
        go.Scatter(x=means[:, 0], y=means[:, 1], mode="lines+markers", name="mean path (start → end)",
                   line=dict(color="#222222", width=2),
                   marker=dict(symbol="arrow", angleref="previous", size=13, color="#222222"),
                   customdata=lam, hovertemplate="mean at λ=%{customdata:.2f}<extra></extra>"),
        go.Scattergl(x=xy[first, 0], y=xy[first, 1], mode="markers", name="cells at the slider's λ",
                     marker=dict(size=7, color="#d62728", line=dict(width=0.5, color="white"))),
    ]


def _add_slider(fig, a, lam: np.ndarray) -> None:
    """Frames (the cells of each λ), a λ slider and play / pause buttons, all client-side."""
    import plotly.graph_objects as go

    xy = a.obsm["X_umap_ref"]
    pts = a.obs["point"].to_numpy()
    names = [f"{lv:.2f}" for lv in lam]
    frames = [go.Frame(name=name, traces=[_MOVING], data=[go.Scattergl(x=xy[pts == k, 0], y=xy[pts == k, 1])])
              for k, name in enumerate(names)]
    add_frame_controls(fig, frames, names, prefix="λ = ")


def trajectory_figure(bundle: Bundle, rec: dict):
    """Training cells (grey), trajectory cells coloured by λ, the path of per-λ means with arrows,
    and a λ slider / play button (client-side plotly frames: moving it does not rerun the app)."""
    import plotly.graph_objects as go

    a, p = rec["adata"], rec["params"]
    lam, means = trajectory_means(a)
    fig = go.Figure()
    fig.add_trace(reference_traces(bundle, None, opacity=0.3)[0])
    for t in _path_traces(a, lam, means):
        fig.add_trace(t)
    for (x, y), text, shift in ((means[0], f"start: {p['start']}", -30), (means[-1], f"end: {p['end']}", 30)):
        fig.add_annotation(x=x, y=y, text=text, showarrow=True, arrowhead=0, ax=shift, ay=shift,
                           bgcolor="rgba(255,255,255,0.8)")
    _add_slider(fig, a, lam)
    umap_layout(fig, f"{rec['name'].split(' ')[0]}: {p['start']} → {p['end']} on the reference UMAP "
                     f"(cells placed on the map, coloured by λ)", height=620)
    return fig


def trend_figure(lam: np.ndarray, means: pd.DataFrame, genes: list[str]):
    """Mean expression of ``genes`` per λ (from :func:`scdiff_core.trajectory.summaries.gene_trends`)."""
    import plotly.graph_objects as go

    fig = go.Figure()
    colors = palette(len(genes))
    for i, g in enumerate(genes):
        fig.add_trace(go.Scatter(x=lam, y=means[g], mode="lines+markers", name=g, line=dict(color=colors[i])))
    small_layout(fig, "Gene trends along the trajectory", xaxis_title="λ (0 = start, 1 = end)",
                 yaxis_title="mean log-normalized expression")
    return fig


def label_share_figure(a, col: str, start: str, end: str):
    """Share of cells whose predicted label is the start / end value, per λ."""
    import plotly.graph_objects as go

    shares = label_shares(a, col, [start, end])
    lam = shares.index.to_numpy()
    fig = go.Figure()
    for v, color in ((start, "#440154"), (end, "#21918c")):
        fig.add_trace(go.Scatter(x=lam, y=shares[v], mode="lines+markers", name=f"predicted {v}",
                                 line=dict(color=color)))
    fig.add_trace(go.Scatter(x=lam, y=shares["other"], mode="lines", name="other",
                             line=dict(color="#aaaaaa", dash="dot")))
    small_layout(fig, f"Predicted {col} along the trajectory", xaxis_title="λ", yaxis_title="share of cells",
                 yaxis_range=[0, 1])
    return fig
