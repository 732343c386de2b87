"""Marker genes between two sets of cells on the Generate page: a generated set, the real training cells
of its labels, the map's selection, the training cells outside it. The test is the library's
(:func:`scdiff_core.markers.rank_markers`); shown as a volcano plot, a sortable table and a CSV."""
from __future__ import annotations

from typing import Callable

import numpy as np
import streamlit as st

from scdiff_core.common import ANY
from scdiff_core.markers import rank_markers
from scdiff_core.summaries import matching_cells

from .bundle import Bundle, held_out
from .feedback import run_safely
from .figures.markers import volcano_figure
from .charts import chart
from .results import request_label
from .selection import selection_key


def candidate_sets(b: Bundle, kh: str, recs: list[dict]) -> dict[str, Callable]:
    """Name → a function of the training cells (AnnData) returning that set's cells."""
    out: dict[str, Callable] = {}
    for r in reversed(recs):  # newest first
        out[f"generated {r['name']}"] = lambda train, r=r: r["adata"]
        if r["kind"] == "generate":
            req = {c: r["params"].get("request", {}).get(c, ANY) for c in b.conditions}
            out[f"real training cells of {request_label(req)}"] = (
                lambda train, req=req: train[matching_cells(train.obs, req)])
    sel = st.session_state.get(selection_key(kh))
    if sel:
        out[f"selection {sel['name']}"] = lambda train, idx=sel["idx"]: train[idx]
        out[f"training cells outside {sel['name']}"] = (
            lambda train, idx=sel["idx"]: train[np.setdiff1d(np.arange(train.n_obs), idx)])
    out["all training cells"] = lambda train: train
    return out


def _compare(b: Bundle, sets: dict, name_a: str, name_b: str):
    train = held_out(b)[0].train
    return rank_markers(sets[name_a](train), sets[name_b](train), b.model.genes)


def _result_view(res: dict) -> None:
    df = res["df"]
    chart(volcano_figure(df, res["a"], res["b"]), "markers_volcano", key="mk_volcano")
    st.dataframe(df, hide_index=True, width="stretch", height=320, column_config={
        "log2_fold_change": st.column_config.NumberColumn("log2 FC", format="%.2f"),
        "score": st.column_config.NumberColumn(format="%.2f"),
        "p_value": st.column_config.NumberColumn("p", format="%.2e"),
        "p_adjusted": st.column_config.NumberColumn("p adj (BH)", format="%.2e"),
        "mean_a": st.column_config.NumberColumn("mean A", format="%.2f"),
        "mean_b": st.column_config.NumberColumn("mean B", format="%.2f"),
        "fraction_a": st.column_config.ProgressColumn("expressing A", format="percent", min_value=0.0, max_value=1.0),
        "fraction_b": st.column_config.ProgressColumn("expressing B", format="percent", min_value=0.0, max_value=1.0)})
    st.download_button("Marker genes (CSV)", df.to_csv(index=False).encode(), file_name="scdiff_markers.csv",
                       mime="text/csv", key="mk_csv", icon=":material/download:")
    st.caption(f"A = {res['a']} ({res['n_a']:,} cells), B = {res['b']} ({res['n_b']:,} cells). Wilcoxon rank-sum "
               "test per gene on log-normalized expression (scanpy's rank_genes_groups); fold change of A over B; "
               "'expressing': share of cells with a value above 0. Click a column header to sort.")


@st.fragment
def markers_view(b: Bundle, kh: str, recs: list[dict]) -> None:
    """Two sets, a Compare button, and the marker genes of the last comparison."""
    st.subheader("Marker genes")
    sets = candidate_sets(b, kh, recs)
    names = list(sets)
    c1, c2 = st.columns(2)
    a = c1.selectbox("Set A", names, index=0, key=f"mk_{kh}_a")
    b_default = 1 if len(names) > 1 else 0
    other = c2.selectbox("Set B", names, index=b_default, key=f"mk_{kh}_b")
    if st.button("Compare A with B", key="mk_go", icon=":material/compare_arrows:",
                 help="Re-reads the checkpoint's training cells once per server (a few seconds)."):
        if a == other:
            st.error("Choose two different sets.")
        else:
            with st.spinner("Ranking genes (Wilcoxon)…"):
                ok, df = run_safely("The marker genes", lambda: _compare(b, sets, a, other))
            if ok:
                train = held_out(b)[0].train
                st.session_state[f"mk_{kh}_res"] = {"a": a, "b": other, "df": df, "n_a": sets[a](train).n_obs,
                                                    "n_b": sets[other](train).n_obs}
    res = st.session_state.get(f"mk_{kh}_res")
    if res:
        _result_view(res)
