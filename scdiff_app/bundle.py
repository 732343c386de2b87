"""The loaded model (``Bundle``), cached once per server process, and the held-out real cells.

Objects returned by ``st.cache_resource`` (the bundle, the held-out cells) are shared by every
browser session and are never modified.
"""
from __future__ import annotations

import hashlib
import os
import threading
import time
import traceback
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from scdiff_core.summaries import training_count

from .checkpoints import current_checkpoint, no_model_message, stamp
from .settings import LOG, setup_torch, warm_umap


@dataclass
class Bundle:
    """A loaded checkpoint plus read-only helpers; shared by all sessions (never mutate)."""

    model: Any
    path: str
    key: str                               # identifies the checkpoint version in session results
    load_seconds: float = 0.0

    @property
    def conditions(self) -> list[str]:
        return self.model.conditions

    @property
    def vocab(self) -> dict[str, list[str]]:
        return self.model.vocab

    @property
    def widget_key(self) -> str:
        """6 hex digits naming this checkpoint folder in widget keys (each model's options differ)."""
        return hashlib.sha1(self.path.encode()).hexdigest()[:6]

    @property
    def has_map(self) -> bool:
        return "umap" in self.model.reference and "pcs" in self.model.reference

    def ref_labels(self, col: str) -> np.ndarray:
        """Reference (training) cells' values of ``col`` as strings."""
        codes = self.model.reference[f"label_{col}"]
        return np.asarray(self.vocab[col], dtype=object)[codes]

    def training_count(self, request: dict[str, str | None]) -> int:
        """How many training cells of the stored reference have this combination."""
        return training_count(self.model, request)

    def predict(self, X: np.ndarray) -> pd.DataFrame:
        """Predicted label per condition column: the library's one label predictor (as Evaluate's)."""
        return self.model.predict_labels(X)

    def estimate_seconds(self, n_cells: int, guidance: str, sampler: str, steps: int, columns: int = 1) -> float:
        """How long ``generate`` will take here (:func:`scdiff_core.timing.estimate_seconds`; its probes
        run once per model and mode, under a lock so that two sessions do not time each other)."""
        from scdiff_core.timing import estimate_seconds

        with _timing_lock(self.key):
            return estimate_seconds(self.model, n_cells, guidance=guidance, sampler=sampler, steps=steps,
                                    columns=columns)


    def record_seconds(self, n_cells: int, guidance: str, sampler: str, steps: int, seconds: float,
                       columns: int = 1) -> None:
        """A real generation's wall time (click to placed cells): later estimates follow this machine's pace."""
        from scdiff_core.timing import record_run

        with _timing_lock(self.key):
            record_run(self.model, n_cells, seconds, guidance=guidance, sampler=sampler, steps=steps, columns=columns)


@st.cache_resource(show_spinner=False, max_entries=8)
def _timing_lock(key: str) -> threading.Lock:
    return threading.Lock()


def _warm_up(b: Bundle) -> None:
    """Pay for lazy initialisation now, not at the first click: a tiny generation in both guidance
    modes (torch kernels, autograd for classifier guidance), the projection and the label predictor."""
    m = b.model
    try:
        a = m.generate({}, 8, steps=2, seed=0)
        if m.conditions and m.classifiers:
            c = m.conditions[0]
            m.generate({c: m.vocab[c][0]}, 8, guidance="classifier", steps=2, seed=0)
        b.predict(a.X)
    except Exception:  # a warm-up problem must not block loading; the real call reports it
        LOG.warning("warm-up failed:\n%s", traceback.format_exc())


@st.cache_resource(show_spinner=False, max_entries=4)
def _load_bundle(path: str, version: str) -> Bundle:
    setup_torch()
    from scdiff_core.model import SCDiffModel

    t0 = time.perf_counter()
    m = SCDiffModel.load(path)
    b = Bundle(m, path, f"{path}@{version}")
    _warm_up(b)
    b.load_seconds = time.perf_counter() - t0
    if warm_umap():
        umap_warmup()
    return b


def load_bundle(path: str) -> Bundle:
    return _load_bundle(path, stamp(path))


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


@st.cache_resource(show_spinner=False, max_entries=2)
def _held_out(path: str, version: str):
    from scdiff_core.evaluation import HeldOut

    return HeldOut(_load_bundle(path, version).model), threading.Lock()


def held_out(bundle: Bundle):
    """(HeldOut, lock) for the model: the dataset re-read and split as in training (cached)."""
    return _held_out(bundle.path, bundle.key.rsplit("@", 1)[1])
