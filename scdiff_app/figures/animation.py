"""Client-side animation controls shared by the app's animated maps: a slider over plotly frames and
play / pause buttons (moving them does not rerun the app)."""
from __future__ import annotations

from typing import Sequence

ANIMATE_NOW = dict(mode="immediate", frame=dict(duration=0, redraw=True), transition=dict(duration=0))


def add_frame_controls(fig, frames: Sequence, labels: Sequence[str], *, prefix: str, duration: int = 450) -> None:
    """Attach ``frames`` (plotly ``go.Frame`` named by ``labels``) with a slider and play / pause.

    The buttons (one row) and the slider (below them, full width) take separate bands under the
    plot, so they cannot overlap at any width (at 800 px a slider beside stacked buttons ran into them).
    """
    fig.frames = list(frames)
    steps = [dict(method="animate", label=lab, args=[[lab], ANIMATE_NOW]) for lab in labels]
    play = dict(label="▶ play", method="animate",
                args=[None, dict(frame=dict(duration=duration, redraw=True), fromcurrent=True,
                                 transition=dict(duration=0))])
    pause = dict(label="❚❚", method="animate", args=[[None], dict(mode="immediate", frame=dict(duration=0, redraw=True))])
    fig.update_layout(
        sliders=[dict(active=0, steps=steps, currentvalue=dict(prefix=prefix, xanchor="right"), pad=dict(t=62),
                      len=1.0, x=0.0, y=0, yanchor="top")],
        updatemenus=[dict(type="buttons", direction="right", showactive=False, x=0.0, y=0, xanchor="left",
                          yanchor="top", pad=dict(t=22), buttons=[play, pause])])
