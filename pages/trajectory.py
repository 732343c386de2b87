"""Trajectory page: Gradient Interpolation between two values of a condition column, shown in UMAP."""
import hashlib

import streamlit as st

from pages import _common as C

st.title("Trajectory between two states")
b = C.require_model()
m = b.model
kh = hashlib.sha1(b.path.encode()).hexdigest()[:6]
defaults = m.config["guidance_defaults"]
if not b.has_map:
    st.warning("This checkpoint holds no reference map, so trajectories cannot be drawn in a UMAP. Re-train it.")
    st.stop()

ctrl, view = st.columns([1, 2.3], gap="medium")


@st.fragment
def controls() -> None:
    col = st.selectbox("Column to move along", m.conditions, key=f"t_{kh}_col")
    vocab = b.vocab[col]
    if len(vocab) < 2:
        st.info(f"{col} has a single value; pick another column.")
        return
    c1, c2 = st.columns(2)
    c1.selectbox("Start", vocab, index=0, key=f"t_{kh}_start_{col}")
    c2.selectbox("End", vocab, index=1, key=f"t_{kh}_end_{col}")
    others = [c for c in m.conditions if c != col]
    if others:
        with st.expander("Hold other columns fixed"):
            for c in others:
                st.selectbox(c, [C.ANY] + b.vocab[c], key=f"t_{kh}_fix_{col}_{c}")
    c1, c2 = st.columns(2)
    n_points = c1.number_input("Points (λ values)", 2, 50, 10, 1, key=f"t_{kh}_points")
    per_point = c2.number_input("Cells per point", 1, 1000, 100, 10, key=f"t_{kh}_cpp")
    st.slider("t_start: how far the start cells are noised", 0.05, 1.0, 0.6, 0.05, key=f"t_{kh}_tstart",
              help="Fraction of the noise schedule the start cells go back to before being denoised "
                   "towards the end state: lower keeps more of each start cell, 1.0 keeps nothing.")
    mode = st.radio("Guidance", ["classifier", "free"], horizontal=True, key=f"t_{kh}_mode",
                    format_func=lambda x: {"free": "classifier-free", "classifier": "classifier"}[x])
    st.slider("Guidance strength", 0.0, 15.0, float(defaults["trajectory_" + mode]), 0.25,
              key=f"t_{kh}_scale_{mode}", help=f"Checkpoint default {defaults['trajectory_' + mode]}.")
    with st.expander("Start cells, sampler, seed"):
        st.radio("Start cells", ["reference", "generated"], horizontal=True, key=f"t_{kh}_sc",
                 format_func=lambda x: {"reference": "real training cells", "generated": "generated cells"}[x])
        st.number_input("DDIM steps (full schedule)", 2, 1000, 50, 10, key=f"t_{kh}_steps",
                        help="Only the part below t_start is run.")
        st.number_input("Seed", 0, 2**31 - 1, 0, 1, key=f"t_{kh}_seed")
    total = int(n_points) * int(per_point)
    st.caption(f"{total:,} cells in all (at most {C.MAX_TRAJ_CELLS:,}).")


def run_clicked() -> None:
    """Run with the settings held by the widgets (one page run: computed, then drawn below)."""
    ss = st.session_state
    col = ss.get(f"t_{kh}_col", m.conditions[0])
    vocab = b.vocab[col]
    start, end = ss.get(f"t_{kh}_start_{col}", vocab[0]), ss.get(f"t_{kh}_end_{col}", vocab[min(1, len(vocab) - 1)])
    fixed = {c: ss.get(f"t_{kh}_fix_{col}_{c}", C.ANY) for c in m.conditions if c != col}
    n_points, per_point = int(ss.get(f"t_{kh}_points", 10)), int(ss.get(f"t_{kh}_cpp", 100))
    t_start = float(ss.get(f"t_{kh}_tstart", 0.6))
    mode = ss.get(f"t_{kh}_mode", "classifier")
    scale = float(ss.get(f"t_{kh}_scale_{mode}", defaults["trajectory_" + mode]))
    start_cells = ss.get(f"t_{kh}_sc", "reference")
    steps, seed = int(ss.get(f"t_{kh}_steps", 50)), int(ss.get(f"t_{kh}_seed", 0))
    total = n_points * per_point
    if total > C.MAX_TRAJ_CELLS:
        st.error(f"{total:,} cells is more than the app's {C.MAX_TRAJ_CELLS:,}; lower the points or the cells "
                 f"per point (or use `scdiff trajectory` from the shell).")
        return
    prog = C.Progress(f"Trajectory {start} → {end}")
    ok, a = C.run_safely("The trajectory", lambda: m.trajectory(
        col, start, end, n_points=n_points, cells_per_point=per_point, t_start=t_start, scale=scale,
        guidance=mode, start_cells=start_cells, steps=steps, fixed=fixed, seed=seed, progress=prog))
    prog.done()
    if ok:
        ok, rec = C.run_safely("Placing the cells on the map", lambda: C.make_record(
            b, a, "trajectory", f"T{C.next_number('traj')} {start} → {end} ({n_points}×{per_point})",
            {"column": col, "start": start, "end": end, "fixed": fixed, "n_points": n_points,
             "cells_per_point": per_point, "t_start": t_start, "guidance": mode, "scale": scale,
             "start_cells": start_cells, "seed": seed}))
    if ok:
        C.add_result(rec)
        ss[f"t_{kh}_show"] = rec["id"]


@st.fragment
def genes_view(rec: dict) -> None:
    a = rec["adata"]
    lam, means, top = C.gene_trends(a)
    genes = st.multiselect("Genes", m.genes, default=top, key=f"t_{kh}_genes_{rec['id']}", max_selections=12,
                           help="Default: the genes whose mean rises most and falls most between λ=0 and λ=1.")
    g1, g2 = st.columns(2)
    if genes:
        g1.plotly_chart(C.trend_figure(lam, means, genes), key="traj_trend", config={"displaylogo": False})
    p = rec["params"]
    g2.plotly_chart(C.label_share_figure(a, p["column"], p["start"], p["end"]), key="traj_share",
                    config={"displaylogo": False})


def results_view() -> None:
    recs = C.results_for(b, ("trajectory",))
    if not recs:
        st.info("Choose two states and press **Run trajectory**. Start cells of the first state are noised to "
                "t_start and denoised under guidance interpolated from start (λ=0) to end (λ=1); the same "
                "start cells and noise are used for every λ, so the path is continuous.")
        fig = C.umap_figure(b, [], m.conditions[0])
        st.plotly_chart(fig, key="traj_umap", config={"displaylogo": False})
        return
    by_id = {r["id"]: r for r in recs}
    sk = f"t_{kh}_show"
    if st.session_state.get(sk) not in by_id:
        st.session_state[sk] = recs[-1]["id"]
    rid = st.selectbox("Trajectory", list(by_id), key=sk, format_func=lambda i: by_id[i]["name"])
    rec = by_id[rid]
    st.plotly_chart(C.trajectory_figure(b, rec), key="traj_umap", config={"displaylogo": False})
    st.caption("Move the λ slider (or press play) to see the cells at each step; the black line joins the mean "
               "positions per λ, arrows point from start to end. " + C.PROJECTION_NOTE)
    p = rec["params"]
    k1, k2, k3 = st.columns(3)
    k1.metric("Cells", f"{rec['adata'].n_obs:,}", help=f"{p['n_points']} points × {p['cells_per_point']}")
    k2.metric("Seconds", f"{rec['seconds']:.1f}")
    k3.metric("t_start / strength", f"{p['t_start']:.2f} / {p['scale']:g}")
    genes_view(rec)
    C.download_buttons(rec, "traj")


with ctrl:
    controls()
    if st.button("Run trajectory", type="primary", key="traj_go", icon=":material/play_arrow:", width="stretch"):
        run_clicked()
with view:
    results_view()
