"""The denoising movie on the reference map: the cells' predicted clean states x̂_0, step by step."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from ..bundle import Bundle
from .animation import add_frame_controls
from .style import set_color, umap_layout
from .umap import reference_traces


def frame_label(movie, k: int) -> str:
    """'step 12 / 50 · noise 0.71', or 'generated cells' for the last frame."""
    if movie.timesteps[k] < 0:
        return "generated cells"
    return f"step {k + 1} / {movie.n_frames - 1} · noise {movie.noise[k]:.2f}"


def denoising_figure(bundle: Bundle, movies: Sequence[tuple[str, object]], title: str, color_by: str | None = None):
    """Training cells (coloured by ``color_by``, or grey), and for each ``(name, movie)`` its cells at
    the slider's frame; a slider and play / pause over the frames (client-side).

    All movies must have the same frames (same steps), as two runs from the same seed do.
    """
    import plotly.graph_objects as go

    fig = go.Figure()
    ref = reference_traces(bundle, color_by, opacity=0.35, grey=color_by is None)
    for t in ref:
        fig.add_trace(t)
    moving = list(range(len(ref), len(ref) + len(movies)))
    first = movies[0][1]
    for i, (name, mv) in enumerate(movies):
        xy = mv.xy[0]
        fig.add_trace(go.Scattergl(x=xy[:, 0], y=xy[:, 1], mode="markers", name=name,
                                   marker=dict(size=6, color=set_color(i + 1), opacity=0.55,
                                               line=dict(width=0.4, color="white")), hoverinfo="skip"))
    labels = [frame_label(first, k) for k in range(first.n_frames)]
    frames = [go.Frame(name=lab, traces=moving,
                       data=[go.Scattergl(x=mv.xy[k][:, 0], y=mv.xy[k][:, 1]) for _, mv in movies])
              for k, lab in enumerate(labels)]
    add_frame_controls(fig, frames, labels, prefix="", duration=180)
    umap_layout(fig, title, height=620)
    xy_all = np.concatenate([bundle.model.reference["umap"]] + [mv.xy.reshape(-1, 2) for _, mv in movies])
    lo, hi = np.percentile(xy_all, [0.5, 99.5], axis=0)
    pad = 0.05 * (hi - lo)
    fig.update_xaxes(range=[lo[0] - pad[0], hi[0] + pad[0]])  # fixed axes: the cells move, the map stays
    fig.update_yaxes(range=[lo[1] - pad[1], hi[1] + pad[1]])
    return fig


def noise_figure(movie):
    """Noise level √(1 − ᾱ_t) of each frame: how much of x_t is still noise."""
    import plotly.graph_objects as go

    from .style import small_layout

    k = np.arange(1, movie.n_frames + 1)
    fig = go.Figure(go.Scatter(x=k, y=movie.noise, mode="lines+markers", line=dict(color="#444444"),
                               hovertemplate="frame %{x}: noise %{y:.2f}<extra></extra>"))
    small_layout(fig, "Noise left in the cells at each frame", height=260)
    fig.update_xaxes(title="frame (sampler step)")
    fig.update_yaxes(title="noise level", range=[0, 1.05])
    return fig
