"""Colours, markers and layouts shared by the app's figures."""
from __future__ import annotations

SET_COLORS = ["#111111", "#d62728", "#1f3fb4", "#ff7f0e", "#2ca02c", "#8c2d9c", "#7f5320", "#e377c2"]
SET_SYMBOLS = ["diamond", "circle", "square", "triangle-up", "cross", "x", "star", "hexagon"]


def plot_config(name: str) -> dict:
    """The ``config`` of every ``st.plotly_chart``: no logo, and the camera button saves an **SVG**
    (vector: figures for papers) named ``scdiff_<name>.svg``, at twice the shown size for bitmaps
    made from it."""
    safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in str(name)) or "figure"
    return {"displaylogo": False,
            "toImageButtonOptions": {"format": "svg", "filename": f"scdiff_{safe}", "scale": 2}}


def palette(n: int) -> list[str]:
    """``n`` distinct colours (repeating beyond the qualitative palettes' length)."""
    import plotly.express as px

    base = px.colors.qualitative.Plotly + px.colors.qualitative.D3 + px.colors.qualitative.Alphabet
    return [base[i % len(base)] for i in range(n)]


def set_color(i: int) -> str:
    """The colour of the i-th result shown."""
    return SET_COLORS[i % len(SET_COLORS)]


TITLE_CHARS = 58
"""Map titles wrap at this many characters: a longer line runs under plotly's toolbar (top right)."""


def wrap_title(title: str, width: int = TITLE_CHARS) -> tuple[str, int]:
    """(the title with ``<br>`` line breaks, its number of lines)."""
    import textwrap

    lines = textwrap.wrap(title, width) or [""]
    return "<br>".join(lines), len(lines)


def umap_layout(fig, title: str, height: int = 560) -> None:
    """A map without ticks, a white background and a layout kept across reruns; the title wrapped so
    that it stays clear of the toolbar."""
    text, n = wrap_title(title)
    fig.update_layout(title=dict(text=text, font=dict(size=14), x=0, xanchor="left", xref="paper", y=1,
                                 yanchor="bottom", yref="paper", pad=dict(b=6)),
                      height=height, margin=dict(l=10, r=10, t=16 + 19 * n, b=10),
                      legend=dict(itemsizing="constant", font=dict(size=11)), uirevision="keep",
                      plot_bgcolor="white", hovermode="closest")
    fig.update_xaxes(showticklabels=False, title="UMAP 1", showgrid=False, zeroline=False)
    fig.update_yaxes(showticklabels=False, title="UMAP 2", showgrid=False, zeroline=False)


def small_layout(fig, title: str, height: int = 340, **more) -> None:
    """The layout of the small charts beside the maps."""
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=35, b=10), title=dict(text=title, font=dict(size=14)),
                      **more)
