"""Evaluate page helpers: running the library's evaluation with progress shown, and which row of the
report the headline cards show (the row of what was asked for, not the 'all' row)."""
from __future__ import annotations

import copy
import time

import streamlit as st

from scdiff_core.metrics.report import asked_values, headline_scope  # noqa: F401 (the page's import)

from .bundle import Bundle, held_out


def _restricted(ho, adata, key: str):
    """A shallow copy of the shared HeldOut whose test and control cells are those of the set's own
    ``key`` values (the original is not modified; its reference space is built first so the copy shares it)."""
    asked = asked_values(adata, key)
    _ = ho.reference
    sub = copy.copy(ho)
    t, v = ho.test.obs[key].astype(str).isin(asked), ho.val.obs[key].astype(str).isin(asked)
    if not t.any() or not v.any():
        return ho
    sub.test, sub.val = ho.test[t.to_numpy()].copy(), ho.val[v.to_numpy()].copy()
    return sub


def run_evaluation(b: Bundle, adata, only_asked: bool, per_label: bool, replicates: bool = False):
    """The library's evaluation of ``adata`` against the held-out cells, with its steps shown in an
    ``st.status`` box; ``only_asked`` compares with the cells of the set's own label values only;
    ``replicates`` adds the control cells re-sequenced in silico (scdiff_core.metrics.replicates)."""
    key = b.conditions[0] if b.conditions else None
    with st.status("Evaluating…", expanded=True) as box:
        t0 = time.perf_counter()
        st.write("Loading the held-out real cells (once per server, a few seconds)…")
        ho, lock = held_out(b)
        st.write(f"Held-out cells ready: {ho.test.n_obs:,} test, {ho.val.n_obs:,} control "
                 f"({time.perf_counter() - t0:.1f} s).")
        with lock:
            target = _restricted(ho, adata, key) if only_asked and key else ho
            st.write(f"Computing metrics: {adata.n_obs:,} generated vs {target.test.n_obs:,} test cells "
                     f"(control: {target.val.n_obs:,}); a random forest per row…")
            bar = st.progress(0.0, text="rows of the report: 0 done")

            def progress(done: int, total: int) -> None:
                bar.progress(done / max(total, 1), text=f"rows of the report: {done} of {total} done")

            rep = target.evaluate(adata, per_label=per_label, replicates=replicates, progress=progress)
        box.update(label=f"Evaluated in {time.perf_counter() - t0:.1f} s", state="complete", expanded=False)
    return rep


def headline_caption(scope: str, phase: str | None, label_key: str | None, n: int | None) -> str:
    """What the headline cards show, in one line."""
    what = (f"the **{scope}** row (the {label_key} this set was generated for)" if scope != "all"
            else "the **all** row")
    cells = f" on {n:,} generated cells" if n else ""
    ph = f"; phase fidelity for phase **{phase}**" if phase else ""
    return (f"Headline: {what}{cells}, with its **control** row (real held-out cells against the same test "
            f"cells) as the grey figure under each number{ph}. Every row is in the table below.")


def replicates_caption(table, scope: str, phase: str | None) -> str | None:
    """One line on the re-sequenced control row of ``scope``, or None when the report has none."""
    r = table[(table["set"] == "replicates") & (table["scope"] == scope)]
    if not len(r):
        return None
    parts = [f"label fidelity {float(r['label_fidelity'].iloc[0]):.3f}"]
    if phase and r["phase_fidelity"].notna().any():
        parts.append(f"phase fidelity {float(r['phase_fidelity'].iloc[0]):.3f}")
    return ("Re-sequenced control cells (each count redrawn around the observed one): " + ", ".join(parts)
            + ". A model that draws new cells of these states reaches about this, not the control's own figure, "
              "where a cell's label is partly its count noise; above it, guidance drives cells past the typical cell.")
