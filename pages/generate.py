"""Generate page: a value or 'any' per condition column, guidance, sampler → cells on the reference UMAP."""
from scdiff_app.navigation import require_frame

require_frame()  # first: on a fresh server Streamlit may have started this script on its own

import time  # noqa: E402
import traceback  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import streamlit as st  # noqa: E402

from scdiff_core.calibration import calibrated_defaults, unseen_setting  # noqa: E402
from scdiff_core.common import ANY  # noqa: E402
from scdiff_core.diffusion import SAMPLERS  # noqa: E402
from scdiff_core.guidance import GUIDANCE, modes_for  # noqa: E402
from scdiff_core.summaries import label_agreement, matching_cells, top_variable_genes  # noqa: E402

from scdiff_app.bundle import held_out, require_model  # noqa: E402
from scdiff_app.downloads import download_buttons  # noqa: E402
from scdiff_app.feedback import Progress, run_safely  # noqa: E402
from scdiff_app.layout import page_columns  # noqa: E402
from scdiff_app.figures.expression import expression_figure  # noqa: E402
from scdiff_app.charts import chart  # noqa: E402
from scdiff_app.figures.style import set_color  # noqa: E402
from scdiff_app.figures.umap import (GENE_OPTION, JOINT_HINT, JOINT_NOTE, PROJECTION_NOTE, gene_figure,  # noqa: E402
                                     joint_embedding, panels_figure, umap_figure)
from scdiff_app.markers import markers_view  # noqa: E402
from scdiff_app.results import (add_result, make_record, next_number, remove_result, results, results_for,  # noqa: E402
                                set_name)
from scdiff_app.selection import GENERATE_NOW, selection_panel, update_selection  # noqa: E402
from scdiff_app.settings import LOG, MAX_APP_CELLS  # noqa: E402
from scdiff_app.trust import combinations_expander, status_message, status_of, verdict_view  # noqa: E402
from scdiff_app.urlstate import Field, restore, write  # noqa: E402

st.title("Generate cells")
b = require_model()
m = b.model
kh = b.widget_key  # widget keys per checkpoint (option lists differ)
col_defaults = {g: m.default_scales(g) for g in GUIDANCE}  # per column; calibrated when the checkpoint is
calibrated = set(calibrated_defaults(m.config))  # the modes whose defaults were calibrated
MODES = modes_for(len(m.conditions))
if not b.has_map:
    st.warning("This checkpoint holds no reference map, so cells cannot be placed in a UMAP. Re-train it.")

ctrl, view = page_columns()
URL_FIELDS = (  # the settings a link carries (scdiff_app/urlstate.py)
    [Field(c, f"g_{kh}_{c}", str, [ANY] + b.vocab[c]) for c in m.conditions]
    + [Field("mode", f"g_{kh}_mode", str, MODES), Field("sampler", f"g_{kh}_sampler", str, list(SAMPLERS))]
    + [Field(f"s_{g}_{c}", f"g_{kh}_s_{g}_{c}", float, lo=0.0, hi=10.0) for g in GUIDANCE for c in m.conditions]
    + [Field("steps", f"g_{kh}_steps", int, lo=1, hi=1000), Field("eta", f"g_{kh}_eta", float, lo=0.0, hi=1.0),
       Field("n", f"g_{kh}_n", int, lo=1, hi=MAX_APP_CELLS), Field("seed", f"g_{kh}_seed", int, lo=0, hi=2**31 - 1),
       Field("color", f"g_{kh}_color", str, list(m.conditions) + [GENE_OPTION]),
       Field("gene", f"g_{kh}_cgene", str, list(m.genes))])
restore("generate", URL_FIELDS)

def _request() -> dict:
    return {c: st.session_state.get(f"g_{kh}_{c}", ANY) for c in m.conditions}

def condition_controls() -> dict:
    """A value or *any* per column, and whether the combination was seen in training."""
    st.markdown("**Conditions** — a value, or *any* to leave a column free")
    req = {}
    for i, col in enumerate(m.conditions):
        key = f"g_{kh}_{col}"
        if key not in st.session_state and i == 0:  # a useful first click: the most common value of the first column
            counts = m.config.get("counts", {}).get(col, {})
            st.session_state[key] = max(counts, key=counts.get) if counts else ANY
        req[col] = st.selectbox(col, [ANY] + b.vocab[col], persist_state="session", key=key)
    status_message(b, req)
    unseen_button(req)
    combinations_expander(b)
    return req

def unseen_button(req: dict) -> None:
    """For an unseen combination: one click sets the guidance chosen for unseen combinations."""
    if status_of(b, req)[0] != "unseen":
        return
    ss = st.session_state
    mode, sc, origin = unseen_setting(m.config)
    shown = ", ".join(f"{c} {v:g}" for c, v in sc.items())
    done = ss.get(f"g_{kh}_mode") == mode and all(
        abs(float(ss.get(f"g_{kh}_s_{mode}_{c}", col_defaults[mode][c])) - v) < 1e-9 for c, v in sc.items())

    def apply() -> None:
        ss[f"g_{kh}_mode"] = mode
        for c, v in sc.items():
            ss[f"g_{kh}_s_{mode}_{c}"] = v

    # once applied the button stays, disabled, so nothing below it moves under a user's next click
    st.button(f"Guidance set for unseen combinations ({mode}: {shown})" if done else
              f"Use the unseen-combination guidance ({mode}: {shown})", key=f"g_{kh}_unseen", on_click=apply,
              icon=":material/done:" if done else ":material/tune:", disabled=done,
              help="The defaults are calibrated on combinations seen in training and pull an unseen one's cells off "
                   f"their cell type. This setting was chosen on {origin}; docs/benchmarks.md has the figures "
                   "(it helps, and still misses the cell type more often than real cells do).")

def sampling_controls(req: dict) -> None:
    """Guidance mode and strengths, sampler, number of cells and seed."""
    mode = st.radio("Guidance", MODES, horizontal=True, persist_state="session", key=f"g_{kh}_mode",
                    format_func=lambda x: {"free": "classifier-free"}.get(x, x),
                    help="  \n".join(f"**{k}**: {g.description}" for k, g in GUIDANCE.items()))
    with st.expander("Guidance strength per column", expanded=len(m.conditions) <= 3):
        for col in m.conditions:
            st.slider(col, 0.0, 10.0, col_defaults[mode][col], 0.25, persist_state="session", key=f"g_{kh}_s_{mode}_{col}",
                      disabled=req[col] == ANY,
                      help="0 = ignore this column; larger = stronger pull towards the value "
                           f"(checkpoint default {col_defaults[mode][col]:g}"
                           + (", calibrated on validation cells)." if mode in calibrated else ")."))
    with st.expander("Sampler"):
        sampler = st.radio("Sampler", list(SAMPLERS), horizontal=True, persist_state="session", key=f"g_{kh}_sampler",
                           help="  \n".join(f"**{k}**: {c.description}" for k, c in SAMPLERS.items()))
        st.number_input("Steps", 1, 1000, 50, 10, persist_state="session", key=f"g_{kh}_steps",
                        help="Denoising steps; time grows linearly with steps.")
        st.slider("η (stochasticity)", 0.0, 1.0, 0.0, 0.1, persist_state="session", key=f"g_{kh}_eta", disabled=not SAMPLERS[sampler].uses_eta,
                  help="0 deterministic, 1 stochastic (only for samplers that use it).")
    c1, c2 = st.columns(2)
    c1.number_input("Cells", 1, MAX_APP_CELLS, 1000, 100, persist_state="session", key=f"g_{kh}_n",
                    help=f"1 to {MAX_APP_CELLS:,} per request in the app (the CLI allows more).")
    if "_g_next_seed" in st.session_state:  # set by the previous run (a widget's value cannot change mid-run)
        st.session_state[f"g_{kh}_seed"] = st.session_state.pop("_g_next_seed")
    c2.number_input("Seed", 0, 2**31 - 1, 0, 1, persist_state="session", key=f"g_{kh}_seed", help="Same seed, same cells.")
    time_estimate(mode, sampler, req)
    st.checkbox("New seed after each run", persist_state="session", key=f"g_{kh}_autoseed",
                help="Off: pressing Generate again with other settings reuses the same noise, so the sets differ "
                     "only by those settings. On: each run gets the next seed (recorded with the set).")

def guided_columns(req: dict, mode: str) -> int:
    """How many columns the request guides (a value, strength not 0): each costs a network pass per step."""
    ss = st.session_state
    return sum(req[c] != ANY and float(ss.get(f"g_{kh}_s_{mode}_{c}", col_defaults[mode][c])) != 0 for c in m.conditions)

def time_estimate(mode: str, sampler: str, req: dict) -> None:
    """'≈ N s' before the click: transformer denoisers sample several times slower than the MLP."""
    ss = st.session_state
    n, steps = int(ss.get(f"g_{kh}_n", 1000)), int(ss.get(f"g_{kh}_steps", 50))
    try:
        with st.spinner("Timing this model once…"):
            sec = b.estimate_seconds(n, mode, sampler, steps, guided_columns(req, mode))
    except Exception:  # an estimate is a courtesy: its failure must not stop the page
        LOG.warning("time estimate failed:\n%s", traceback.format_exc())
    else:
        st.caption(f":material/timer: About {sec:.{0 if sec >= 1.5 else 1}f} s for {n:,} cells with {steps} steps "
                   f"on this server",
                   help="Timed once per model, mode and number of guided columns on this server (256 cells at 2 and 8 steps), scaled to the "
                        "cells and steps asked for, then kept in step with the last real run's time.")

@st.fragment
def gen_controls() -> None:  # a name of its own: fragment ids derive from it
    sampling_controls(condition_controls())
    write(URL_FIELDS)

def generate_clicked(like: str | None = None) -> None:
    """Generate with the settings held by the widgets (the button is outside the controls fragment, so the
    click reruns the page once: the new set is generated and drawn in that same run)."""
    ss = st.session_state
    req = _request()
    mode = ss.get(f"g_{kh}_mode", "free")
    scales = {c: float(ss.get(f"g_{kh}_s_{mode}_{c}", col_defaults[mode][c])) for c in m.conditions}
    sampler = ss.get(f"g_{kh}_sampler", "ddim")
    steps, eta = int(ss.get(f"g_{kh}_steps", 50)), float(ss.get(f"g_{kh}_eta", 0.0))
    n_cells, seed = int(ss.get(f"g_{kh}_n", 1000)), int(ss.get(f"g_{kh}_seed", 0))
    t0 = time.perf_counter()
    prog = Progress(f"Generating {n_cells:,} cells")
    ok, a = run_safely("Generation", lambda: m.generate(
        req, n_cells, guidance=mode, scales=scales, sampler=sampler, steps=steps, eta=eta, seed=seed, progress=prog))
    prog.done()
    if ok:
        params = {"request": req, "guidance": mode, "scales": scales, "sampler": sampler, "steps": steps,
                  "seed": seed, "seen": bool(m.is_seen(req)), "training_cells": b.training_count(req)}
        if like:
            params["like_selection"] = like  # the selection whose most common labels were asked for
        ok, rec = run_safely("Placing the cells on the map", lambda: make_record(
            b, a, "generate", set_name(next_number("gen"), params, a.n_obs), params))
    if ok:
        b.record_seconds(n_cells, mode, sampler, steps, time.perf_counter() - t0, guided_columns(req, mode))
        add_result(rec)
        shown = [i for i in ss.get(f"gen_show_{kh}", []) if i in results()]
        ss[f"gen_show_{kh}"] = (shown + [rec["id"]])[-4:]
        ss[f"g_{kh}_sum"] = rec["id"]
        if ss.get(f"g_{kh}_autoseed"):
            ss["_g_next_seed"] = seed + 1

def _top_genes(rec: dict, k: int = 4) -> list[str]:
    if "top_genes" not in rec:
        rec["top_genes"] = top_variable_genes(rec["adata"], k)
    return rec["top_genes"]

def map_options(by_id: dict) -> tuple:
    """The map's options: colour (or gene), the sets shown, the embedding and side-by-side panels."""
    sk = f"gen_show_{kh}"
    st.session_state[sk] = [i for i in st.session_state.get(sk, []) if i in by_id]
    o1, o2, o3 = st.columns([1, 2, 1.3])
    color_by = o1.selectbox("Colour training cells by", m.conditions + [GENE_OPTION], persist_state="session", key=f"g_{kh}_color")
    gene = o1.selectbox("Gene", m.genes, persist_state="session", key=f"g_{kh}_cgene") if color_by == GENE_OPTION else None
    shown = o2.multiselect("Generated sets shown", list(by_id), persist_state="session", key=sk, format_func=lambda i: by_id[i]["name"],
                           placeholder="none yet: press Generate")
    view_mode = o3.radio("Map", ["projection", "joint"], horizontal=True, persist_state="session", key=f"g_{kh}_view",
                         format_func=lambda x: {"projection": "reference (fast)", "joint": "joint re-embedding"}[x])
    panels = o3.toggle("Side by side", persist_state="session", key=f"g_{kh}_panels", disabled=len(shown) < 2,
                       help="One panel per shown set over the same grey training cells, axes shared.")
    return color_by, gene, [by_id[i] for i in shown], view_mode, panels and len(shown) >= 2

def map_view(by_id: dict) -> list[dict]:
    """The map's options and the map itself (lasso / box selects training cells); returns the sets shown."""
    color_by, gene, recs, view_mode, panels = map_options(by_id)
    if not b.has_map:
        return recs
    joint = None
    if view_mode == "joint":
        if recs:
            with st.spinner("Refitting UMAP on training + generated cells (a few seconds)…"):
                ok, joint = run_safely("Joint re-embedding", lambda: joint_embedding(b, recs))
        else:
            st.info("Joint re-embedding refits UMAP on training and generated cells: generate a set first.")
    write(URL_FIELDS)  # the colour picked
    if panels:
        fig = panels_figure(b, recs, joint)
    else:
        fig = (gene_map(recs, gene, joint) if gene else None) or umap_figure(b, recs, None if gene else color_by, joint)
    fig.update_layout(dragmode="lasso")  # a drag on the map selects training cells (zoom and pan: the toolbar)
    event = chart(fig, "generate_map", key="gen_umap", on_select="rerun", selection_mode=("lasso", "box", "points"))
    update_selection(kh, event, (tuple(r["id"] for r in recs), gene, view_mode, bool(panels), color_by))
    st.caption(JOINT_NOTE if joint else PROJECTION_NOTE + JOINT_HINT)
    selection_panel(b, kh)
    return recs

def gene_map(recs: list[dict], gene: str, joint):
    """The map coloured by a gene (training cells' expression from the checkpoint's dataset), or None."""
    with st.spinner("Reading the training cells' expression (once per server)…"):
        ok, ho = run_safely("Loading the training cells", lambda: held_out(b))
    if not ok:
        return None
    col = ho[0].train[:, gene].X
    vals = np.asarray(col.toarray() if hasattr(col, "toarray") else col).ravel()
    return gene_figure(b, recs, gene, vals, joint)

def summary_view(rec: dict) -> None:
    """Headline numbers of a set and its predicted labels against the requested ones."""
    a, p = rec["adata"], rec["params"]
    k1, k2, k3, k4 = st.columns(4)
    k1.metric("Cells made", f"{a.n_obs:,}")
    k2.metric("Seconds", f"{rec['seconds']:.1f}" if rec["seconds"] else "–")
    if rec["kind"] == "generate":
        k3.metric("Combination", status_of(b, p["request"])[0],
                  help=f"seen: 10 or more training cells; rare: 1–9; unseen: none ({b.training_count(p['request'])} here)")
        k4.metric("Guidance", str(p["guidance"]),
                  help="free = classifier-free guidance; chained = classifier-free, each column given the earlier "
                       "ones; classifier = noise-aware classifiers' gradients")
    else:
        k3.metric("Source", "uploaded")
    agreement = label_agreement(a, m.conditions)
    verdict_view(b, rec, agreement)
    st.dataframe(agreement, hide_index=True, width="stretch",
                 column_config={"predicted = requested": st.column_config.ProgressColumn(
                     format="percent", min_value=0.0, max_value=1.0)})
    st.caption("Predicted labels: a logistic regression on the training cells' principal components, "
               "the same predictor as Evaluate's label fidelity (a check independent of the guidance).")

def real_cells(rec: dict):
    """(held-out test cells of the set's combination, their name), or (None, '') when off or none match."""
    if not st.toggle("Add real held-out test cells", persist_state="session", key=f"g_{kh}_real",
                     help="Re-reads the checkpoint's dataset and split (once per server, a few seconds)."):
        st.caption("Real expression comes from the checkpoint's held-out **test** cells (the checkpoint stores "
                   "no expression matrix); switch it on above, or use the Evaluate page.")
        return None, ""
    with st.spinner("Loading the held-out real cells (once per server)…"):
        ok, ho = run_safely("Loading the real cells", lambda: held_out(b))
    if not ok:
        return None, ""
    test = ho[0].test
    request = rec["params"].get("request", {}) if rec["kind"] == "generate" else {}
    mask = matching_cells(test.obs, {c: request.get(c, ANY) for c in m.conditions})
    if mask.sum() == 0:
        st.info("No held-out test cell has this combination; showing no real cells.")
        return None, ""
    return test[mask], f"real held-out test ({int(mask.sum())} cells)"

def expression_view(rec: dict, recs: list[dict], fid: str) -> None:
    st.markdown("**Expression, generated vs real**")
    genes = st.multiselect("Genes", m.genes, default=_top_genes(rec), persist_state="session", key=f"g_{kh}_genes_{fid}",
                           max_selections=8, help="Default: the most variable genes of this set.")
    real, real_name = real_cells(rec)
    if genes:
        others = [r for r in recs if r is not rec][:3]  # the other sets shown on the map, for comparison
        colors = {r["id"]: set_color(i) for i, r in enumerate(recs)}  # as on the map
        chart(expression_figure([rec] + others, genes, real, real_name, colors), "generate_expression", key="gen_expr")

def sets_table(recs_all: list[dict], fid: str) -> None:
    with st.expander(f"All sets of this session ({len(recs_all)})"):
        rows = [{"set": r["name"], "cells": r["adata"].n_obs, "made": r["created"],
                 "guidance": r["params"].get("guidance", "–"),
                 "strengths": ", ".join(f"{c} {float(w):g}" for c, w in r["params"].get("scales", {}).items()
                                        if r["params"].get("request", {}).get(c, ANY) != ANY) or "–",
                 "sampler": f"{r['params']['sampler']} × {r['params']['steps']}" if "sampler" in r["params"] else "–",
                 "seed": str(r["params"].get("seed", "–")), "seconds": round(r["seconds"], 2)}
                for r in recs_all]
        st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
        if st.button("Remove the selected summary set", key="gen_remove"):
            remove_result(fid)
            st.rerun()

@st.fragment
def results_view() -> None:
    if GENERATE_NOW in st.session_state:  # "Generate more like these" was clicked in this fragment: go straight to
        st.rerun()  # the full run that generates, without drawing the map twice
    recs_all = results_for(b, ("generate", "upload"))
    by_id = {r["id"]: r for r in recs_all}
    recs = map_view(by_id)
    if not b.has_map or not recs_all:
        return
    names = list(by_id)
    sum_key = f"g_{kh}_sum"
    if st.session_state.get(sum_key) not in by_id:
        st.session_state[sum_key] = names[-1]
    st.subheader("Summary")
    fid = st.selectbox("Set", names, key=sum_key, format_func=lambda i: by_id[i]["name"])
    rec = by_id[fid]
    summary_view(rec)
    expression_view(rec, recs, fid)
    markers_view(b, kh, recs_all)
    download_buttons(rec, "gen")
    sets_table(recs_all, fid)

with ctrl:
    gen_controls()
    go = st.button("Generate", type="primary", key="gen_go", icon=":material/play_arrow:", width="stretch")
    like = st.session_state.pop(GENERATE_NOW, None)  # "Generate more like these" under the map
    if go or like:
        generate_clicked(like)
with view:
    results_view()
