"""Trajectory page: a path between two values of a condition column (inversion path or Gradient
Interpolation, read from the library's registry), shown in UMAP."""
from scdiff_app.navigation import require_frame

require_frame()  # first: on a fresh server Streamlit may have started this script on its own

import streamlit as st  # noqa: E402

from scdiff_core.common import ANY  # noqa: E402
from scdiff_core.guidance import GUIDANCE, modes_for  # noqa: E402
from scdiff_core.trajectory.summaries import gene_trends  # noqa: E402
from scdiff_core.trajectory import DEFAULT_METHOD, METHODS  # noqa: E402

from scdiff_app.bundle import require_model  # noqa: E402
from scdiff_app.downloads import download_buttons  # noqa: E402
from scdiff_app.feedback import Progress, run_safely  # noqa: E402
from scdiff_app.layout import page_columns  # noqa: E402
from scdiff_app.charts import chart  # noqa: E402
from scdiff_app.figures.trajectory import label_share_figure, trajectory_figure, trend_figure  # noqa: E402
from scdiff_app.figures.umap import PROJECTION_NOTE, umap_figure  # noqa: E402
from scdiff_app.results import add_result, make_record, next_number, results_for  # noqa: E402
from scdiff_app.selection import trajectory_end, trajectory_end_note  # noqa: E402
from scdiff_app.settings import MAX_TRAJ_CELLS  # noqa: E402
from scdiff_app.urlstate import Field, restore, write  # noqa: E402

st.title("Trajectory between two states")
b = require_model()
m = b.model
kh = b.widget_key
defaults = m.config["guidance_defaults"]
if not b.has_map:
    st.warning("This checkpoint holds no reference map, so trajectories cannot be drawn in a UMAP. Re-train it.")
    st.stop()

ctrl, view = page_columns()

def url_fields() -> list[Field]:
    """The settings a link carries (scdiff_app/urlstate.py): the column and the method first, then the
    guidance mode, as the other fields' keys depend on them."""
    ss = st.session_state
    col = ss.get(f"t_{kh}_col", m.conditions[0])
    method = ss.get(f"t_{kh}_method", DEFAULT_METHOD)
    mode = ss.get(f"t_{kh}_mode_{method}", METHODS[method].default_guidance)
    return [Field("col", f"t_{kh}_col", str, list(m.conditions)), Field("method", f"t_{kh}_method", str, list(METHODS)),
            Field("mode", f"t_{kh}_mode_{method}", str, modes_for(1)),
            Field("start", f"t_{kh}_start_{col}", str, b.vocab[col]), Field("end", f"t_{kh}_end_{col}", str, b.vocab[col]),
            *[Field(f"fix_{c}", f"t_{kh}_fix_{col}_{c}", str, [ANY] + b.vocab[c]) for c in m.conditions if c != col],
            Field("points", f"t_{kh}_points", int, lo=2, hi=50), Field("cpp", f"t_{kh}_cpp", int, lo=1, hi=1000),
            Field("t_start", f"t_{kh}_tstart_{method}", float, lo=0.05, hi=1.0),
            Field("scale", f"t_{kh}_scale_{mode}", float, lo=0.0, hi=15.0),
            Field("start_cells", f"t_{kh}_sc", str, ["reference", "generated"]),
            Field("steps", f"t_{kh}_steps", int, lo=2, hi=1000), Field("seed", f"t_{kh}_seed", int, lo=0, hi=2**31 - 1)]

restore("trajectory_col", url_fields()[:2])  # column and method: the keys below depend on them
restore("trajectory_mode", url_fields()[2:3])
restore("trajectory", url_fields()[3:])

@st.fragment
def traj_controls() -> None:  # a name of its own: fragment ids derive from it
    col = st.selectbox("Column to move along", m.conditions, persist_state="session", key=f"t_{kh}_col")
    vocab = b.vocab[col]
    if len(vocab) < 2:
        st.info(f"{col} has a single value; pick another column.")
        return
    sets = {w: trajectory_end_note(kh, w, col) for w in ("start", "end")}  # selections from the Generate map
    c1, c2 = st.columns(2)
    c1.selectbox("Start", vocab, index=0, persist_state="session", key=f"t_{kh}_start_{col}",
                 disabled=bool(sets["start"]))
    c2.selectbox("End", vocab, index=1, persist_state="session", key=f"t_{kh}_end_{col}", disabled=bool(sets["end"]))
    others = [c for c in m.conditions if c != col]
    if others:
        with st.expander("Hold other columns fixed"):
            for c in others:
                st.selectbox(c, [ANY] + b.vocab[c], persist_state="session", key=f"t_{kh}_fix_{col}_{c}")
    names = sorted(METHODS, key=lambda k: k != DEFAULT_METHOD)
    method = st.radio("Method", names, persist_state="session", key=f"t_{kh}_method", format_func=lambda k: METHODS[k].title,
                      captions=[METHODS[k].description for k in names])
    c1, c2 = st.columns(2)
    n_points = c1.number_input("Points (λ values)", 2, 50, 10, 1, persist_state="session", key=f"t_{kh}_points")
    per_point = c2.number_input("Cells per point", 1, 1000, 100, 10, persist_state="session", key=f"t_{kh}_cpp")
    st.slider("t_start: how far the start cells are noised", 0.05, 1.0, METHODS[method].default_t_start, 0.05,
              persist_state="session", key=f"t_{kh}_tstart_{method}",
              help="Fraction of the noise schedule the cells go back to before being denoised towards the end "
                   "state: lower keeps more of each start cell, 1.0 keeps nothing (inversion paths trace the "
                   "cells back exactly, so 1.0 suits them).")
    mode = st.radio("Guidance", sorted(modes_for(1), key=lambda k: k != METHODS[method].default_guidance),  # one column moves
                    horizontal=True, persist_state="session", key=f"t_{kh}_mode_{method}", format_func=lambda x: {"free": "classifier-free"}.get(x, x),
                    help="  \n".join(f"**{k}**: {g.description}" for k, g in GUIDANCE.items()))
    st.slider("Guidance strength", 0.0, 15.0, float(defaults["trajectory_" + mode]), 0.25,
              persist_state="session", key=f"t_{kh}_scale_{mode}", help=f"Checkpoint default {defaults['trajectory_' + mode]}.")
    with st.expander("Start cells, sampler, seed"):
        st.radio("Start cells", ["reference", "generated"], horizontal=True, persist_state="session", key=f"t_{kh}_sc",
                 format_func=lambda x: {"reference": "real training cells", "generated": "generated cells"}[x])
        st.number_input("DDIM steps (full schedule)", 2, 1000, 50, 10, persist_state="session", key=f"t_{kh}_steps",
                        help="Only the part below t_start is run.")
        st.number_input("Seed", 0, 2**31 - 1, 0, 1, persist_state="session", key=f"t_{kh}_seed")
    total = int(n_points) * int(per_point)
    st.caption(f"{total:,} cells in all (at most {MAX_TRAJ_CELLS:,}).")
    write(url_fields())

def _settings() -> dict:
    """The trajectory request held by the widgets."""
    ss = st.session_state
    col = ss.get(f"t_{kh}_col", m.conditions[0])
    vocab = b.vocab[col]
    method = ss.get(f"t_{kh}_method", DEFAULT_METHOD)
    mode = ss.get(f"t_{kh}_mode_{method}", METHODS[method].default_guidance)
    return {"column": col, "start": ss.get(f"t_{kh}_start_{col}", vocab[0]),
            "end": ss.get(f"t_{kh}_end_{col}", vocab[min(1, len(vocab) - 1)]),
            "fixed": {c: ss.get(f"t_{kh}_fix_{col}_{c}", ANY) for c in m.conditions if c != col},
            "n_points": int(ss.get(f"t_{kh}_points", 10)), "cells_per_point": int(ss.get(f"t_{kh}_cpp", 100)),
            "t_start": float(ss.get(f"t_{kh}_tstart_{method}", METHODS[method].default_t_start)), "guidance": mode,
            "method": method,
            "scale": float(ss.get(f"t_{kh}_scale_{mode}", defaults["trajectory_" + mode])),
            "start_cells": ss.get(f"t_{kh}_sc", "reference"), "steps": int(ss.get(f"t_{kh}_steps", 50)),
            "seed": int(ss.get(f"t_{kh}_seed", 0))}

def run_clicked() -> None:
    """Run with the settings held by the widgets (one page run: computed, then drawn below)."""
    p = _settings()
    n_points, per_point = p["n_points"], p["cells_per_point"]
    total = n_points * per_point
    if total > MAX_TRAJ_CELLS:
        st.error(f"{total:,} cells is more than the app's {MAX_TRAJ_CELLS:,}; lower the points or the cells "
                 f"per point (or use `scdiff trajectory` from the shell).")
        return
    ok, ends = run_safely("Reading the selected cells", lambda: [
        trajectory_end(b, kh, w, p["column"], p[w]) for w in ("start", "end")])
    if not ok:
        return
    (start_spec, p["start"], start), (end_spec, p["end"], end) = ends  # labels in p: the label-share chart's
    prog = Progress(f"Trajectory {start} → {end}")
    ok, a = run_safely("The trajectory", lambda: m.trajectory(
        p["column"], start_spec, end_spec, method=p["method"], n_points=n_points, cells_per_point=per_point, t_start=p["t_start"],
        scale=p["scale"], guidance=p["guidance"], start_cells=p["start_cells"], steps=p["steps"],
        fixed=p["fixed"], seed=p["seed"], progress=prog))
    prog.done()
    if ok:
        params = {k: v for k, v in p.items() if k != "steps"}
        ok, rec = run_safely("Placing the cells on the map", lambda: make_record(
            b, a, "trajectory", f"T{next_number('traj')} {start} → {end} ({n_points}×{per_point})", params))
    if ok:
        add_result(rec)
        st.session_state[f"t_{kh}_show"] = rec["id"]

@st.fragment
def genes_view(rec: dict) -> None:
    a = rec["adata"]
    lam, means, top = gene_trends(a)
    genes = st.multiselect("Genes", m.genes, default=top, persist_state="session", key=f"t_{kh}_genes_{rec['id']}", max_selections=12,
                           help="Default: the genes whose mean rises most and falls most between λ=0 and λ=1.")
    g1, g2 = st.columns(2)
    if genes:
        chart(trend_figure(lam, means, genes), "trajectory_genes", key="traj_trend", where=g1)
    p = rec["params"]
    chart(label_share_figure(a, p["column"], p["start"], p["end"]), "trajectory_labels", key="traj_share", where=g2)

def results_view() -> None:
    recs = results_for(b, ("trajectory",))
    if not recs:
        st.info("Choose two states and a method, and press **Run trajectory**: cells are generated for λ from "
                "0 (start) to 1 (end), the same cells and noise for every λ, so the path is continuous.")
        fig = umap_figure(b, [], m.conditions[0])
        chart(fig, "trajectory_map", key="traj_umap")
        return
    by_id = {r["id"]: r for r in recs}
    sk = f"t_{kh}_show"
    if st.session_state.get(sk) not in by_id:
        st.session_state[sk] = recs[-1]["id"]
    rid = st.selectbox("Trajectory", list(by_id), persist_state="session", key=sk, format_func=lambda i: by_id[i]["name"])
    rec = by_id[rid]
    chart(trajectory_figure(b, rec), "trajectory_map", key="traj_umap")
    st.caption("Move the λ slider (or press play) to see the cells at each step; the black line joins the mean "
               "positions per λ, arrows point from start to end. " + PROJECTION_NOTE)
    p = rec["params"]
    k1, k2, k3 = st.columns(3)
    k1.metric("Cells", f"{rec['adata'].n_obs:,}", help=f"{p['n_points']} points × {p['cells_per_point']}")
    k2.metric("Seconds", f"{rec['seconds']:.1f}")
    k3.metric("t_start / strength", f"{p['t_start']:.2f} / {p['scale']:g}")
    genes_view(rec)
    download_buttons(rec, "traj")

with ctrl:
    traj_controls()
    if st.button("Run trajectory", type="primary", key="traj_go", icon=":material/play_arrow:", width="stretch"):
        run_clicked()
with view:
    results_view()
