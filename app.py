"""scdiff app: generate cells for any combination of conditions, trace trajectories, evaluate, train.

    streamlit run app.py

Shipped checkpoints are read from ``checkpoints/`` (override: ``SCDIFF_CHECKPOINTS``), your own
from ``~/.scdiff/models`` (override: ``SCDIFF_MODELS``; models trained in the app go there).
"""
import streamlit as st

st.set_page_config(page_title="scdiff: single-cell diffusion", page_icon=":material/scatter_plot:", layout="wide")

from pages import _common as C  # noqa: E402  (the app folder is on sys.path)

pages = [
    st.Page("pages/generate.py", title="Generate", icon=":material/scatter_plot:", default=True),
    st.Page("pages/trajectory.py", title="Trajectory", icon=":material/timeline:"),
    st.Page("pages/evaluate.py", title="Evaluate", icon=":material/fact_check:"),
    st.Page("pages/models.py", title="Models", icon=":material/model_training:"),
]
nav = st.navigation(pages)
C.keep_widget_state()

# ---- sidebar: checkpoint picker and a short summary (config.json only: no weights loaded here)
ckpts = C.find_checkpoints()
st.session_state["_ckpt_paths"] = [c.path for c in ckpts]
with st.sidebar:
    st.markdown("### scdiff")
    if not ckpts:
        st.warning("No model yet: train one on the **Models** page.")
        st.session_state["_ckpt"] = None
    else:
        by_label = {c.label: c for c in ckpts}
        labels = list(by_label)
        prev = st.session_state.get("_ckpt")
        default = C.default_checkpoint(ckpts)
        if "ckpt_pick" not in st.session_state or st.session_state["ckpt_pick"] not in by_label:
            st.session_state["ckpt_pick"] = (prev.label if prev is not None and prev.label in by_label
                                             else default.label)
        pick = st.selectbox("Model", labels, key="ckpt_pick",
                            help=f"Shipped: {C.shipped_root()}  ·  Yours: {C.user_root()}")
        ck = by_label[pick]
        st.session_state["_ckpt"] = ck
        cfg = C.read_config(ck.path)
        if cfg is None:
            st.error("This folder's config.json cannot be read; the checkpoint is damaged.")
        else:
            s = C.short_summary(cfg)
            st.caption(
                f"**{s['dataset']}** · {s['cells_train']:,} training cells · {s['genes']:,} genes · "
                f"{s['kind']} data · {s['backbone']} backbone in {s['space']} space")
            st.caption("Conditions: " + "; ".join(f"{c} ({n} values)" for c, n in s["n_values"].items()))
    st.caption(f"torch threads per server: {C.APP_THREADS} (SCDIFF_APP_THREADS)")

nav.run()
