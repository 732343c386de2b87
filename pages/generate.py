"""Generate page: a value or 'any' per condition column, guidance, sampler → cells on the reference UMAP."""
import hashlib

import numpy as np
import pandas as pd
import streamlit as st

from pages import _common as C

st.title("Generate cells")
b = C.require_model()
m = b.model
kh = hashlib.sha1(b.path.encode()).hexdigest()[:6]  # widget keys per checkpoint (option lists differ)
defaults = m.config["guidance_defaults"]
if not b.has_map:
    st.warning("This checkpoint holds no reference map, so cells cannot be placed in a UMAP. Re-train it.")

ctrl, view = st.columns([1, 2.3], gap="medium")


def _request() -> dict:
    return {c: st.session_state.get(f"g_{kh}_{c}", C.ANY) for c in m.conditions}


@st.fragment
def controls() -> None:
    st.markdown("**Conditions** — a value, or *any* to leave a column free")
    req = {}
    for i, col in enumerate(m.conditions):
        key = f"g_{kh}_{col}"
        if key not in st.session_state and i == 0:  # a useful first click: the most common value of the first column
            counts = m.config.get("counts", {}).get(col, {})
            st.session_state[key] = max(counts, key=counts.get) if counts else C.ANY
        req[col] = st.selectbox(col, [C.ANY] + b.vocab[col], key=key)
    asked = {c: v for c, v in req.items() if v != C.ANY}
    if not asked:
        st.caption("No condition chosen: cells from the whole learnt distribution.")
    elif m.is_seen(req):
        n = b.training_count(req)
        st.success(f"Seen combination: {n:,} training cells have it.", icon=":material/check_circle:")
    else:
        st.warning("**Unseen combination**: no training cell has it. The model composes the conditions; "
                   "check the predicted labels below.", icon=":material/new_releases:")

    mode = st.radio("Guidance", ["free", "classifier"], horizontal=True, key=f"g_{kh}_mode",
                    format_func=lambda x: {"free": "classifier-free", "classifier": "classifier"}[x],
                    help="Classifier-free: the denoiser's conditional and unconditional predictions are mixed. "
                         "Classifier: gradients of noise-aware classifiers, one per column.")
    with st.expander("Guidance strength per column", expanded=len(m.conditions) <= 3):
        for col in m.conditions:
            st.slider(col, 0.0, 10.0, float(defaults[mode]), 0.25, key=f"g_{kh}_s_{mode}_{col}",
                      disabled=req[col] == C.ANY,
                      help="0 = ignore this column; larger = stronger pull towards the value "
                           f"(checkpoint default {defaults[mode]}).")
    with st.expander("Sampler"):
        sampler = st.radio("Sampler", ["ddim", "ddpm"], horizontal=True, key=f"g_{kh}_sampler",
                           help="DDIM: deterministic, few steps. DDPM: ancestral sampling (slower).")
        st.number_input("Steps", 1, 1000, 50, 10, key=f"g_{kh}_steps",
                        help="Denoising steps; time grows linearly with steps.")
        st.slider("DDIM η", 0.0, 1.0, 0.0, 0.1, key=f"g_{kh}_eta", disabled=sampler != "ddim",
                  help="0 deterministic, 1 stochastic.")
    c1, c2 = st.columns(2)
    c1.number_input("Cells", 1, C.MAX_APP_CELLS, 1000, 100, key=f"g_{kh}_n",
                    help=f"1 to {C.MAX_APP_CELLS:,} per request in the app (the CLI allows more).")
    if "_g_next_seed" in st.session_state:  # set by the previous run (a widget's value cannot change mid-run)
        st.session_state[f"g_{kh}_seed"] = st.session_state.pop("_g_next_seed")
    c2.number_input("Seed", 0, 2**31 - 1, 0, 1, key=f"g_{kh}_seed", help="Same seed, same cells.")
    st.checkbox("New seed after each run", key=f"g_{kh}_autoseed",
                help="Off: pressing Generate again with other settings reuses the same noise, so the sets differ "
                     "only by those settings. On: each run gets the next seed (recorded with the set).")


def generate_clicked() -> None:
    """Generate with the settings held by the widgets (the button is outside the controls fragment, so the
    click reruns the page once: the new set is generated and drawn in that same run)."""
    ss = st.session_state
    req = _request()
    mode = ss.get(f"g_{kh}_mode", "free")
    scales = {c: float(ss.get(f"g_{kh}_s_{mode}_{c}", defaults[mode])) for c in m.conditions}
    sampler = ss.get(f"g_{kh}_sampler", "ddim")
    steps, eta = int(ss.get(f"g_{kh}_steps", 50)), float(ss.get(f"g_{kh}_eta", 0.0))
    n_cells, seed = int(ss.get(f"g_{kh}_n", 1000)), int(ss.get(f"g_{kh}_seed", 0))
    prog = C.Progress(f"Generating {n_cells:,} cells")
    ok, a = C.run_safely("Generation", lambda: m.generate(
        req, n_cells, guidance=mode, scales=scales, sampler=sampler, steps=steps, eta=eta, seed=seed, progress=prog))
    prog.done()
    if ok:
        ok, rec = C.run_safely("Placing the cells on the map", lambda: C.make_record(
            b, a, "generate", f"#{C.next_number('gen')} {C.request_label(req)} ({a.n_obs})",
            {"request": req, "guidance": mode, "scales": scales, "sampler": sampler, "steps": steps,
             "seed": seed, "seen": bool(m.is_seen(req))}))
    if ok:
        C.add_result(rec)
        shown = [i for i in ss.get(f"gen_show_{kh}", []) if i in C.results()]
        ss[f"gen_show_{kh}"] = (shown + [rec["id"]])[-4:]
        ss[f"g_{kh}_sum"] = rec["id"]
        if ss.get(f"g_{kh}_autoseed"):
            ss["_g_next_seed"] = seed + 1


def _top_genes(rec: dict, k: int = 4) -> list[str]:
    if "top_genes" not in rec:
        X = np.asarray(rec["adata"].X)
        order = np.argsort(-X.var(0))[:k]
        rec["top_genes"] = [rec["adata"].var_names[i] for i in order]
    return rec["top_genes"]


def _agreement(rec: dict) -> pd.DataFrame:
    a = rec["adata"]
    rows = []
    for col in m.conditions:
        req = str(a.obs[col].iloc[0]) if col in a.obs and a.obs[col].nunique() == 1 else "(mixed)"
        pc = f"predicted_{col}"
        if pc not in a.obs:
            continue
        vc = a.obs[pc].astype(str).value_counts(normalize=True)
        agree = float((a.obs[pc].astype(str) == a.obs[col].astype(str)).mean()) if col in a.obs else np.nan
        rows.append({"column": col, "requested": req,
                     "predicted = requested": None if req in (C.ANY, "(mixed)") else agree,
                     "predicted (nearest training cells)": ", ".join(f"{k} {v:.0%}" for k, v in vc.head(3).items())})
    return pd.DataFrame(rows)


@st.fragment
def results_view() -> None:
    recs_all = C.results_for(b, ("generate", "upload"))
    by_id = {r["id"]: r for r in recs_all}
    sk = f"gen_show_{kh}"
    st.session_state[sk] = [i for i in st.session_state.get(sk, []) if i in by_id]
    o1, o2, o3 = st.columns([1, 2, 1.3])
    color_by = o1.selectbox("Colour training cells by", m.conditions, key=f"g_{kh}_color")
    shown = o2.multiselect("Generated sets shown", list(by_id), key=sk, format_func=lambda i: by_id[i]["name"],
                           placeholder="none yet: press Generate")
    view_mode = o3.radio("Map", ["projection", "joint"], horizontal=True, key=f"g_{kh}_view",
                         format_func=lambda x: {"projection": "reference (fast)", "joint": "joint re-embedding"}[x])
    recs = [by_id[i] for i in shown]
    if not b.has_map:
        return
    joint = None
    if view_mode == "joint":
        if recs:
            with st.spinner("Refitting UMAP on training + generated cells (a few seconds)…"):
                ok, joint = C.run_safely("Joint re-embedding", lambda: C.joint_embedding(b, recs))
        else:
            st.info("Joint re-embedding refits UMAP on training and generated cells: generate a set first.")
    st.plotly_chart(C.umap_figure(b, recs, color_by, joint), key="gen_umap", config={"displaylogo": False})
    st.caption(C.JOINT_NOTE if joint else C.PROJECTION_NOTE + C.JOINT_HINT)

    if not recs_all:
        return
    names = list(by_id)
    sum_key = f"g_{kh}_sum"
    if st.session_state.get(sum_key) not in by_id:
        st.session_state[sum_key] = names[-1]
    st.subheader("Summary")
    fid = st.selectbox("Set", names, key=sum_key, format_func=lambda i: by_id[i]["name"])
    rec = by_id[fid]
    a, p = rec["adata"], rec["params"]
    k1, k2, k3, k4 = st.columns(4)
    k1.metric("Cells made", f"{a.n_obs:,}")
    k2.metric("Seconds", f"{rec['seconds']:.1f}" if rec["seconds"] else "–")
    if rec["kind"] == "generate":
        k3.metric("Combination", "seen" if p.get("seen") else "unseen")
        k4.metric("Guidance", {"free": "free", "classifier": "classifier"}[p["guidance"]],
                  help="free = classifier-free guidance; classifier = noise-aware classifiers' gradients")
    else:
        k3.metric("Source", "uploaded")
    st.dataframe(_agreement(rec), hide_index=True, width="stretch",
                 column_config={"predicted = requested": st.column_config.ProgressColumn(
                     format="percent", min_value=0.0, max_value=1.0)})
    st.caption("Predicted labels: majority vote of the 15 nearest training cells in PCA space (a check "
               "independent of the guidance classifiers).")

    st.markdown("**Expression, generated vs real**")
    genes = st.multiselect("Genes", m.genes, default=_top_genes(rec), key=f"g_{kh}_genes_{fid}",
                           max_selections=8, help="Default: the most variable genes of this set.")
    real, real_name = None, ""
    if st.toggle("Add real held-out test cells", key=f"g_{kh}_real",
                 help="Re-reads the checkpoint's dataset and split (once per server, a few seconds)."):
        with st.spinner("Loading the held-out real cells (once per server)…"):
            ok, ho = C.run_safely("Loading the real cells", lambda: C.held_out(b))
        if ok:
            test = ho[0].test
            mask = np.ones(test.n_obs, bool)
            for c in m.conditions:
                v = p.get("request", {}).get(c, C.ANY) if rec["kind"] == "generate" else C.ANY
                if v != C.ANY and c in test.obs:
                    mask &= (test.obs[c].astype(str) == v).to_numpy()
            real = test[mask]
            real_name = f"real held-out test ({int(mask.sum())} cells)"
            if mask.sum() == 0:
                st.info("No held-out test cell has this combination; showing no real cells.")
                real = None
    else:
        st.caption("Real expression comes from the checkpoint's held-out **test** cells (the checkpoint stores "
                   "no expression matrix); switch it on above, or use the Evaluate page.")
    if genes:
        others = [r for r in recs if r is not rec][:3]  # the other sets shown on the map, for comparison
        colors = {r["id"]: C.SET_COLORS[i % len(C.SET_COLORS)] for i, r in enumerate(recs)}  # as on the map
        st.plotly_chart(C.expression_figure([rec] + others, genes, real, real_name, colors), key="gen_expr",
                        config={"displaylogo": False})
    C.download_buttons(rec, "gen")

    with st.expander(f"All sets of this session ({len(recs_all)})"):
        rows = [{"set": r["name"], "cells": r["adata"].n_obs, "made": r["created"],
                 "guidance": r["params"].get("guidance", "–"), "seconds": round(r["seconds"], 2)}
                for r in recs_all]
        st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
        if st.button("Remove the selected summary set", key="gen_remove"):
            C.results().pop(fid, None)
            st.rerun()


with ctrl:
    controls()
    if st.button("Generate", type="primary", key="gen_go", icon=":material/play_arrow:", width="stretch"):
        generate_clicked()
with view:
    results_view()
