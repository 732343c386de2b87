"""The sidebar of every page (drawn by app.py): the model picker and a summary of the picked model."""
from __future__ import annotations

import streamlit as st

from scdiff_core.summaries import config_summary

from .checkpoints import Ckpt, default_checkpoint, find_checkpoints, read_config
from .settings import APP_THREADS, shipped_root, user_root
from .urlstate import restore_model, write_model


def _pick(ckpts: list[Ckpt]) -> Ckpt:
    """The model selectbox (keeps the session's pick while it exists, else the default model)."""
    by_label = {c.label: c for c in ckpts}
    prev = st.session_state.get("_ckpt")
    linked = restore_model([c.name for c in ckpts])  # a shared link's model, on a fresh session
    if linked is not None:
        st.session_state["ckpt_pick"] = next(c.label for c in ckpts if c.name == linked)
    if "ckpt_pick" not in st.session_state or st.session_state["ckpt_pick"] not in by_label:
        st.session_state["ckpt_pick"] = (prev.label if prev is not None and prev.label in by_label
                                         else default_checkpoint(ckpts).label)
    pick = st.selectbox("Model", list(by_label), key="ckpt_pick",
                        help=f"Shipped: {shipped_root()}  ·  Yours: {user_root()}")
    return by_label[pick]


def _summary(ck: Ckpt) -> None:
    """A few facts from the picked model's config.json (no weights loaded here)."""
    cfg = read_config(ck.path)
    if cfg is None:
        st.error("This folder's config.json cannot be read; the checkpoint is damaged.")
        return
    s = config_summary(cfg)
    st.caption(
        f"**{s['dataset']}** · {s['cells_train']:,} training cells · {s['genes']:,} genes · "
        f"{s['kind']} data · {s['backbone']} backbone in {s['space']} space")
    st.caption("Conditions: " + "; ".join(f"{c} ({n} values)" for c, n in s["n_values"].items()))


def model_picker() -> None:
    """Draw the sidebar; the pick is kept in ``st.session_state['_ckpt']`` (None without models)."""
    ckpts = find_checkpoints()
    st.session_state["_ckpt_paths"] = [c.path for c in ckpts]
    with st.sidebar:
        st.markdown("### scdiff")
        if not ckpts:
            st.warning("No model yet: train one on the **Models** page.")
            st.session_state["_ckpt"] = None
        else:
            ck = _pick(ckpts)
            st.session_state["_ckpt"] = ck
            write_model(ck.name)
            _summary(ck)
        st.caption(f"torch threads per server: {APP_THREADS} (SCDIFF_APP_THREADS)")
