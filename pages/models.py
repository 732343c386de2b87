"""Models page: a card per checkpoint, and training a new model from an uploaded .h5ad."""
import time
from pathlib import Path

import pandas as pd
import streamlit as st

from pages import _common as C

st.title("Models")
tab_cards, tab_train = st.tabs(["Model cards", "Train a new model"])

# ------------------------------------------------------------------------------ model cards
with tab_cards:
    ckpts = C.find_checkpoints()
    if not ckpts:
        C.no_model_message()
    else:
        rows = []
        for ck in ckpts:
            cfg = C.read_config(ck.path)
            s = C.short_summary(cfg) if cfg else {}
            rows.append({"model": ck.name, "where": ck.origin, "dataset": s.get("dataset", "unreadable"),
                         "conditions": ", ".join(s.get("conditions", [])), "genes": s.get("genes"),
                         "training cells": s.get("cells_train"), "backbone": s.get("backbone")})
        st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
        cur = C.current_checkpoint()
        labels = [c.label for c in ckpts]
        idx = labels.index(cur.label) if cur is not None and cur.label in labels else 0
        ck = ckpts[st.selectbox("Model card", range(len(ckpts)), index=idx, key="mc_pick",
                                format_func=lambda i: labels[i])]
        cfg = C.read_config(ck.path)
        if cfg is None:
            st.error(f"{ck.path}/config.json cannot be read: the checkpoint is damaged. Re-train or restore it.")
        else:
            s = C.short_summary(cfg)
            st.subheader(ck.name)
            c1, c2, c3, c4 = st.columns(4)
            c1.metric("Dataset", s["dataset"])
            c2.metric("Genes", f"{s['genes']:,}")
            c3.metric("Cells train / val / test", f"{s['cells_train']:,} / {s['cells_val']:,} / {s['cells_test']:,}")
            c4.metric("Backbone", f"{s['backbone']}",
                      help=f"{(s['parameters'] or 0):,} parameters; diffusion in {s['space']} space")
            lik = (cfg.get("autoencoder") or {}).get("likelihood", "–")
            st.caption(f"Data: {s['kind']} · decoder likelihood {lik} · trained in {s['minutes']:.1f} min · "
                       f"scdiff {cfg.get('scdiff_version', '?')} · folder `{ck.path}`")
            if cfg.get("command"):
                st.code(cfg["command"], language="bash")
            st.markdown("**Conditions and training cells per value**")
            ccols = st.columns(max(1, len(s["conditions"])))
            for box, col in zip(ccols, s["conditions"]):
                box.plotly_chart(C.counts_figure(cfg, col), key=f"mc_counts_{col}", config={"displaylogo": False})
            combos = cfg.get("combinations") or []
            if len(s["conditions"]) > 1:
                total = 1
                for n in s["n_values"].values():
                    total *= n
                st.caption(f"{len(combos)} of {total} combinations occur among training cells; the others can "
                           f"still be generated (marked *unseen* on the Generate page).")
            st.markdown("**Training curves**")
            fig = C.training_curves_figure(cfg)
            if fig is None:
                st.caption("No loss curves recorded.")
            else:
                st.plotly_chart(fig, key="mc_curves", config={"displaylogo": False})
            st.markdown("**Benchmark figures**")
            results, section = C.benchmark_figures(ck.name)
            if not results and not section:
                st.caption("None yet for this model (run `python benchmarks/quality.py --checkpoint "
                           f"{ck.path}`; results go to benchmarks/results/ and docs/benchmarks.md).")
            for fname, d in results:
                from scdiff_core.metrics import EvaluationReport

                try:
                    rep = EvaluationReport.from_dict(d["report"])
                except Exception:
                    st.caption(f"{fname}: unreadable")
                    continue
                summ = rep.summary()
                if "gaussian" in d:
                    try:
                        gs = EvaluationReport.from_dict(d["gaussian"]).summary()
                        gs = gs[gs["set"] == "generated"].assign(set="gaussian baseline")
                        summ = pd.concat([summ, gs], ignore_index=True)
                    except Exception:
                        pass
                when = (d.get("machine") or {}).get("date", "")
                st.caption(f"`benchmarks/results/{fname}` — guidance {d.get('guidance')}, {d.get('sampler')} "
                           f"{d.get('steps')} steps, {d.get('n_generated')} cells, {when}")
                st.dataframe(summ.round(3), hide_index=True, width="stretch")
            if section:
                with st.expander("From docs/benchmarks.md", expanded=not results):
                    st.markdown(section)

# ------------------------------------------------------------------------------ training
PRESETS = {
    "quick": (["--ae-epochs", "60", "--diffusion-iters", "1500", "--classifier-iters", "400"],
              "quick: a first look (~2–5 min for a few thousand cells on 2 cores)"),
    "standard": ([], "standard: the library defaults (200 AE epochs, 20,000 diffusion steps; ~20–60 min)"),
}

with tab_train:
    st.markdown(f"Upload an AnnData **.h5ad** (counts or log-normalized values; cells × genes, with the condition "
                f"columns in `obs`). Training runs as a background `scdiff train` process: you may switch pages or "
                f"close the tab. The model is written to `{C.user_root()}` and appears in the sidebar's picker.")
    up = st.file_uploader("Training data (.h5ad or .h5ad.gz)", type=["h5ad", "gz"], key="tr_upload")
    info = None
    if up is not None:
        cache = st.session_state.setdefault("_train_uploads", {})
        sig = (up.name, up.size, getattr(up, "file_id", ""))
        if sig not in cache:
            def _save_and_check():
                from scdiff_core.data import detect_kind, load_anndata, select_matrix

                a = C.read_uploaded_h5ad(up)  # raises DataError for non-h5ad / corrupt files
                C.uploads_dir().mkdir(parents=True, exist_ok=True)
                stem = C.safe_filename(up.name.removesuffix(".gz").removesuffix(".h5ad"))
                suffix = ".h5ad.gz" if up.name.endswith(".gz") else ".h5ad"
                dest = C.uploads_dir() / f"{stem}-{time.strftime('%Y%m%d-%H%M%S')}{suffix}"
                dest.write_bytes(up.getvalue())
                a, src = load_anndata(dest)
                use_raw = bool(src.get("default_use_raw"))
                kind = detect_kind(select_matrix(a, use_raw=use_raw).X)  # DataError for scaled / CPM data
                cand = []
                for c in a.obs.columns:
                    s = a.obs[c]
                    if (isinstance(s.dtype, pd.CategoricalDtype) or s.dtype == object or s.dtype == bool) \
                            and 2 <= s.nunique() <= 200:
                        cand.append(c)
                return {"path": str(dest), "stem": stem, "n_obs": a.n_obs, "n_vars": a.n_vars, "kind": kind,
                        "use_raw": use_raw, "columns": cand, "has_phase": "phase" in a.obs}

            ok, res = C.run_safely(f"Reading {up.name}", _save_and_check)
            cache[sig] = res if ok else None
        info = cache.get(sig)
        if info is None and sig in cache:
            st.caption("Fix the file and upload it again.")
    if info is not None:
        st.success(f"{info['n_obs']:,} cells × {info['n_vars']:,} genes; values: {info['kind']}"
                   f"{' (from .raw, since .X looks scaled)' if info['use_raw'] else ''}.")
        options = list(info["columns"]) + ([] if info["has_phase"] else ["phase"])
        conds = st.multiselect("Condition columns", options, default=options[:1], key="tr_conds",
                               help="obs columns to condition on. 'phase' is scored from cell-cycle genes if the "
                                    "file has no such column.")
        c1, c2, c3 = st.columns([2, 2, 1])
        name = c1.text_input("Model name", value=info["stem"], key="tr_name", max_chars=64)
        preset = c2.radio("Training length", list(PRESETS), format_func=lambda k: PRESETS[k][1], key="tr_preset")
        threads = c3.radio("CPU threads", [1, 2], key="tr_threads",
                           help="1 leaves a core for the app and other work.")
        if st.button("Start training", type="primary", key="tr_go", icon=":material/model_training:",
                     disabled=not conds):
            extra = PRESETS[preset][0] + ["--threads", str(threads)]
            if info["use_raw"]:
                extra.append("--use-raw")
            ok, job = C.run_safely("Starting the training", lambda: C.start_training(name.strip(), info["path"],
                                                                                       conds, extra))
            if ok:
                st.success(f"Training **{job['name']}** started (process {job['pid']}).")
                st.session_state["_jobs_running"] = True

    jobs = C.list_jobs()
    running = any(j["status"] == "running" for j in jobs)

    @st.fragment(run_every=2.0 if running else None)
    def jobs_view() -> None:
        jobs = C.list_jobs()
        if not jobs:
            return
        st.markdown("**Training runs**")
        done_seen = st.session_state.setdefault("_jobs_done_seen", set())
        for j in jobs:
            with st.container(border=True):
                head = {"running": ":material/progress_activity: running", "done": ":material/check_circle: done",
                        "failed": ":material/error: failed", "cancelled": ":material/cancel: cancelled"}[j["status"]]
                st.markdown(f"**{j['name']}** — {head} · conditions {', '.join(j['conditions'])} · "
                            f"started {time.strftime('%H:%M:%S', time.localtime(j['started']))}")
                stages = ["autoencoder", "diffusion"] + [f"classifier_{c}" for c in j["conditions"]] + ["reference"]
                if j["status"] == "running":
                    cur = j["current"]
                    if cur is None:
                        st.progress(0.0, text="preparing the data…")
                    else:
                        step, total = j["stages"][cur]
                        k = stages.index(cur) if cur in stages else 0
                        frac = (k + step / max(1, total)) / len(stages)
                        st.progress(min(1.0, frac), text=f"stage {k + 1}/{len(stages)}: {cur} {step:,}/{total:,}")
                    if st.button("Cancel", key=f"tr_cancel_{j['name']}"):
                        C.cancel_job(j["name"])
                        st.rerun()
                elif j["status"] == "done":
                    st.success(f"Model ready in `{j['out']}`: pick **{j['name']}  (your models)** in the sidebar.")
                    listed = st.session_state.get("_ckpt_paths", [])
                    if str(Path(j["out"]).resolve()) not in listed and j["name"] not in done_seen:
                        done_seen.add(j["name"])
                        st.rerun(scope="app")  # refresh the sidebar's picker
                elif j["status"] == "failed":
                    st.error(f"Training failed: {j['error'] or 'see the log below'}")
                if j["log_tail"]:
                    with st.expander("Log"):
                        st.code(j["log_tail"], language=None)
                if j["status"] != "running" and st.button("Remove from list", key=f"tr_rm_{j['name']}"):
                    C.remove_job(j["name"])
                    st.rerun()

    jobs_view()
