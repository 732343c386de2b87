"""Models page: a card per checkpoint, and training a new model from an uploaded .h5ad."""
from scdiff_app.navigation import require_frame

require_frame()  # first: on a fresh server Streamlit may have started this script on its own

import time  # noqa: E402
from pathlib import Path  # noqa: E402

import pandas as pd  # noqa: E402
import streamlit as st  # noqa: E402

from scdiff_core.summaries import config_summary  # noqa: E402
from scdiff_core.train_config import default  # noqa: E402

from scdiff_app.benchfigs import benchmark_caption, benchmark_figures, benchmark_table  # noqa: E402
from scdiff_app.checkpoints import current_checkpoint, find_checkpoints, no_model_message, read_config  # noqa: E402
from scdiff_app.feedback import run_safely  # noqa: E402
from scdiff_app.figures.models import counts_figure, training_curves_figure  # noqa: E402
from scdiff_app.charts import chart  # noqa: E402
from scdiff_app.jobs import cancel_job, list_jobs, overall_progress, remove_job, running_inputs, start_training  # noqa: E402
from scdiff_app.settings import user_root  # noqa: E402
from scdiff_app.uploads import delete_upload, plain_error, save_training_upload, stored_uploads  # noqa: E402

PRESETS = {
    "quick": (["--ae-epochs", "60", "--diffusion-iters", "1500", "--classifier-iters", "400"],
              "quick: a first look (~2–5 min for a few thousand cells on 2 cores)"),
    "standard": ([], f"standard: the library defaults ({default('ae_epochs')} AE epochs, "
                     f"{default('diffusion_iters'):,} diffusion steps; ~5–60 min)"),
}
JOB_HEADS = {"running": ":material/progress_activity: running", "done": ":material/check_circle: done",
             "failed": ":material/error: failed", "cancelled": ":material/cancel: cancelled"}

# ------------------------------------------------------------------------------ model cards
def models_table(ckpts) -> None:
    rows = []
    for ck in ckpts:
        cfg = read_config(ck.path)
        s = config_summary(cfg) if cfg else {}
        rows.append({"model": ck.name, "where": ck.origin, "dataset": s.get("dataset", "unreadable"),
                     "conditions": ", ".join(s.get("conditions", [])), "genes": s.get("genes"),
                     "training cells": s.get("cells_train"), "backbone": s.get("backbone")})
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")

def card_header(ck, cfg: dict, s: dict) -> None:
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

def card_training(cfg: dict, s: dict) -> None:
    """Cells per condition value, the combinations seen, and the loss curves."""
    st.markdown("**Conditions and training cells per value**")
    for box, col in zip(st.columns(max(1, len(s["conditions"]))), s["conditions"]):
        chart(counts_figure(cfg, col), f"cells_per_{col}", key=f"mc_counts_{col}", where=box)
    if len(s["conditions"]) > 1:
        st.caption(f"{len(cfg.get('combinations') or [])} of {s['n_combinations']} combinations occur among "
                   f"training cells; the others can still be generated (marked *unseen* on the Generate page).")
    st.markdown("**Training curves**")
    fig = training_curves_figure(cfg)
    if fig is None:
        st.caption("No loss curves recorded.")
    else:
        chart(fig, "training_curves", key="mc_curves")

def card_benchmarks(ck) -> None:
    st.markdown("**Benchmark figures**")
    found, section = benchmark_figures(ck.name)
    if not found and not section:
        st.caption("None yet for this model (run `python benchmarks/quality.py --checkpoint "
                   f"{ck.path}`; results go to benchmarks/results/ and docs/benchmarks.md).")
    for fname, d in found:
        table = benchmark_table(d)
        if table is None:
            st.caption(f"{fname}: unreadable")
            continue
        st.caption(benchmark_caption(fname, d))
        st.dataframe(table.round(3), hide_index=True, width="stretch")
    if section:
        with st.expander("From docs/benchmarks.md", expanded=not found):
            st.markdown(section)

def model_cards() -> None:
    ckpts = find_checkpoints()
    if not ckpts:
        no_model_message()
        return
    models_table(ckpts)
    cur = current_checkpoint()
    labels = [c.label for c in ckpts]
    idx = labels.index(cur.label) if cur is not None and cur.label in labels else 0
    ck = ckpts[st.selectbox("Model card", range(len(ckpts)), index=idx, persist_state="session", key="mc_pick",
                            format_func=lambda i: labels[i])]
    cfg = read_config(ck.path)
    if cfg is None:
        st.error(f"{ck.path}/config.json cannot be read: the checkpoint is damaged. Re-train or restore it.")
        return
    s = config_summary(cfg)
    card_header(ck, cfg, s)
    card_training(cfg, s)
    card_benchmarks(ck)

# ------------------------------------------------------------------------------ training
def training_upload() -> dict | None:
    """The uploaded training file, checked and saved once per file; its description, or None."""
    up = st.file_uploader("Training data (.h5ad or .h5ad.gz)", type=["h5ad", "gz"], key="tr_upload")
    if up is None:
        return None
    cache = st.session_state.setdefault("_train_uploads", {})
    sig = (up.name, up.size, getattr(up, "file_id", ""))
    if sig not in cache:
        ok, res = run_safely(f"Reading {up.name}", lambda: save_training_upload(up))
        cache[sig] = res if ok else None
    info = cache.get(sig)
    if info is None:
        st.caption("Fix the file and upload it again.")
    return info

def training_form(info: dict) -> None:
    st.success(f"{info['n_obs']:,} cells × {info['n_vars']:,} genes; values: {info['kind']}"
               f"{' (from .raw, since .X looks scaled)' if info['use_raw'] else ''}.")
    scorable = info.get("phase_scorable", True)
    options = list(info["columns"]) + ([] if info["has_phase"] or not scorable else ["phase"])
    conds = st.multiselect("Condition columns", options, default=options[:1], persist_state="session", key="tr_conds",
                           help="obs columns to condition on. 'phase' is scored from cell-cycle genes if the "
                                "file has no such column.")
    if not info["has_phase"] and not scorable:
        why = plain_error(info["phase_why_not"]).removeprefix("Phase fidelity not computed: ").rstrip(".")
        st.caption(f"*phase* is not offered: the cell cycle cannot be scored from this file's genes ({why}). "
                   f"Add a 'phase' column to obs to condition on it.")
    c1, c2, c3 = st.columns([2, 2, 1])
    name = c1.text_input("Model name", value=info["stem"], persist_state="session", key="tr_name", max_chars=64)
    preset = c2.radio("Training length", list(PRESETS), format_func=lambda k: PRESETS[k][1], persist_state="session", key="tr_preset")
    threads = c3.radio("CPU threads", [1, 2], persist_state="session", key="tr_threads", help="1 leaves a core for the app and other work.")
    if st.button("Start training", type="primary", key="tr_go", icon=":material/model_training:",
                 disabled=not conds):
        extra = PRESETS[preset][0] + ["--threads", str(threads)] + (["--use-raw"] if info["use_raw"] else [])
        ok, job = run_safely("Starting the training",
                             lambda: start_training(name.strip(), info["path"], conds, extra))
        if ok:
            st.success(f"Training **{job['name']}** started (process {job['pid']}).")
            st.session_state["_jobs_running"] = True

def _job_progress(j: dict) -> None:
    frac, text = overall_progress(j)
    st.progress(frac, text=text)

def job_card(j: dict, done_seen: set) -> None:
    st.markdown(f"**{j['name']}** — {JOB_HEADS[j['status']]} · conditions {', '.join(j['conditions'])} · "
                f"started {time.strftime('%H:%M:%S', time.localtime(j['started']))}")
    if j["status"] == "running":
        _job_progress(j)
        if st.button("Cancel", key=f"tr_cancel_{j['name']}"):
            cancel_job(j["name"])
            st.rerun()
    elif j["status"] == "done":
        st.success(f"Model ready in `{j['out']}`: pick **{j['name']}  (your models)** in the sidebar.")
        listed = st.session_state.get("_ckpt_paths", [])
        if str(Path(j["out"]).resolve()) not in listed and j["name"] not in done_seen:
            done_seen.add(j["name"])
            st.rerun(scope="app")  # refresh the sidebar's picker
    elif j["status"] == "failed":
        st.error(f"Training failed: {plain_error(j['error']) if j['error'] else 'see the log below'}")
    if j["log_tail"]:
        with st.expander("Log"):
            st.code(j["log_tail"], language=None)
    unfinished = j["status"] in ("failed", "cancelled")
    if j["status"] != "running" and st.button("Remove" + (" and delete its unfinished files" if unfinished else " from list"),
                                              key=f"tr_rm_{j['name']}",
                                              help="Forgets the run (record and log). A run that did not finish also "
                                                   "has its half-trained state deleted; a finished model is kept."):
        ok, res = run_safely("Removing the run", lambda: remove_job(j["name"]))
        if ok:
            st.toast(f"Removed {j['name']}" + (f", freed {res['freed_bytes'] / 1e6:.1f} MB" if res["freed_bytes"] else ""))
            st.rerun()

def uploads_view() -> None:
    """The training files kept from earlier uploads, with their size and a delete button each."""
    files = stored_uploads()
    if not files:
        return
    busy = running_inputs()
    with st.expander(f"Uploaded training files: {len(files)}, {sum(f['bytes'] for f in files) / 1e6:.1f} MB"):
        for f in files:
            c1, c2 = st.columns([4, 1])
            c1.markdown(f"`{f['name']}` · {f['bytes'] / 1e6:.1f} MB" + (" · in use by a running training" if f["path"] in busy else ""))
            if c2.button("Delete", key=f"up_del_{f['sha256'][:12]}", disabled=f["path"] in busy):
                ok, _ = run_safely("Deleting the file", lambda: delete_upload(f["path"], running_inputs()))
                if ok:
                    st.rerun()

def jobs_view() -> None:
    uploads_view()
    jobs = list_jobs()
    if not jobs:
        return
    st.markdown("**Training runs**")
    done_seen = st.session_state.setdefault("_jobs_done_seen", set())
    for j in jobs:
        with st.container(border=True):
            job_card(j, done_seen)

def train_tab() -> None:
    st.markdown(f"Upload an AnnData **.h5ad** (counts or log-normalized values; cells × genes, with the condition "
                f"columns in `obs`). Training runs as a background `scdiff train` process: you may switch pages or "
                f"close the tab. The model is written to `{user_root()}` and appears in the sidebar's picker.")
    info = training_upload()
    if info is not None:
        training_form(info)
    running = any(j["status"] == "running" for j in list_jobs())
    st.fragment(jobs_view, run_every=2.0 if running else None)()

st.title("Models")
tab_cards, tab_train = st.tabs(["Model cards", "Train a new model"])
with tab_cards:
    model_cards()
with tab_train:
    train_tab()
