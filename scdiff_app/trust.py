"""How far a condition combination can be trusted: seen, rare or unseen in training; the model's unseen
and rare combinations; for a rare or unseen set a one-line verdict against held-out real cells of the
nearest seen combinations (the computations are the library's, :mod:`scdiff_core.summaries`)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from scdiff_core.common import ANY
from scdiff_core.summaries import RARE_BELOW, combination_status, combination_table, matching_cells, nearest_seen, trust_verdict

from .bundle import Bundle, held_out
from .feedback import run_safely

_LOADED: set[str] = set()  # bundle keys whose held-out cells this server has loaded (then a reference is cheap)


@st.cache_data(show_spinner=False, max_entries=8)
def combinations(key: str, _model) -> pd.DataFrame:
    """:func:`~scdiff_core.summaries.combination_table` of a model (cached per checkpoint version ``key``)."""
    return combination_table(_model)


def status_of(b: Bundle, req: dict) -> tuple[str, int]:
    """(status, training cells) of a request."""
    n = b.training_count(req)
    return combination_status(n, any(v not in (None, ANY) for v in req.values())), n


def status_message(b: Bundle, req: dict) -> None:
    """The request's status under the condition pickers."""
    status, n = status_of(b, req)
    if status == "any":
        st.caption("No condition chosen: cells from the whole learnt distribution.")
    elif status == "seen":
        st.success(f"Seen combination: {n:,} training cells.", icon=":material/check_circle:")
    elif status == "rare":
        st.warning(f"**Rare combination: {n} training cell{'s' if n > 1 else ''}** (fewer than {RARE_BELOW}). "
                   "The model has hardly seen it; check the predicted labels below.", icon=":material/warning:")
    else:
        st.warning("**Unseen combination**: no training cell has it. The model composes the conditions; "
                   "check the predicted labels below.", icon=":material/new_releases:")


def combinations_expander(b: Bundle) -> None:
    """The model's unseen and rare combinations (of all condition columns), for the user to pick from."""
    t = combinations(b.key, b.model)
    odd = t[t["status"] != "seen"]
    n_unseen = int((odd["status"] == "unseen").sum())
    with st.expander(f"Unseen ({n_unseen}) and rare ({len(odd) - n_unseen}) combinations of this model"):
        if odd.empty:
            st.caption(f"Every combination has at least {RARE_BELOW} training cells.")
        else:
            st.dataframe(odd, hide_index=True, width="stretch", height=min(300, 35 * (len(odd) + 1) + 3))
            st.caption(f"Of {len(t)} combinations of {', '.join(b.conditions)}: unseen = 0 training cells, "
                       f"rare = 1–{RARE_BELOW - 1}. Pick one above to generate it.")


def _reference(b: Bundle, req: dict) -> tuple[dict[str, float] | None, list[dict]]:
    """(column -> share of held-out real test cells of the nearest seen combinations predicted as their
    own value, those combinations); (None, combos) when none of those cells is held out."""
    near = nearest_seen(combinations(b.key, b.model), req)
    test = held_out(b)[0].test
    _LOADED.add(b.key)
    mask = np.zeros(test.n_obs, bool)
    for combo in near:
        mask |= matching_cells(test.obs, combo)
    if not mask.any():
        return None, near
    X = test.X[mask]
    pred = b.predict(X.toarray() if hasattr(X, "toarray") else np.asarray(X))
    cols = list(near[0]) if near else []
    return {c: float((pred[f"predicted_{c}"].to_numpy() == test.obs[c].astype(str).to_numpy()[mask]).mean())
            for c in cols}, near


def verdict_view(b: Bundle, rec: dict, agreement: pd.DataFrame) -> None:
    """For a rare or unseen set: a one-line verdict, with the real reference when it is loaded (or on request)."""
    p = rec["params"]
    if rec["kind"] != "generate" or "request" not in p:
        return
    status, n = status_of(b, p["request"])
    if status not in ("rare", "unseen"):
        return
    fid = {r["column"]: float(r["predicted = requested"]) for _, r in agreement.iterrows()
           if r["predicted = requested"] is not None and np.isfinite(r["predicted = requested"])}
    if "trust_ref" not in rec and (b.key in _LOADED or st.button(
            "Compare with real cells of the nearest seen combinations", key=f"trust_{rec['id']}",
            help="Loads the checkpoint's held-out test cells (once per server, a few seconds).")):
        with st.spinner("Loading the held-out real cells (once per server)…"):
            ok, res = run_safely("The real reference", lambda: _reference(b, p["request"]))
        if ok:
            rec["trust_ref"] = res
    ref, near = rec.get("trust_ref", (None, []))
    line = trust_verdict(status, fid, ref)
    (st.warning if line.startswith("doubtful") else st.info)(f"**Verdict** ({status}, {n} training cells): {line}")
    if "trust_ref" in rec:
        names = "; ".join(" · ".join(c.values()) for c in near) or "none"
        st.caption(f"Real reference: held-out test cells of the nearest seen combinations ({names})."
                   if ref else f"No real reference: no held-out test cell of the nearest seen combinations ({names}); "
                               "for an unseen combination no real cell exists at all.")
