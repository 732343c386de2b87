"""This browser session's results: generated sets, trajectories and uploads, as records, kept in
``st.session_state`` and on disk (:mod:`.sessionstore`: a reload of the page brings them back).

A record is a dict: ``id``, ``kind`` ('generate', 'trajectory' or 'upload'), ``name``, ``ckpt``
(the bundle key it belongs to), ``adata`` (cells with reference-map positions and predicted
labels), ``params``, ``created`` and ``seconds``; pages may add their own entries (``reports``).
"""
from __future__ import annotations

import time

import numpy as np
import pandas as pd
import streamlit as st

from scdiff_core.common import ANY

from . import sessionstore
from .bundle import Bundle
from .settings import MAX_SESSION_CELLS, MAX_SETS


def results() -> dict[str, dict]:
    """The session's records by id, oldest first."""
    return st.session_state.setdefault("results", {})


def next_number(kind: str) -> int:
    """1, 2, 3 … per kind of result in this session (for the results' names)."""
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
        sessionstore.forget(k)
    sessionstore.save(rec)  # kept on disk too: a reload brings it back (sessionstore)
    if dropped:
        st.toast(f"Dropped the oldest result(s) to keep this session's memory bounded "
                 f"({MAX_SETS} results / {MAX_SESSION_CELLS:,} cells at most): {', '.join(dropped)}")


def remove_result(rid: str) -> None:
    """Drop one result from the session (and from its folder on disk)."""
    results().pop(rid, None)
    sessionstore.forget(rid)


def keep_reports(rec: dict) -> None:
    """Store a result again after an evaluation report was added to it."""
    sessionstore.save(rec)


def results_for(bundle: Bundle, kinds: tuple[str, ...]) -> list[dict]:
    """The session's records of these kinds made with this model (version)."""
    return [r for r in results().values() if r["ckpt"] == bundle.key and r["kind"] in kinds]


def make_record(bundle: Bundle, adata, kind: str, name: str, params: dict) -> dict:
    """Attach reference-map positions and the predicted labels to a result."""
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
    """A short name for a request: its chosen values, or 'unconditioned'."""
    vals = [v for v in req.values() if v not in (None, ANY)]
    return " · ".join(vals) if vals else "unconditioned"


def guidance_label(params: dict) -> str:
    """The guidance of a generated set in short: mode and the strengths of the columns asked for,
    e.g. ``'free w=4/2'`` (``'free'`` when no column was asked for)."""
    mode = params.get("guidance", "?")
    req, scales = params.get("request", {}), params.get("scales", {})
    ws = [f"{float(scales[c]):.3g}" for c, v in req.items() if v not in (None, ANY) and c in scales]  # 1.24, not 1.236
    return f"{mode} w={'/'.join(ws)}" if ws else str(mode)


def set_name(number: int, params: dict, n_cells: int) -> str:
    """A generated set's name saying what differs between sets: ``'#3 3Ery · G2M · free w=4/2 (1000)'``."""
    return f"#{number} {request_label(params.get('request', {}))} · {guidance_label(params)} ({n_cells})"
