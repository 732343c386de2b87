"""Evaluate page: a generated set against the checkpoint's held-out real test cells (library metrics)."""
from scdiff_app.navigation import require_frame

require_frame()  # first: on a fresh server Streamlit may have started this script on its own

import json  # noqa: E402

import numpy as np  # noqa: E402
import streamlit as st  # noqa: E402

from scdiff_core.common import ANY  # noqa: E402

from scdiff_app.bundle import require_model  # noqa: E402
from scdiff_app.evalrun import headline_caption, headline_scope, replicates_caption, run_evaluation  # noqa: E402
from scdiff_app.downloads import safe_filename  # noqa: E402
from scdiff_app.feedback import run_safely  # noqa: E402
from scdiff_app.figures.evaluation import METRIC_HELP, evaluation_figure  # noqa: E402
from scdiff_app.charts import chart  # noqa: E402
from scdiff_app.results import add_result, keep_reports, make_record, results, results_for  # noqa: E402
from scdiff_app.uploads import uploaded_cells  # noqa: E402

st.title("Evaluate generated cells")
b = require_model()
m = b.model
kh = b.widget_key
label_key = m.conditions[0] if m.conditions else None
HEADLINE = [("rf_auroc", "RF AUROC"), ("mmd2", "MMD²"), ("label_fidelity", "Label fidelity"),
            ("scc_means", "Spearman of means")]
TABLE_METRICS = ["mmd2", "energy", "rf_auroc", "scc_means", "zero_frac_gap", "zeros_real", "zeros_gen",
                 "label_fidelity", "phase_fidelity"]
st.markdown(
    "Generated cells are compared with the checkpoint's **held-out real test cells** (never used in training), "
    f"over all cells and per value of **{label_key}**. The **control** rows compare other held-out real cells "
    "(the validation split) with the same test cells: the real-vs-real floor each metric can reach. "
    "All metrics are computed in a PCA space fitted on training cells only.")

def labelled(r: dict) -> bool:
    """Whether a set has cells asked for a specific value of the label column."""
    a = r["adata"]
    return label_key is None or (label_key in a.obs and (a.obs[label_key].astype(str) != ANY).any())

def session_set() -> dict | None:
    """A set of this session, picked by the user (by default the newest labelled one)."""
    recs = results_for(b, ("generate", "upload"))
    if not recs:
        st.info("No generated set yet: generate one on the **Generate** page, or upload an .h5ad.")
        return None
    by_id = {r["id"]: r for r in recs}
    if st.session_state.get(f"ev_{kh}_set") not in by_id:
        good = [r["id"] for r in recs if labelled(r)]
        st.session_state[f"ev_{kh}_set"] = (good or [recs[-1]["id"]])[-1]
    rid = st.selectbox("Set", list(by_id), persist_state="session", key=f"ev_{kh}_set", format_func=lambda i: by_id[i]["name"])
    rec = by_id[rid]
    if not labelled(rec):
        st.warning(f"This set was generated with {label_key} = *any*. The metrics compare cells label by label, "
                   f"so generate cells for specific {label_key} values (on the Generate page) to evaluate them.")
    return rec

def uploaded_set() -> dict | None:
    """An uploaded .h5ad, read once per file and kept with the session's results."""
    up = st.file_uploader("Generated cells (.h5ad from this app or `scdiff generate`)", type=["h5ad", "gz"],
                          key=f"ev_{kh}_upload",
                          help="X: log-normalized expression (or counts) over this model's genes; obs: the requested "
                               f"{label_key} of each cell.")
    if up is None:
        return None
    seen = st.session_state.setdefault("_uploads", {})
    sig = (b.key, up.name, up.size, getattr(up, "file_id", ""))
    if sig in seen and seen[sig] in results():
        return results()[seen[sig]]

    def _ingest():
        a, notes = uploaded_cells(up, b)
        for n in notes:
            st.info(n)
        return make_record(b, a, "upload", f"upload: {up.name} ({a.n_obs})", {"file": up.name})

    ok, new = run_safely(f"Reading {up.name}", _ingest)
    if not ok:
        return None
    add_result(new)
    seen[sig] = new["id"]
    st.success(f"Read {new['adata'].n_obs:,} cells from {up.name}. They also appear on the Generate page.")
    return new

def evaluate_controls(rec: dict):
    """The scope switches and the Evaluate button; returns the report to show (new or earlier), or None."""
    c1, c2 = st.columns(2)
    only = c1.toggle(f"Only the {label_key} values asked for (fast)", value=True, persist_state="session", key="ev_only",
                     help=f"Compare with the test and control cells of the set's own {label_key} values only: "
                          f"one row per value asked for. Off: every {label_key} with test cells gets a row.")
    per_label = c2.toggle(f"Per {label_key} rows", value=True, persist_state="session", key="ev_per_label",
                          help="One row per label with test cells (a random forest per label).")
    reps = False
    if m.kind == "counts":
        reps = st.toggle("Also re-sequenced control cells", value=False, persist_state="session", key="ev_reps",
                         help="The control cells with every count redrawn around the observed one: the label and "
                              "phase fidelity a model of new cells can reach (one more row per scope).")
    sig = (only, per_label, reps)
    if st.button("Evaluate", type="primary", key="ev_go", icon=":material/fact_check:"):
        ok, rep = run_safely("Evaluation", lambda: run_evaluation(b, rec["adata"], only, per_label, reps))
        if ok:
            rec.setdefault("reports", {})[sig] = rep
            keep_reports(rec)
    reports = rec.get("reports") or {}
    return reports.get(sig) or next(iter(reports.values()), None)

def _value(df, k):
    return float(df[k].iloc[0]) if len(df) and k in df and np.isfinite(df[k].iloc[0]) else None

def report_view(rec: dict, rep) -> None:
    t = rep.table
    scope, phase = headline_scope(rec["adata"], t, label_key, m.conditions)
    g = t[(t["set"] == "generated") & (t["scope"] == scope)]
    c = t[(t["set"] == "control") & (t["scope"] == scope)]
    cards = HEADLINE + ([("phase_fidelity", f"Phase fidelity ({phase})")] if phase else [])
    # a wrapping row: the cards move onto a second line on a narrow window instead of cutting their figures
    row = st.container(horizontal=True, wrap=True, gap="medium")
    for k, label in cards:
        gv, cv = _value(g, k), _value(c, k)
        row.metric(label, "–" if gv is None else f"{gv:.3f}",
                   delta=None if cv is None else f"control {cv:.3f}", delta_color="off", delta_arrow="off",
                   width=150,
                   help=METRIC_HELP.get(k, "Share of generated cells whose scored cell-cycle phase is the one asked for."))
    st.caption(headline_caption(scope, phase, label_key, int(g["n"].iloc[0]) if len(g) and "n" in g else None))
    line = replicates_caption(t, scope, phase)
    if line:
        st.caption(line)
    chart(evaluation_figure(t), "evaluation", key="ev_fig")
    st.caption("Bars: generated cells (green = close to real, red = far). Grey diamonds: the control row "
               "(real held-out cells vs test), i.e. what real data scores. RF AUROC 0.5 means a random "
               "forest cannot tell generated from real; 1.0 means it always can.")
    st.dataframe(t, hide_index=True, width="stretch",
                 column_config={k: st.column_config.NumberColumn(k, format="%.3f", help=METRIC_HELP.get(k))
                                for k in TABLE_METRICS})
    for n in rep.notes:
        st.caption(f"Note: {n}")
    st.download_button("Download the report (JSON)", data=json.dumps(rep.to_dict(), indent=1),
                       file_name=f"{safe_filename(rec['name'])}_report.json", mime="application/json",
                       key="ev_dl", on_click="ignore", icon=":material/download:")

src = st.radio("Cells to evaluate", ["session", "upload"], horizontal=True, persist_state="session", key="ev_src",
               format_func=lambda x: {"session": "a set generated in this session", "upload": "an uploaded .h5ad"}[x])
rec = session_set() if src == "session" else uploaded_set()
if rec is not None:
    rep = evaluate_controls(rec)
    if rep is not None:
        report_view(rec, rep)
