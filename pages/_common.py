"""Shared helpers of the Streamlit app: checkpoints, cached models, session results, plots, jobs.

Imported by ``app.py`` and every page script (``from pages import _common as C``; the app's
folder is on ``sys.path`` under ``streamlit run`` and under pytest). The page scripts only lay
out widgets and call these helpers; all modelling is done by ``scdiff_core``.

Streamlit treats a ``pages/`` folder next to the entry script as a legacy multipage app until some
session has called ``st.navigation``; on a fresh server, a first request for a page URL would run
that page without app.py. :func:`_navigation_only` (run when this module is first imported)
switches that mode off and reruns, once per server process.

Sharing rules: objects returned by ``st.cache_resource`` (the loaded model, the label vote, the
held-out real cells) are shared by every browser session and are never modified; each session's
own results (generated sets, trajectories, evaluation reports) live in ``st.session_state``.
"""
from __future__ import annotations

import json
import logging
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd
import streamlit as st


def _navigation_only() -> None:
    """Leave Streamlit's legacy ``pages/`` mode: this app always navigates with st.navigation."""
    try:
        from streamlit.runtime.pages_manager import PagesManager
    except ImportError:  # pragma: no cover - older/newer Streamlit without the flag
        return
    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()  # this run was started in legacy mode; the rerun goes through app.py


_navigation_only()

ROOT = Path(__file__).resolve().parent.parent
LOG = logging.getLogger("scdiff.app")

#: torch threads of the app process. Measured on 2 cores (docs/benchmarks_app.md): one thread per
#: process is as fast as two when the machine is idle enough and far faster when anything else runs
#: (two sessions generating, a training job), because two threads per request oversubscribe 2 cores.
APP_THREADS = max(1, int(os.environ.get("SCDIFF_APP_THREADS", "1") or 1))
#: Largest request the app accepts (the library allows 100,000; the app keeps memory bounded).
MAX_APP_CELLS = 10_000
MAX_TRAJ_CELLS = 10_000
#: Results kept per browser session (generated sets, trajectories, uploads together); the oldest are
#: dropped beyond either bound, which keeps a session's memory to a few hundred MB at most.
MAX_SETS = 12
MAX_SESSION_CELLS = 20_000
ANY = "any"
PROJECTION_NOTE = ("Generated cells are **projected** onto the stored reference UMAP of the training cells, "
                   "not re-embedded: each is placed at the distance-weighted mean position of its 10 nearest "
                   "training cells in PCA space (PCA fitted on training cells). This is fast and stable, but it "
                   "can only place a cell *near* real cells.")
JOINT_HINT = " Choose **joint re-embedding** above for the honest view."
JOINT_NOTE = ("Joint re-embedding: UMAP refitted on the training cells together with the shown generated "
              "cells (same PCA). Takes a few seconds; coordinates differ from the stored reference map.")


# ============================================================================ settings / paths
def shipped_root() -> Path:
    return Path(os.environ.get("SCDIFF_CHECKPOINTS") or ROOT / "checkpoints").expanduser()


def user_root() -> Path:
    return Path(os.environ.get("SCDIFF_MODELS") or "~/.scdiff/models").expanduser()


def setup_torch() -> None:
    import torch

    if torch.get_num_threads() != APP_THREADS:
        torch.set_num_threads(APP_THREADS)


# ============================================================================ widget state across pages
_PERSIST = re.compile(r"^(g_|t_|gen_show_|ev_src$|ev_per_label$|ev_[0-9a-f]{6}_set$|mc_pick$"
                      r"|tr_(conds|name|preset|threads)$)")


def keep_widget_state() -> None:
    """Keep the pages' settings when the user switches pages.

    Streamlit drops the state of widgets that are not drawn in a run, so without this every page
    would forget its choices after a visit to another page. Re-assigning a key makes it ordinary
    session state (buttons and file uploaders, which cannot be assigned, are not matched).
    """
    for k in list(st.session_state.keys()):
        if isinstance(k, str) and _PERSIST.match(k):
            st.session_state[k] = st.session_state[k]


# ============================================================================ checkpoints
@dataclass(frozen=True)
class Ckpt:
    name: str
    path: str
    origin: str  # 'shipped' or 'yours'

    @property
    def label(self) -> str:
        return f"{self.name}  ({'shipped' if self.origin == 'shipped' else 'your models'})"


def find_checkpoints() -> list[Ckpt]:
    """Checkpoint folders (with a config.json) in the shipped folder, then in the user folder."""
    out: list[Ckpt] = []
    for root, origin in ((shipped_root(), "shipped"), (user_root(), "yours")):
        try:
            kids = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
        except OSError:
            continue
        for p in kids:
            if (p / "config.json").is_file():
                out.append(Ckpt(p.name, str(p.resolve()), origin))
    return out


def default_checkpoint(ckpts: list[Ckpt]) -> Ckpt | None:
    for c in ckpts:
        if c.origin == "shipped" and c.name == "pbmc68k":
            return c
    return ckpts[0] if ckpts else None


def _stamp(path: str) -> str:
    try:
        s = (Path(path) / "config.json").stat()
        return f"{s.st_mtime_ns}-{s.st_size}"
    except OSError:
        return "missing"


@st.cache_data(show_spinner=False, max_entries=64)
def _read_config_cached(path: str, stamp: str) -> dict | None:
    try:
        return json.loads((Path(path) / "config.json").read_text())
    except (OSError, ValueError):
        return None


def read_config(path: str) -> dict | None:
    """The checkpoint's config.json (no weights, no torch), or None if unreadable."""
    return _read_config_cached(path, _stamp(path))


def dataset_name(cfg: dict) -> str:
    src = (cfg.get("data") or {}).get("source")
    if isinstance(src, dict):
        src = src.get("source") or src.get("path")
    src = str(src or "?")
    return Path(src).name if ("/" in src or "\\" in src) else src


def short_summary(cfg: dict) -> dict:
    """A few facts from config.json for the sidebar and the model cards."""
    split = cfg.get("split") or {}
    return {"dataset": dataset_name(cfg), "cells_train": len(split.get("train", [])),
            "cells_val": len(split.get("val", [])), "cells_test": len(split.get("test", [])),
            "genes": len(cfg.get("genes", [])), "kind": (cfg.get("data") or {}).get("kind", "?"),
            "space": cfg.get("space", "latent"), "backbone": (cfg.get("backbone") or {}).get("name", "?"),
            "parameters": (cfg.get("backbone") or {}).get("parameters"),
            "conditions": list(cfg.get("conditions", [])),
            "n_values": {c: len(cfg.get("vocab", {}).get(c, [])) for c in cfg.get("conditions", [])},
            "minutes": ((cfg.get("training") or {}).get("seconds_total") or 0) / 60}


# ============================================================================ the loaded model
@dataclass
class Bundle:
    """A loaded checkpoint plus read-only helpers; shared by all sessions (never mutate)."""

    model: Any
    path: str
    key: str                               # identifies the checkpoint version in session results
    knn: Any = None                        # NearestNeighbors (k=15) on the reference PCs: the label vote
    load_seconds: float = 0.0

    @property
    def conditions(self) -> list[str]:
        return self.model.conditions

    @property
    def vocab(self) -> dict[str, list[str]]:
        return self.model.vocab

    @property
    def has_map(self) -> bool:
        return "umap" in self.model.reference and "pcs" in self.model.reference

    def ref_labels(self, col: str) -> np.ndarray:
        """Reference (training) cells' values of ``col`` as strings."""
        codes = self.model.reference[f"label_{col}"]
        return np.asarray(self.vocab[col], dtype=object)[codes]

    def predict(self, X: np.ndarray) -> pd.DataFrame:
        """Label vote of the 15 nearest training cells in PCA space, per condition column."""
        if self.knn is None or len(X) == 0:
            return pd.DataFrame(index=range(len(X)))
        idx = self.knn.kneighbors(self.model.reference_map.pcs(X), return_distance=False)  # (N, k), one query
        out = {}
        for col in self.conditions:
            vocab = self.vocab[col]
            votes = np.eye(len(vocab), dtype=np.int32)[self.model.reference[f"label_{col}"][idx]].sum(1)  # (N, V)
            out[f"predicted_{col}"] = np.asarray(vocab, dtype=object)[votes.argmax(1)]
        return pd.DataFrame(out)

    def training_count(self, request: dict[str, str | None]) -> int:
        """How many training cells of the stored reference have this combination."""
        ref = self.model.reference
        mask = np.ones(len(ref["umap"]), bool) if "umap" in ref else None
        if mask is None:
            return -1
        for c, v in request.items():
            if v not in (None, ANY):
                mask &= ref[f"label_{c}"] == self.vocab[c].index(v)
        return int(mask.sum())


@st.cache_resource(show_spinner=False, max_entries=4)
def _load_bundle(path: str, stamp: str) -> Bundle:
    setup_torch()
    from scdiff_core.model import SCDiffModel

    t0 = time.perf_counter()
    m = SCDiffModel.load(path)
    knn = None
    if "pcs" in m.reference:
        from sklearn.neighbors import NearestNeighbors

        pcs = m.reference["pcs"]
        knn = NearestNeighbors(n_neighbors=min(15, len(pcs))).fit(pcs)
    b = Bundle(m, path, f"{path}@{stamp}", knn)
    # Warm-up, so that the first click is not the one paying for lazy initialisation: a tiny
    # generation in both guidance modes (torch kernels, autograd for classifier guidance), the
    # projection onto the reference map (builds the neighbour index) and the label vote.
    try:
        a = m.generate({}, 8, steps=2, seed=0)
        if m.conditions and m.classifiers:
            c = m.conditions[0]
            m.generate({c: m.vocab[c][0]}, 8, guidance="classifier", steps=2, seed=0)
        if knn is not None:
            b.predict(a.X)
    except Exception:  # a warm-up problem must not block loading; the real call reports it
        LOG.warning("warm-up failed:\n%s", traceback.format_exc())
    b.load_seconds = time.perf_counter() - t0
    if os.environ.get("SCDIFF_APP_WARM_UMAP", "1") != "0":
        umap_warmup()
    return b


def load_bundle(path: str) -> Bundle:
    return _load_bundle(path, _stamp(path))


def _warm_umap(done: threading.Event) -> None:
    try:  # run below the priority of the request threads (Linux: per-thread nice value)
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 15)
    except (AttributeError, OSError):
        pass
    try:
        import warnings

        from scdiff_core.embedding import joint_umap

        x = np.random.default_rng(0).normal(size=(60, 5)).astype(np.float32)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            joint_umap(x[:40], x[40:])
    except Exception:
        LOG.warning("UMAP warm-up failed:\n%s", traceback.format_exc())
    finally:
        done.set()


@st.cache_resource(show_spinner=False)
def umap_warmup() -> threading.Event:
    """Compile UMAP's numba code once per process in a low-priority background thread."""
    done = threading.Event()
    threading.Thread(target=_warm_umap, args=(done,), name="umap-warmup", daemon=True).start()
    return done


def current_checkpoint() -> Ckpt | None:
    return st.session_state.get("_ckpt")


def require_model() -> Bundle:
    """The selected model (loaded once per process), or stop the page with a useful message."""
    ck = current_checkpoint()
    if ck is None:
        no_model_message()
        st.stop()
    try:
        with st.spinner(f"Loading model {ck.name}… (once per server; later pages reuse it)"):
            return load_bundle(ck.path)
    except Exception as e:
        from scdiff_core.errors import ScdiffError

        if isinstance(e, ScdiffError):
            st.error(f"The model **{ck.name}** could not be loaded: {e}")
        else:
            LOG.error("loading %s failed:\n%s", ck.path, traceback.format_exc())
            st.error(f"The model **{ck.name}** could not be loaded ({type(e).__name__}: {e}). "
                     f"Re-train it or restore the folder {ck.path}.")
        st.info("Pick another model in the sidebar, or train one on the **Models** page.")
        st.stop()


def no_model_message() -> None:
    st.info(f"**No trained model found yet.** The app looks for checkpoint folders in "
            f"`{shipped_root()}` (shipped models) and `{user_root()}` (your models; set "
            f"`SCDIFF_MODELS` to change it).\n\n"
            f"Train one on the **Models** page from an uploaded .h5ad, or from the shell:\n\n"
            f"```\nscdiff train --data pbmc68k --conditions bulk_labels,phase --out {user_root()}/pbmc68k\n```\n"
            f"then reload this page.")


# ============================================================================ errors
def run_safely(action: str, fn: Callable[[], Any]) -> tuple[bool, Any]:
    """Run ``fn``; show user errors with ``st.error`` (never a traceback). Returns (ok, result)."""
    from scdiff_core.errors import ScdiffError

    try:
        return True, fn()
    except ScdiffError as e:
        st.error(f"{action} failed: {e}")
    except MemoryError:
        st.error(f"{action} ran out of memory. Ask for fewer cells.")
    except Exception as e:
        LOG.error("%s failed:\n%s", action, traceback.format_exc())
        st.error(f"{action} failed unexpectedly ({type(e).__name__}: {e}). Your earlier results are kept; "
                 f"try other settings, or report this with the server log.")
    return False, None


# ============================================================================ progress
class Progress:
    """A ``progress(step, total)`` callback drawing an ``st.progress`` bar (throttled)."""

    def __init__(self, text: str):
        self.text = text
        self.bar = st.progress(0.0, text=text)
        self.last = 0.0
        self.t0 = time.perf_counter()

    def __call__(self, step: int, total: int) -> None:
        # Throttled (every 0.25 s at most): each update is a message the browser renders, and on 2 cores
        # the browser's work slows the generation down.
        now = time.perf_counter()
        if now - self.last >= 0.25 or step >= total:
            self.last = now
            self.bar.progress(min(1.0, step / max(1, total)), text=f"{self.text} — step {step}/{total}")

    def done(self) -> None:
        self.bar.empty()


# ============================================================================ session results
def results() -> dict[str, dict]:
    return st.session_state.setdefault("results", {})


def next_number(kind: str) -> int:
    k = f"_n_{kind}"
    st.session_state[k] = st.session_state.get(k, 0) + 1
    return st.session_state[k]


def add_result(rec: dict) -> None:
    """Keep a result (generated set, trajectory or upload) in this session; drop the oldest beyond MAX_SETS."""
    res = results()
    res[rec["id"]] = rec
    dropped = []
    def too_much() -> bool:
        return len(res) > MAX_SETS or sum(r["adata"].n_obs for r in res.values()) > MAX_SESSION_CELLS

    while len(res) > 1 and too_much():
        k = next(iter(res))
        dropped.append(res.pop(k)["name"])
    if dropped:
        st.toast(f"Dropped the oldest result(s) to keep this session's memory bounded "
                 f"({MAX_SETS} results / {MAX_SESSION_CELLS:,} cells at most): {', '.join(dropped)}")


def results_for(bundle: Bundle, kinds: tuple[str, ...]) -> list[dict]:
    return [r for r in results().values() if r["ckpt"] == bundle.key and r["kind"] in kinds]


def make_record(bundle: Bundle, adata, kind: str, name: str, params: dict) -> dict:
    """Attach reference-map positions and the label vote to a result."""
    if "X_umap_ref" not in adata.obsm and bundle.has_map:
        adata.obsm["X_umap_ref"] = bundle.model.reference_map.project(np.asarray(adata.X))
    pred = bundle.predict(np.asarray(adata.X))
    pred.index = adata.obs_names
    for c in pred.columns:
        adata.obs[c] = pd.Categorical(pred[c])
    rid = f"{kind}-{time.time_ns()}"
    return {"id": rid, "kind": kind, "name": name, "ckpt": bundle.key, "adata": adata, "params": params,
            "created": time.strftime("%H:%M:%S"), "seconds": float(adata.uns.get("scdiff", {}).get("seconds", 0.0))}


def request_label(req: dict[str, str | None]) -> str:
    vals = [v for v in req.values() if v not in (None, ANY)]
    return " · ".join(vals) if vals else "unconditioned"


# ============================================================================ downloads
def h5ad_bytes(adata) -> bytes:
    fd, tmp = tempfile.mkstemp(suffix=".h5ad")
    os.close(fd)
    try:
        out = adata.copy()
        for c in out.obs.columns:  # h5ad needs string categories
            if isinstance(out.obs[c].dtype, pd.CategoricalDtype):
                out.obs[c] = out.obs[c].astype(str).astype("category")
        out.write_h5ad(tmp)
        return Path(tmp).read_bytes()
    finally:
        os.unlink(tmp)


def csv_bytes(adata) -> bytes:
    """obs (conditions, predicted labels, λ), reference-map coordinates, then log-normalized expression."""
    df = adata.obs.copy()
    df.index.name = "cell"
    if "X_umap_ref" in adata.obsm:
        df["umap_ref_1"], df["umap_ref_2"] = adata.obsm["X_umap_ref"][:, 0], adata.obsm["X_umap_ref"][:, 1]
    X = pd.DataFrame(np.asarray(adata.X), index=adata.obs_names, columns=adata.var_names)
    return pd.concat([df, X.round(4)], axis=1).to_csv().encode()


def safe_filename(s: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", s).strip("_")[:80] or "cells"


def download_buttons(rec: dict, key: str) -> None:
    a = rec["adata"]
    base = safe_filename(rec["name"])
    c1, c2 = st.columns(2)
    c1.download_button("Download .h5ad", data=lambda: h5ad_bytes(a), file_name=f"{base}.h5ad",
                       mime="application/octet-stream", key=f"dl_h5_{key}", icon=":material/download:",
                       on_click="ignore")
    c2.download_button("Download CSV", data=lambda: csv_bytes(a), file_name=f"{base}.csv", mime="text/csv",
                       key=f"dl_csv_{key}", icon=":material/download:", on_click="ignore",
                       help="One row per cell: conditions, predicted labels, reference-map coordinates, "
                            "then log-normalized expression of every gene.")


# ============================================================================ uploads
def read_uploaded_h5ad(uploaded) -> Any:
    """An uploaded file -> AnnData, or a ScdiffError (DataError) that says what to do."""
    from scdiff_core.data import load_anndata
    from scdiff_core.errors import DataError

    name = getattr(uploaded, "name", "upload")
    data = uploaded.getvalue()
    if not data:
        raise DataError(f"{name} is empty. Upload an AnnData .h5ad file.")
    suffix = ".h5ad.gz" if name.endswith(".gz") else ".h5ad"
    fd, tmp = tempfile.mkstemp(suffix=suffix)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        try:
            adata, _ = load_anndata(tmp)
        except DataError as e:
            raise DataError(str(e).replace(tmp, name)) from None
        return adata
    finally:
        os.unlink(tmp)


def as_generated(adata, bundle: Bundle) -> tuple[Any, list[str]]:
    """Check an uploaded AnnData against the model (genes, values, labels); return log-normalized cells."""
    import anndata as ad
    import scipy.sparse as sp

    from scdiff_core.data import detect_kind, lognormalize
    from scdiff_core.errors import DataError

    notes = []
    m = bundle.model
    names = pd.Index(adata.var_names.astype(str))
    if names.has_duplicates:
        raise DataError("The file has duplicated gene names. Make them unique (adata.var_names_make_unique()) "
                        "and upload it again.")
    missing = [g for g in m.genes if g not in names]
    if missing:
        raise DataError(f"The file's genes do not match this model: {len(missing)} of the model's {len(m.genes)} "
                        f"genes are missing (e.g. {', '.join(missing[:5])}). Upload cells generated by this model "
                        f"(or measured on the same genes), or pick the matching model in the sidebar.")
    if adata.n_obs == 0:
        raise DataError("The file holds no cells.")
    sub = adata[:, m.genes]
    X = sub.X
    kind = detect_kind(X)  # raises DataError for scaled (negative) or non-log-normalized values
    if kind == "counts":
        X = lognormalize(X)
        notes.append("The file holds counts; they were log-normalized over the model's genes (1e4 per cell, log1p).")
    X = np.asarray(X.toarray() if sp.issparse(X) else X, dtype=np.float32)
    out = ad.AnnData(X=X, obs=adata.obs.copy(), var=pd.DataFrame(index=pd.Index(m.genes, name="gene")))
    if "scdiff" in adata.uns:
        out.uns["scdiff"] = dict(adata.uns["scdiff"])
    for c in m.conditions:
        if c in out.obs:
            out.obs[c] = out.obs[c].astype(str).astype("category")
    return out, notes


# ============================================================================ held-out real cells
@st.cache_resource(show_spinner=False, max_entries=2)
def _held_out(path: str, stamp: str):
    from scdiff_core.evaluation import HeldOut

    bundle = _load_bundle(path, stamp)
    return HeldOut(bundle.model), threading.Lock()


def held_out(bundle: Bundle):
    """(HeldOut, lock) for the model: the dataset re-read and split as in training (cached)."""
    return _held_out(bundle.path, bundle.key.rsplit("@", 1)[1])


# ============================================================================ plots
def _palette(n: int) -> list[str]:
    import plotly.express as px

    base = px.colors.qualitative.Plotly + px.colors.qualitative.D3 + px.colors.qualitative.Alphabet
    return [base[i % len(base)] for i in range(n)]


SET_COLORS = ["#111111", "#d62728", "#1f3fb4", "#ff7f0e", "#2ca02c", "#8c2d9c", "#7f5320", "#e377c2"]
SET_SYMBOLS = ["diamond", "circle", "square", "triangle-up", "cross", "x", "star", "hexagon"]


def umap_layout(fig, title: str, height: int = 560) -> None:
    fig.update_layout(title=dict(text=title, font=dict(size=14)), height=height, margin=dict(l=10, r=10, t=40, b=10),
                      legend=dict(itemsizing="constant", font=dict(size=11)), uirevision="keep",
                      plot_bgcolor="white", hovermode="closest")
    fig.update_xaxes(showticklabels=False, title="UMAP 1", showgrid=False, zeroline=False)
    fig.update_yaxes(showticklabels=False, title="UMAP 2", showgrid=False, zeroline=False)


def reference_traces(bundle: Bundle, color_by: str | None, coords: np.ndarray | None = None,
                     opacity: float = 0.5, grey: bool = False) -> list:
    """Scattergl traces of the training cells on the reference (or given) coordinates."""
    import plotly.graph_objects as go

    xy = bundle.model.reference["umap"] if coords is None else coords
    if grey or color_by is None:
        return [go.Scattergl(x=xy[:, 0], y=xy[:, 1], mode="markers", name="training cells",
                             marker=dict(size=4, color="#9a9a9a", opacity=opacity), hoverinfo="skip")]
    labels = bundle.ref_labels(color_by)
    vocab = bundle.vocab[color_by]
    cols = _palette(len(vocab))
    traces = []
    for i, v in enumerate(vocab):
        sel = labels == v
        if not sel.any():
            continue
        traces.append(go.Scattergl(
            x=xy[sel, 0], y=xy[sel, 1], mode="markers", name=str(v), legendgroup="ref",
            legendgrouptitle_text=f"training cells by {color_by}",
            marker=dict(size=5, color=cols[i], opacity=opacity),
            hovertemplate=f"{color_by}: {v}<extra>training</extra>"))
    return traces


def generated_trace(rec: dict, i: int, coords: np.ndarray | None = None):
    import plotly.graph_objects as go

    a = rec["adata"]
    xy = a.obsm["X_umap_ref"] if coords is None else coords
    pred_cols = [c for c in a.obs.columns if c.startswith("predicted_")]
    text = None
    if pred_cols:
        text = a.obs[pred_cols].astype(str).agg(" · ".join, axis=1).to_numpy()
    return go.Scattergl(
        x=xy[:, 0], y=xy[:, 1], mode="markers", name=rec["name"], legendgroup="gen",
        legendgrouptitle_text="generated (projected)" if coords is None else "generated (joint UMAP)",
        marker=dict(size=5, color=SET_COLORS[i % len(SET_COLORS)], symbol=SET_SYMBOLS[i % len(SET_SYMBOLS)],
                    opacity=0.6, line=dict(width=0.5, color="white")),
        text=text,
        hovertemplate=None if text is None else "predicted: %{text}<extra>" + rec["name"][:40] + "</extra>")


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
             "Reference UMAP of the training cells; generated cells projected (10 nearest neighbours in PCA space)")
    umap_layout(fig, title)
    return fig


def joint_embedding(bundle: Bundle, recs: list[dict]) -> dict:
    """Refit UMAP on training + the given generated cells (cached per session by set ids)."""
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


def expression_figure(recs: list[dict], genes: list[str], real=None, real_name: str = "real (held-out test)",
                      colors: dict[str, str] | None = None):
    """Box plots of log-normalized expression per gene: generated sets (and real cells)."""
    import plotly.graph_objects as go

    fig = go.Figure()
    colors = colors or {}
    groups = [(r["name"], r["adata"], colors.get(r["id"], SET_COLORS[i % len(SET_COLORS)])) for i, r in enumerate(recs)]
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


# ============================================================================ training jobs
def jobs_dir() -> Path:
    return user_root() / ".jobs"


def uploads_dir() -> Path:
    return user_root() / ".uploads"


STAGE_RE = re.compile(r"(autoencoder|diffusion|classifier_[^:\r\n]+|reference):\s+(\d+)%\|[^|]*\|\s*(\d+)/(\d+)")


@st.cache_resource(show_spinner=False)
def _live_jobs() -> dict:
    """Popen handles of training jobs started by this server process (name -> Popen)."""
    return {}


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie child counts as ended
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[-1][:1] != "Z"
    except OSError:
        return True


def start_training(name: str, data_path: str, conditions: list[str], extra: list[str]) -> dict:
    """Start ``scdiff train`` as a background process writing into the user folder; returns its job record."""
    from scdiff_core.errors import ScdiffError

    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", name):
        raise ScdiffError("Model names may use letters, digits, '.', '_' and '-' (up to 64 characters), "
                          "starting with a letter or digit.")
    out = user_root() / name
    if (out / "config.json").exists():
        raise ScdiffError(f"A model named {name!r} already exists in {user_root()}. Pick another name.")
    for j in list_jobs():
        if j["name"] == name and j["status"] == "running":
            raise ScdiffError(f"A training run named {name!r} is already running.")
    jobs_dir().mkdir(parents=True, exist_ok=True)
    log = jobs_dir() / f"{name}.log"
    import shlex

    # SCDIFF_APP_TRAIN_ARGS: further `scdiff train` options appended to every run started from the app
    # (later options win, e.g. to shorten runs on a slow machine or in tests).
    more = shlex.split(os.environ.get("SCDIFF_APP_TRAIN_ARGS", ""))
    progress_file = jobs_dir() / f"{name}.progress.json"
    progress_file.unlink(missing_ok=True)
    cmd = [sys.executable, "-m", "scdiff_core.cli", "train", "--data", data_path,
           "--conditions", ",".join(conditions), "--out", str(out), "--progress-file", str(progress_file),
           *extra, *more]
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    with open(log, "wb") as lf:
        proc = subprocess.Popen(cmd, cwd=str(ROOT), stdout=lf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=env, start_new_session=True)
    rec = {"name": name, "pid": proc.pid, "out": str(out), "log": str(log), "data": data_path,
           "conditions": conditions, "command": " ".join(cmd[2:]).replace("scdiff_core.cli", "scdiff", 1),
           "started": time.time(), "returncode": None}
    _write_job(rec)
    _live_jobs()[name] = proc

    def wait():
        rc = proc.wait()
        r = _read_job(name) or rec
        r["returncode"] = rc
        r["ended"] = time.time()
        _write_job(r)

    threading.Thread(target=wait, name=f"train-{name}", daemon=True).start()
    return rec


def _write_job(rec: dict) -> None:
    p = jobs_dir() / f"{rec['name']}.json"
    tmp = p.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(rec))
    os.replace(tmp, p)


def _read_job(name: str) -> dict | None:
    try:
        return json.loads((jobs_dir() / f"{name}.json").read_text())
    except (OSError, ValueError):
        return None


def parse_progress(text: str) -> dict:
    """The latest tqdm state of each stage in a ``scdiff train`` log."""
    stages: dict[str, tuple[int, int]] = {}
    for mt in STAGE_RE.finditer(text):
        stages[mt.group(1)] = (int(mt.group(3)), int(mt.group(4)))
    err = [ln[len("error:"):].strip() for ln in re.split(r"[\r\n]+", text) if ln.startswith("error:")]
    return {"stages": stages, "current": next(reversed(stages), None) if stages else None,
            "error": err[-1] if err else None}


def job_status(rec: dict) -> dict:
    """Add status ('running', 'done', 'failed', 'cancelled'), progress and the error line to a job record."""
    rec = dict(rec)
    try:
        with open(rec["log"], "rb") as f:
            f.seek(0, 2)
            size = f.tell()
            f.seek(max(0, size - 200_000))
            text = f.read().decode("utf-8", "replace")
    except OSError:
        text = ""
    rec.update(parse_progress(text))
    try:  # the machine-readable progress written by `scdiff train --progress-file` wins over the log
        pf = json.loads((jobs_dir() / f"{rec['name']}.progress.json").read_text())
        rec["stages"] = {k: (int(v["step"]), int(v["total"])) for k, v in pf.get("stages", {}).items()}
        rec["current"] = pf.get("current") or rec.get("current")
        rec["error"] = pf.get("error") or rec.get("error")
    except (OSError, ValueError, KeyError, TypeError):
        pass
    proc = _live_jobs().get(rec["name"])
    rc = rec.get("returncode")
    if proc is not None and proc.pid == rec["pid"] and rc is None:
        rc = proc.poll()
    running = rc is None and (proc.poll() is None if proc is not None and proc.pid == rec["pid"]
                              else _pid_alive(int(rec["pid"])))
    if running:
        rec["status"] = "running"
    elif (Path(rec["out"]) / "config.json").exists() and rc in (0, None):
        rec["status"] = "done"
    elif rec.get("cancelled"):
        rec["status"] = "cancelled"
    else:
        rec["status"] = "failed"
    rec["log_tail"] = "\n".join(re.split(r"[\r\n]+", text.strip())[-8:])
    return rec


def list_jobs() -> list[dict]:
    try:
        files = sorted(jobs_dir().glob("*.json"), key=lambda p: p.stat().st_mtime, reverse=True)
    except OSError:
        return []
    out = []
    for p in files:
        try:
            out.append(job_status(json.loads(p.read_text())))
        except (OSError, ValueError, KeyError):
            continue
    return out


def cancel_job(name: str) -> None:
    rec = _read_job(name)
    if rec is None:
        return
    rec["cancelled"] = True
    _write_job(rec)
    try:
        os.killpg(int(rec["pid"]), signal.SIGTERM)  # the job's own process group (start_new_session)
    except (ProcessLookupError, PermissionError):
        pass


def remove_job(name: str) -> None:
    for suf in (".json", ".log"):
        try:
            (jobs_dir() / f"{name}{suf}").unlink()
        except OSError:
            pass
    _live_jobs().pop(name, None)


# ============================================================================ benchmark figures
def benchmark_figures(name: str) -> tuple[list[tuple[str, dict]], str | None]:
    """Quality results for a checkpoint: benchmarks/results/*.json naming it, and its docs/benchmarks.md section."""
    found = []
    res_dir = ROOT / "benchmarks" / "results"
    for p in sorted(res_dir.glob("*.json")) if res_dir.is_dir() else []:
        try:
            d = json.loads(p.read_text())
        except (OSError, ValueError):
            continue
        ck = str(d.get("checkpoint", "")) if isinstance(d, dict) else ""
        if ck and Path(ck).name == name and "report" in d:
            found.append((p.name, d))
    md = ROOT / "docs" / "benchmarks.md"
    section = None
    if md.is_file():
        text = md.read_text(errors="replace")
        parts = re.split(r"(?m)^(?=#{1,3} )", text)
        hits = [s for s in parts if s.startswith("#") and re.search(rf"\b{re.escape(name)}\b", s.splitlines()[0], re.I)]
        if hits:
            section = "\n".join(hits)
        elif re.search(rf"\b{re.escape(name)}\b", text, re.I):
            section = "\n".join(ln for ln in text.splitlines() if re.search(rf"\b{re.escape(name)}\b", ln, re.I)
                                or ln.startswith("|--") or ln.startswith("| --"))
    return found, section


# ============================================================================ trajectory plots
def trajectory_means(a) -> tuple[np.ndarray, np.ndarray]:
    """(λ per point, mean reference-map position per point)."""
    pts = a.obs["point"].to_numpy()
    K = int(pts.max()) + 1
    lam = np.array([float(a.obs["lambda"].to_numpy()[pts == k][0]) for k in range(K)])
    xy = a.obsm["X_umap_ref"]
    return lam, np.stack([xy[pts == k].mean(0) for k in range(K)])


def trajectory_figure(bundle: Bundle, rec: dict):
    """Training cells (grey), trajectory cells coloured by λ, the path of per-λ means with arrows,
    and a λ slider / play button (client-side plotly frames: moving it does not rerun the app)."""
    import plotly.graph_objects as go

    a = rec["adata"]
    p = rec["params"]
    xy = a.obsm["X_umap_ref"]
    lam_cell = a.obs["lambda"].to_numpy()
    pts = a.obs["point"].to_numpy()
    lam, means = trajectory_means(a)
    fig = go.Figure()
    fig.add_trace(reference_traces(bundle, None, opacity=0.3)[0])
    fig.add_trace(go.Scattergl(
        x=xy[:, 0], y=xy[:, 1], mode="markers", name="trajectory cells",
        marker=dict(size=4, color=lam_cell, colorscale="Viridis", cmin=0, cmax=1, opacity=0.45,
                    colorbar=dict(title="λ", thickness=12, len=0.6)),
        hovertemplate="λ=%{marker.color:.2f}<extra></extra>"))
    fig.add_trace(go.Scatter(
        x=means[:, 0], y=means[:, 1], mode="lines+markers", name="mean path (start → end)",
        line=dict(color="#222222", width=2),
        marker=dict(symbol="arrow", angleref="previous", size=13, color="#222222"),
        customdata=lam, hovertemplate="mean at λ=%{customdata:.2f}<extra></extra>"))
    sel = pts == 0
    fig.add_trace(go.Scattergl(
        x=xy[sel, 0], y=xy[sel, 1], mode="markers", name="cells at the slider's λ",
        marker=dict(size=7, color="#d62728", line=dict(width=0.5, color="white"))))
    fig.add_annotation(x=means[0, 0], y=means[0, 1], text=f"start: {p['start']}", showarrow=True, arrowhead=0,
                       ax=-30, ay=-30, bgcolor="rgba(255,255,255,0.8)")
    fig.add_annotation(x=means[-1, 0], y=means[-1, 1], text=f"end: {p['end']}", showarrow=True, arrowhead=0,
                       ax=30, ay=30, bgcolor="rgba(255,255,255,0.8)")
    frames, steps = [], []
    for k, lv in enumerate(lam):
        s = pts == k
        name = f"{lv:.2f}"
        frames.append(go.Frame(name=name, traces=[3], data=[go.Scattergl(x=xy[s, 0], y=xy[s, 1])]))
        steps.append(dict(method="animate", label=name,
                          args=[[name], dict(mode="immediate", frame=dict(duration=0, redraw=True),
                                             transition=dict(duration=0))]))
    fig.frames = frames
    fig.update_layout(
        sliders=[dict(active=0, steps=steps, currentvalue=dict(prefix="λ = ", xanchor="right"), pad=dict(t=30),
                      len=0.84, x=0.16)],
        updatemenus=[dict(type="buttons", direction="down", showactive=False, x=0.0, y=0, xanchor="left",
                          yanchor="top", pad=dict(t=30), buttons=[
                              dict(label="▶ play", method="animate",
                                   args=[None, dict(frame=dict(duration=450, redraw=True), fromcurrent=True,
                                                    transition=dict(duration=0))]),
                              dict(label="❚❚", method="animate",
                                   args=[[None], dict(mode="immediate", frame=dict(duration=0, redraw=True))])])])
    umap_layout(fig, f"{rec['name'].split(' ')[0]}: {p['start']} → {p['end']} on the reference UMAP "
                     f"(cells projected, coloured by λ)", height=620)
    return fig


def gene_trends(a, k: int = 6) -> tuple[np.ndarray, pd.DataFrame, list[str]]:
    """(λ per point, mean expression per point × gene, the genes that rise and fall most from λ=0 to 1)."""
    pts = a.obs["point"].to_numpy()
    K = int(pts.max()) + 1
    X = np.asarray(a.X)
    M = np.stack([X[pts == k].mean(0) for k in range(K)])
    lam = np.array([float(a.obs["lambda"].to_numpy()[pts == k][0]) for k in range(K)])
    df = pd.DataFrame(M, columns=list(a.var_names))
    change = M[-1] - M[0]
    up = [i for i in np.argsort(-change)[: k // 2] if change[i] > 0]
    down = [i for i in np.argsort(change)[: k - len(up)] if change[i] < 0]
    top = list(df.columns[up + down])
    return lam, df, top


def trend_figure(lam: np.ndarray, means: pd.DataFrame, genes: list[str]):
    import plotly.graph_objects as go

    fig = go.Figure()
    for i, g in enumerate(genes):
        fig.add_trace(go.Scatter(x=lam, y=means[g], mode="lines+markers", name=g,
                                 line=dict(color=_palette(len(genes))[i])))
    fig.update_layout(height=340, margin=dict(l=10, r=10, t=35, b=10), xaxis_title="λ (0 = start, 1 = end)",
                      yaxis_title="mean log-normalized expression",
                      title=dict(text="Gene trends along the trajectory", font=dict(size=14)))
    return fig


def label_share_figure(a, col: str, start: str, end: str):
    """Share of cells whose nearest-training-cells vote is the start / end value, per λ."""
    import plotly.graph_objects as go

    pc = f"predicted_{col}"
    pts = a.obs["point"].to_numpy()
    K = int(pts.max()) + 1
    lam = np.linspace(0, 1, K) if "lambda" not in a.obs else np.array(
        [float(a.obs["lambda"].to_numpy()[pts == k][0]) for k in range(K)])
    pred = a.obs[pc].astype(str).to_numpy()
    fig = go.Figure()
    for v, color in ((start, "#440154"), (end, "#21918c")):
        fig.add_trace(go.Scatter(x=lam, y=[(pred[pts == k] == v).mean() for k in range(K)],
                                 mode="lines+markers", name=f"predicted {v}", line=dict(color=color)))
    other = [1 - ((pred[pts == k] == start) | (pred[pts == k] == end)).mean() for k in range(K)]
    fig.add_trace(go.Scatter(x=lam, y=other, mode="lines", name="other", line=dict(color="#aaaaaa", dash="dot")))
    fig.update_layout(height=340, margin=dict(l=10, r=10, t=35, b=10), xaxis_title="λ", yaxis_title="share of cells",
                      yaxis_range=[0, 1], title=dict(text=f"Predicted {col} along the trajectory", font=dict(size=14)))
    return fig


# ============================================================================ evaluation plots
METRIC_HELP = {
    "rf_auroc": "Random forest telling real from generated (cross-validated AUROC): 0.5 = indistinguishable "
                "(good), 1.0 = trivially told apart.",
    "mmd2": "Maximum mean discrepancy² in PCA space (lower is better; the control row is the real-vs-real floor).",
    "energy": "Energy distance in PCA space (lower is better).",
    "scc_means": "Spearman correlation of per-gene means, generated vs real (1 is best).",
    "zero_frac_gap": "Mean |zero fraction real − generated| over genes (0 is best).",
    "label_fidelity": "Share of cells whose label, predicted by a classifier fitted on training cells, is the "
                      "label asked for (1 is best).",
    "phase_fidelity": "Share of cells whose scored cell-cycle phase is the phase asked for (1 is best).",
}


def evaluation_figure(table: pd.DataFrame):
    """Generated (bars, green = good … red = bad) next to the real-vs-real control (grey diamonds), per scope."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    gen = table[table["set"] == "generated"].set_index("scope")
    ctl = table[table["set"] == "control"].set_index("scope")
    scopes = list(gen.index)
    panels = [("rf_auroc", "RF AUROC (0.5 = indistinguishable)"), ("mmd2", "MMD² (lower = better)"),
              ("label_fidelity", "Label fidelity (1 = right label)")]
    panels = [(k, t) for k, t in panels if k in gen and gen[k].notna().any()]
    fig = make_subplots(rows=1, cols=len(panels), shared_yaxes=True, subplot_titles=[t for _, t in panels],
                        horizontal_spacing=0.04)
    ctl_all = float(ctl.loc["all", "mmd2"]) if "all" in ctl.index and "mmd2" in ctl else np.nan
    for j, (k, _) in enumerate(panels, start=1):
        g = gen[k].reindex(scopes).astype(float)
        c = ctl[k].reindex(scopes).astype(float) if k in ctl else pd.Series(np.nan, index=scopes)
        if k == "rf_auroc":
            bad = ((g - 0.5) / 0.5).clip(0, 1)
        elif k == "mmd2":
            floor = np.nanmax([c.clip(lower=0).fillna(0).to_numpy(), np.full(len(c), ctl_all if ctl_all > 0 else 0)],
                              axis=0)
            floor = np.maximum(floor, 1e-3)
            bad = pd.Series(np.clip(np.log10(np.maximum(g.to_numpy(), 1e-6) / floor) / 2, 0, 1), index=scopes)
        else:
            bad = (1 - g).clip(0, 1)
        fig.add_trace(go.Bar(y=scopes, x=g, orientation="h", name="generated", showlegend=False,
                             marker=dict(color=bad.fillna(0.5), colorscale="RdYlGn_r", cmin=0, cmax=1),
                             hovertemplate="%{y}: %{x:.3f}<extra>generated</extra>"), row=1, col=j)
        fig.add_trace(go.Scatter(y=scopes, x=c, mode="markers", name="control (real vs real)", showlegend=j == 1,
                                 marker=dict(symbol="diamond", size=10, color="#555555",
                                             line=dict(width=1, color="white")),
                                 hovertemplate="%{y}: %{x:.3f}<extra>control</extra>"), row=1, col=j)
        if k == "rf_auroc":
            fig.add_vline(x=0.5, line_dash="dash", line_color="#2ca02c", row=1, col=j)
            fig.update_xaxes(range=[0.4, 1.02], tickvals=[0.5, 0.75, 1.0], row=1, col=j)
        if k == "label_fidelity":
            fig.update_xaxes(range=[0, 1.02], row=1, col=j)
    # legend swatches: a neutral bar for 'generated' (its bars are coloured by how far from real they are)
    fig.add_trace(go.Bar(x=[None], y=[None], orientation="h", name="generated (green = close to real, red = far)",
                         marker_color="#66bb6a"), row=1, col=1)
    fig.update_yaxes(autorange="reversed", automargin=True)
    fig.update_layout(height=max(300, 100 + 28 * len(scopes)), margin=dict(l=10, r=10, t=40, b=40),
                      legend=dict(orientation="h", y=-0.12, yanchor="top", x=0), barmode="overlay",
                      plot_bgcolor="white")
    fig.update_xaxes(showgrid=True, gridcolor="#eeeeee")
    return fig


# ============================================================================ model card plots
def training_curves_figure(cfg: dict):
    """Loss curves of every training stage recorded in config.json (log scale)."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    tr = cfg.get("training") or {}
    stages = [(k, v["loss_curve"]) for k, v in tr.items() if isinstance(v, dict) and v.get("loss_curve")]
    if not stages:
        return None
    fig = make_subplots(rows=1, cols=len(stages), subplot_titles=[k.replace("_", " ") for k, _ in stages],
                        horizontal_spacing=0.06)
    for j, (k, curve) in enumerate(stages, start=1):
        arr = np.asarray(curve, dtype=float)
        fig.add_trace(go.Scatter(x=arr[:, 0], y=arr[:, 1], mode="lines", name=k, showlegend=False,
                                 line=dict(color=_palette(len(stages))[j - 1])), row=1, col=j)
        if np.all(arr[:, 1] > 0):
            fig.update_yaxes(type="log", row=1, col=j)
        fig.update_xaxes(title_text="step" if k != "autoencoder" else "iteration", row=1, col=j)
    fig.update_layout(height=260, margin=dict(l=10, r=10, t=40, b=10))
    fig.update_annotations(font_size=12)
    return fig


def counts_figure(cfg: dict, col: str):
    import plotly.graph_objects as go

    counts = (cfg.get("counts") or {}).get(col) or {}
    vals = list(counts)
    fig = go.Figure(go.Bar(x=[counts[v] for v in vals], y=vals, orientation="h", marker_color="#4c78a8",
                           hovertemplate="%{y}: %{x} cells<extra></extra>"))
    fig.update_layout(height=max(160, 40 + 18 * len(vals)), margin=dict(l=10, r=10, t=30, b=10),
                      title=dict(text=f"{col}: cells per value", font=dict(size=13)), yaxis=dict(autorange="reversed"))
    return fig
