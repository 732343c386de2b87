"""Figures for papers: any of the app's plotly figures drawn again by matplotlib as a vector PDF.

Plotly's own static export needs a browser process (kaleido), and its SVG keeps WebGL traces
(``Scattergl``, every map here) as bitmaps. The app's figures use a handful of trace types, so
they are redrawn here, trace by trace: scatter / scattergl (markers, lines, text), horizontal or
vertical bars and box plots, each on its subplot (from the layout's axis domains), with titles,
axis titles, legends and annotations. Animation frames are not exported: the figure as shown is.
"""
from __future__ import annotations

import io
import re

import numpy as np

_SYMBOLS = {"circle": "o", "diamond": "D", "square": "s", "triangle-up": "^", "triangle-down": "v", "cross": "P",
            "x": "X", "star": "*", "hexagon": "h", "circle-open": "o", "diamond-open": "D"}
_DASH = {"dash": "--", "dot": ":", "dashdot": "-.", "solid": "-", None: "-"}


def _text(s) -> str:
    """Plotly's title text without its HTML (``<br>`` becomes a new line, other tags go)."""
    if s is None:
        return ""
    s = re.sub(r"<br\s*/?>", "\n", str(s))
    return re.sub(r"<[^>]+>", "", s)


def _color(c, default="#444444"):
    """A matplotlib colour from a plotly one (names, #hex, rgb()/rgba() strings)."""
    if c is None:
        return default
    if isinstance(c, str):
        m = re.match(r"rgba?\(([^)]*)\)", c.replace(" ", ""))
        if m:
            parts = [float(p) for p in m.group(1).split(",")]
            rgb = [p / 255 for p in parts[:3]]
            return (*rgb, parts[3]) if len(parts) == 4 else tuple(rgb)
        return c
    return default


def _axes_for(fig, mfig) -> dict[str, object]:
    """One matplotlib Axes per plotly (xaxis, yaxis) pair, placed at the layout's domains."""
    lay = fig.layout
    pairs = {(getattr(t, "xaxis", None) or "x", getattr(t, "yaxis", None) or "y") for t in fig.data} or {("x", "y")}
    axes = {}
    for xa, ya in sorted(pairs):
        xl = lay[f"xaxis{xa[1:]}"] if xa != "x" else lay.xaxis
        yl = lay[f"yaxis{ya[1:]}"] if ya != "y" else lay.yaxis
        xd = list(xl.domain) if xl.domain is not None else [0.0, 1.0]
        yd = list(yl.domain) if yl.domain is not None else [0.0, 1.0]
        left, bottom = 0.08 + 0.84 * xd[0], 0.1 + 0.78 * yd[0]
        ax = mfig.add_axes([left, bottom, 0.84 * (xd[1] - xd[0]) - 0.02, 0.78 * (yd[1] - yd[0]) - 0.02])
        ax.set_xlabel(_text(xl.title.text) if xl.title else "", fontsize=8)
        ax.set_ylabel(_text(yl.title.text) if yl.title else "", fontsize=8)
        if xl.showticklabels is False:
            ax.set_xticks([])
        if yl.showticklabels is False:
            ax.set_yticks([])
        ax.tick_params(labelsize=7)
        if xl.range is not None:
            ax.set_xlim(*xl.range)
        if yl.range is not None:
            ax.set_ylim(*yl.range)
        axes[(xa, ya)] = ax
    return axes


def _scatter(ax, t) -> None:
    x, y = np.asarray(t.x if t.x is not None else [], dtype=object), np.asarray(t.y if t.y is not None else [],
                                                                                   dtype=object)
    if not len(x):
        return
    x = np.asarray([np.nan if v is None else v for v in x], dtype=float)
    y = np.asarray([np.nan if v is None else v for v in y], dtype=float)
    mode = t.mode or "markers"
    label = _text(t.name) if t.showlegend is not False and t.name else None
    alpha = t.opacity if t.opacity is not None else 1.0
    if "lines" in mode:
        ln = t.line
        ax.plot(x, y, color=_color(ln.color if ln else None), lw=(ln.width or 1.5) * 0.6 if ln else 1.0,
                ls=_DASH.get(ln.dash if ln else None, "-"), alpha=alpha, label=label if "markers" not in mode else None)
    if "markers" in mode:
        mk = t.marker
        c = mk.color if mk is not None else None
        size = mk.size if mk is not None and mk.size is not None else 6
        size = np.asarray(size, dtype=float) if not np.isscalar(size) else float(size)
        kw = dict(s=(np.asarray(size) * 0.6) ** 2, alpha=(mk.opacity if mk is not None and mk.opacity is not None
                                                        and np.isscalar(mk.opacity) else alpha),
                  marker=_SYMBOLS.get(mk.symbol if mk is not None and isinstance(mk.symbol, str) else "circle", "o"),
                  linewidths=0, label=label, rasterized=False)
        if c is not None and not isinstance(c, str) and len(np.atleast_1d(c)) == len(x):
            vals = np.asarray(c)
            if vals.dtype.kind in "fiu":
                sc = ax.scatter(x, y, c=vals.astype(float), cmap="viridis", **kw)
                if mk.showscale:
                    cb = ax.figure.colorbar(sc, ax=ax, fraction=0.04)
                    cb.ax.tick_params(labelsize=7)
            else:
                ax.scatter(x, y, c=[_color(v) for v in vals], **kw)
        else:
            ax.scatter(x, y, color=_color(c), **kw)
    if "text" in mode and t.text is not None:
        for xi, yi, s in zip(x, y, np.atleast_1d(t.text)):
            ax.annotate(_text(s), (xi, yi), fontsize=6)


def _bar(ax, t) -> None:
    x, y = list(t.x if t.x is not None else []), list(t.y if t.y is not None else [])
    keep = [i for i in range(min(len(x), len(y))) if x[i] is not None and y[i] is not None]
    if not keep:
        return
    c = t.marker.color if t.marker is not None else None
    cols = [_color(c[i]) for i in keep] if c is not None and not isinstance(c, str) else _color(c, "#4c78a8")
    label = _text(t.name) if t.showlegend is not False and t.name else None
    if t.orientation == "h":
        ax.barh([str(y[i]) for i in keep], [float(x[i]) for i in keep], color=cols, label=label)
        ax.invert_yaxis()
    else:
        ax.bar([str(x[i]) for i in keep], [float(y[i]) for i in keep], color=cols, label=label)


def _box(ax, t, pos: int) -> None:
    y = np.asarray([v for v in (t.y if t.y is not None else []) if v is not None], dtype=float)
    if not len(y):
        return
    ax.boxplot([y], positions=[pos], widths=0.6, showfliers=False, patch_artist=True,
               boxprops=dict(facecolor=_color(t.marker.color if t.marker else None), alpha=0.6))
    ax.set_xticks(list(ax.get_xticks()) + [pos])


def figure_pdf(fig) -> bytes:
    """The plotly figure ``fig``, redrawn as a vector PDF (bytes)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    w = (fig.layout.width or 900) / 100
    h = (fig.layout.height or 560) / 100
    mfig = Figure(figsize=(max(w, 4), max(h, 3)))
    axes = _axes_for(fig, mfig)
    boxes = 0
    for t in fig.data:
        ax = axes.get((getattr(t, "xaxis", None) or "x", getattr(t, "yaxis", None) or "y"))
        if ax is None or t.visible is False:
            continue
        if t.type in ("scatter", "scattergl"):
            _scatter(ax, t)
        elif t.type == "bar":
            _bar(ax, t)
        elif t.type == "box":
            _box(ax, t, boxes)
            boxes += 1
    for a in fig.layout.annotations or ():
        ref = (a.xref or "paper", a.yref or "paper")
        if ref == ("paper", "paper"):  # subplot titles and notes
            mfig.text(0.08 + 0.84 * (a.x or 0), 0.1 + 0.78 * (a.y or 1) + 0.01, _text(a.text), fontsize=8,
                      ha="center" if (a.xanchor or "center") == "center" else a.xanchor)
        else:
            ax = axes.get((a.xref.replace(" domain", ""), a.yref.replace(" domain", "")))
            if ax is not None and a.x is not None and a.y is not None:
                ax.annotate(_text(a.text), (a.x, a.y), fontsize=6)
    if fig.layout.title and fig.layout.title.text:
        mfig.suptitle(_text(fig.layout.title.text), fontsize=10, x=0.08, ha="left")
    for ax in axes.values():
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=6, frameon=False, loc="best", markerscale=1.5)
    buf = io.BytesIO()
    mfig.savefig(buf, format="pdf")
    return buf.getvalue()
