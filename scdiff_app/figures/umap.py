"""Training cells and generated sets on the reference UMAP, or on a joint re-embedding."""
from __future__ import annotations

import numpy as np
import streamlit as st

from ..bundle import Bundle
from .style import SET_SYMBOLS, palette, set_color, umap_layout

PROJECTION_NOTE = ("Generated cells are **placed** on the stored reference UMAP of the training cells as UMAP's "
                   "own *transform* places new cells, not re-embedded: each starts at the mean position of its 15 "
                   "nearest training cells in PCA space (PCA fitted on training cells) and is then pulled towards "
                   "them and pushed from others on the fixed map, so a cell that resembles one cluster more ends "
                   "there rather than in the empty space between clusters. Fast and stable, but it can only "
                   "place a cell *near* real cells.")
JOINT_HINT = " Choose **joint re-embedding** above for the honest view."
JOINT_NOTE = ("Joint re-embedding: UMAP refitted on the training cells together with the shown generated "
              "cells (same PCA). Takes a few seconds; coordinates differ from the stored reference map.")


def reference_traces(bundle: Bundle, color_by: str | None, coords: np.ndarray | None = None,
                     opacity: float = 0.5, grey: bool = False, **more) -> list:
    """Scattergl traces of the training cells on the reference (or given) coordinates; each point's
    ``customdata`` is its position in the stored reference. ``more``: further trace settings."""
    import plotly.graph_objects as go

    xy = bundle.model.reference["umap"] if coords is None else coords
    pos = np.arange(len(xy))  # customdata: each cell's position in the reference (what a selection returns)
    if grey or color_by is None:
        return [go.Scattergl(x=xy[:, 0], y=xy[:, 1], mode="markers", name="training cells", customdata=pos,
                             marker=dict(size=4, color="#9a9a9a", opacity=opacity), hoverinfo="skip", **more)]
    labels = bundle.ref_labels(color_by)
    vocab = bundle.vocab[color_by]
    cols = palette(len(vocab))
    traces = []
    for i, v in enumerate(vocab):
        sel = labels == v
        if not sel.any():
            continue
        traces.append(go.Scattergl(
            x=xy[sel, 0], y=xy[sel, 1], mode="markers", name=str(v), legendgroup="ref", customdata=pos[sel],
            legendgrouptitle_text=f"training cells by {color_by}",
            marker=dict(size=5, color=cols[i], opacity=opacity),
            hovertemplate=f"{color_by}: {v}<extra>training</extra>"))
    return traces


def generated_opacity(n_cells: int) -> float:
    """Markers fade as sets grow (0.6 up to 1,000 cells, then ∝ 1/√n, at least 0.2): dense sets stay readable."""
    return float(max(0.2, min(0.6, 0.6 * (1000 / max(n_cells, 1)) ** 0.5)))


def generated_trace(rec: dict, i: int, coords: np.ndarray | None = None, **more):
    """The i-th shown result's cells, with their predicted labels on hover."""
    import plotly.graph_objects as go

    a = rec["adata"]
    xy = a.obsm["X_umap_ref"] if coords is None else coords
    pred_cols = [c for c in a.obs.columns if c.startswith("predicted_")]
    text = None
    if pred_cols:
        text = a.obs[pred_cols].astype(str).agg(" · ".join, axis=1).to_numpy()
    return go.Scattergl(
        x=xy[:, 0], y=xy[:, 1], mode="markers", name=rec["name"], legendgroup="gen",
        legendgrouptitle_text="generated (placed)" if coords is None else "generated (joint UMAP)",
        marker=dict(size=5, color=set_color(i), symbol=SET_SYMBOLS[i % len(SET_SYMBOLS)],
                    opacity=generated_opacity(a.n_obs), line=dict(width=0.5, color="white")),
        text=text,
        hovertemplate=None if text is None else "predicted: %{text}<extra>" + rec["name"][:40] + "</extra>", **more)


def umap_figure(bundle: Bundle, recs: list[dict], color_by: str | None, joint: dict | None = None):
    """Reference cells (dimmed, coloured by ``color_by``) with generated sets overlaid."""
    import plotly.graph_objects as go

    fig = go.Figure()
    ref_xy = joint["ref"] if joint else None
    for t in reference_traces(bundle, color_by, ref_xy):
        fig.add_trace(t)
    for i, r in enumerate(recs):
        fig.add_trace(generated_trace(r, i, joint["new"][r["id"]] if joint else None))
    title = ("Joint re-embedding: UMAP refitted on training + generated cells" if joint else
             "Reference UMAP of the training cells; generated cells placed as UMAP's transform does (15 nearest in PCA space)")
    umap_layout(fig, title)
    return fig


def panels_figure(bundle: Bundle, recs: list[dict], joint: dict | None = None, columns: int = 2):
    """Small multiples: one panel per set over the same grey training cells, all axes shared."""
    import plotly.graph_objects as go  # noqa: F401
    from plotly.subplots import make_subplots

    n = max(len(recs), 1)
    cols = min(columns, n)
    rows = -(-n // cols)
    fig = make_subplots(rows=rows, cols=cols, shared_xaxes="all", shared_yaxes="all",
                        horizontal_spacing=0.02, vertical_spacing=0.06,
                        subplot_titles=[r["name"] for r in recs] or ["training cells"])
    ref_xy = joint["ref"] if joint else None
    for k, r in enumerate(recs or [None]):
        cell = dict(row=k // cols + 1, col=k % cols + 1)
        for t in reference_traces(bundle, None, ref_xy, opacity=0.35, grey=True, showlegend=False):
            fig.add_trace(t, **cell)
        if r is not None:
            fig.add_trace(generated_trace(r, k, joint["new"][r["id"]] if joint else None, showlegend=False), **cell)
    umap_layout(fig, "One panel per set, over the same training cells (grey); axes shared",
                height=max(360, 330 * rows))
    fig.update_annotations(font_size=11)
    fig.update_xaxes(title=None)  # one axis title per side of the grid, not one per panel
    fig.update_yaxes(title=None)
    fig.update_xaxes(title="UMAP 1", row=rows)
    fig.update_yaxes(title="UMAP 2", col=1)
    return fig


def joint_embedding(bundle: Bundle, recs: list[dict]) -> dict:
    """Refit UMAP on training + the given generated cells (cached per session by set ids).

    Returns ``{'ref': training cells' coordinates, 'new': {record id: its cells' coordinates}}``.
    """
    key = ("joint", bundle.key, tuple(r["id"] for r in recs))
    cache = st.session_state.setdefault("_joint", {})
    if key in cache:
        return cache[key]
    import warnings

    from scdiff_core.embedding import joint_umap

    m = bundle.model
    new = [m.reference_map.pcs(np.asarray(r["adata"].X)) for r in recs]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref, both = joint_umap(m.reference["pcs"], np.vstack(new))
    out, k = {"ref": ref, "new": {}}, 0
    for r, p in zip(recs, new):
        out["new"][r["id"]] = both[k:k + len(p)]
        k += len(p)
    cache.clear()  # keep one joint embedding per session
    cache[key] = out
    return out


GENE_OPTION = "a gene…"
"""The 'Colour training cells by' entry that colours the map by a gene's expression."""


def gene_figure(bundle: Bundle, recs: list[dict], gene: str, ref_values: np.ndarray, joint: dict | None = None):
    """Training and generated cells coloured by one gene's log-normalized expression (one shared scale);
    generated sets keep their symbols and an outline in their set colour."""
    import plotly.graph_objects as go

    xy = bundle.model.reference["umap"] if joint is None else joint["ref"]
    gen = [np.asarray(r["adata"][:, gene].X).ravel() for r in recs]
    hi = float(max([np.quantile(ref_values, 0.99)] + [np.quantile(g, 0.99) for g in gen if len(g)]) or 1.0)
    scale = dict(colorscale="Viridis", cmin=0.0, cmax=hi)
    fig = go.Figure(go.Scattergl(
        x=xy[:, 0], y=xy[:, 1], mode="markers", name=f"training cells ({gene})", customdata=np.arange(len(xy)),
        marker=dict(size=4, color=ref_values, opacity=0.6, colorbar=dict(title=gene, thickness=12, len=0.6), **scale),
        hovertemplate=f"{gene}: %{{marker.color:.2f}}<extra>training</extra>"))
    for i, (r, v) in enumerate(zip(recs, gen)):
        pos = r["adata"].obsm["X_umap_ref"] if joint is None else joint["new"][r["id"]]
        fig.add_trace(go.Scattergl(
            x=pos[:, 0], y=pos[:, 1], mode="markers", name=r["name"],
            marker=dict(size=6, color=v, symbol=SET_SYMBOLS[i % len(SET_SYMBOLS)], opacity=0.8,
                        line=dict(width=1, color=set_color(i)), **scale),
            hovertemplate=f"{gene}: %{{marker.color:.2f}}<extra>" + r["name"][:40] + "</extra>"))
    umap_layout(fig, f"{gene} expression (log-normalized): training cells and generated sets on one scale")
    return fig
