"""A lasso / box selection of training cells on the Generate map, kept in this session.

The reference traces carry each training cell's position in the stored reference as
``customdata`` (:func:`scdiff_app.figures.umap.reference_traces`); the chart's selection event
(``st.plotly_chart(..., on_select="rerun")``) is turned into those positions here. A selection is a
dict ``{'idx': positions, 'name': 'S1 (120 cells)'}``; "Use as trajectory start/end" keeps a copy
under :func:`end_key` for the Trajectory page. Computations are the library's
(:mod:`scdiff_core.selection`).
"""
from __future__ import annotations

import numpy as np
import streamlit as st

from scdiff_core.selection import majority_request, selection_ids, selection_makeup

from .bundle import Bundle
from .results import next_number

GENERATE_NOW = "_g_generate_now"
"""Session flag: the Generate page generates with its current settings in this run (set by
"Generate more like these", which has put the selection's conditions into the widgets)."""
ENDS = ("start", "end")
EMPTY_SIG = hash(np.zeros(0, dtype=np.int64).tobytes())


def selection_key(kh: str) -> str:
    return f"sel_{kh}"


def end_key(kh: str, which: str) -> str:
    """Where a selection used as a trajectory's ``which`` end ('start' or 'end') is kept."""
    return f"sel_{kh}_{which}"


def event_positions(event) -> np.ndarray:
    """Reference positions of the training cells selected in a plotly chart's event (other traces' points,
    which carry no customdata, are left out)."""
    try:
        points = event["selection"]["points"]
    except (KeyError, TypeError, AttributeError):
        return np.zeros(0, dtype=np.int64)
    pos = []
    for p in points or []:
        cd = p.get("customdata")
        cd = cd[0] if isinstance(cd, (list, tuple)) and cd else cd
        if isinstance(cd, (int, float)) and not isinstance(cd, bool):
            pos.append(int(cd))
    return np.unique(np.asarray(pos, dtype=np.int64))


def update_selection(kh: str, event, figure_sig=None) -> None:
    """Keep a new non-empty selection of the chart; an unchanged event (a rerun) keeps the current one.

    An empty event after a selection is a double-click on the map (plotly's deselect), which clears
    the kept selection, as in other explorers, when the map is the one the selection was made on
    (same ``figure_sig``); when the map itself changed (a new set drawn) the chart may forget its
    selection, and the kept one stays.
    """
    pos = event_positions(event)
    ss, seen, fig_seen = st.session_state, f"sel_{kh}_event", f"sel_{kh}_figure"
    sig = hash(pos.tobytes())
    same_map = ss.get(fig_seen) == figure_sig
    ss[fig_seen] = figure_sig
    if ss.get(seen) == sig:
        return
    had = ss.get(seen) not in (None, EMPTY_SIG)
    ss[seen] = sig  # an empty event on a redrawn map: the chart forgot, the kept selection stays
    if len(pos):
        ss[selection_key(kh)] = {"idx": pos, "name": f"S{next_number('sel')} ({len(pos):,} cells)"}
    elif had and same_map:
        ss.pop(selection_key(kh), None)


def _like_these(b: Bundle, kh: str, sel: dict) -> None:
    """Put the selection's most common value per column into the condition widgets and ask to generate."""
    req = majority_request(b.model, sel["idx"])
    for c, v in req.items():
        st.session_state[f"g_{kh}_{c}"] = v
    st.session_state[GENERATE_NOW] = sel["name"]


def _use_as_end(b: Bundle, kh: str, sel: dict, which: str) -> None:
    st.session_state[end_key(kh, which)] = {"idx": sel["idx"], "ids": selection_ids(b.model, sel["idx"]),
                                           "name": sel["name"], "majority": majority_request(b.model, sel["idx"])}
    st.toast(f"Selection {sel['name']} is the trajectory's {which}; run it on the Trajectory page.")


def makeup_text(b: Bundle, idx) -> str:
    """'cell_type: B 75% · A 25%; phase: …' (three values per column at most)."""
    mk = selection_makeup(b.model, idx)
    parts = []
    for c in b.conditions:
        rows = mk[mk.column == c].head(3)
        parts.append(f"**{c}**: " + " · ".join(f"{r.value} {r.share:.0%}" for r in rows.itertuples()))
    return "; ".join(parts)


def selection_panel(b: Bundle, kh: str) -> dict | None:
    """The current selection: its size and label make-up, and what can be done with it."""
    sel = st.session_state.get(selection_key(kh))
    if not sel:
        st.caption("**Select cells**: drag a lasso or box on the map (the tools are at its top right) around training "
                   "cells to see their labels, generate more like them or use them as a trajectory's end; "
                   "a double-click on the map or **Clear selection** clears it.")
        return None
    with st.container(border=True, key="sel_panel"):
        st.markdown(f"**Selection {sel['name']}** of training cells — {makeup_text(b, sel['idx'])}")
        row = st.container(horizontal=True, key="sel_buttons")  # buttons wrap on narrow screens
        # the click's callback asks for a generation; the Generate page's map fragment then reruns the whole page
        row.button("Generate more like these", key="sel_like", icon=":material/auto_awesome:",
                   on_click=_like_these, args=(b, kh, sel),
                   help="Generates cells (with the settings on the left) for the most common value per "
                        "condition column among the selected cells.")
        row.button("Use as trajectory start", key="sel_start", on_click=_use_as_end, args=(b, kh, sel, "start"))
        row.button("Use as trajectory end", key="sel_end", on_click=_use_as_end, args=(b, kh, sel, "end"))
        if row.button("Clear selection", key="sel_clear"):
            st.session_state.pop(selection_key(kh), None)
            st.rerun(scope="fragment")
        ends = [f"{w}: {st.session_state[end_key(kh, w)]['name']}" for w in ENDS if end_key(kh, w) in st.session_state]
        if ends:
            st.caption("Trajectory " + ", ".join(ends) + ".")
            st.page_link("pages/trajectory.py", label="Open the Trajectory page", icon=":material/timeline:")
    return sel


def trajectory_end_note(kh: str, which: str, column: str) -> dict | None:
    """On the Trajectory page: the selection used as this end (with a button to go back to a label), or None."""
    sel = st.session_state.get(end_key(kh, which))
    if not sel:
        return None
    label = sel["majority"].get(column)
    c1, c2 = st.columns([3, 1])
    c1.info(f"**{which.capitalize()}**: selection {sel['name']} from the Generate map; its cells are the "
            f"{which} cells, conditioned on its most common {column}, **{label}**.", icon=":material/gesture_select:")
    if c2.button("Use a label", key=f"t_sel_drop_{which}", help=f"Forget the selection; the {which} is a value again."):
        st.session_state.pop(end_key(kh, which), None)
        st.rerun()
    return sel


def trajectory_end(b: Bundle, kh: str, which: str, column: str, label: str):
    """(what ``SCDiffModel.trajectory`` takes as this end, its label, its name): the kept selection as a
    :class:`~scdiff_core.trajectory.sets.CellSet` conditioned on its most common value of ``column``, or
    the chosen label."""
    sel = st.session_state.get(end_key(kh, which))
    if not sel:
        return label, label, label
    from scdiff_core.trajectory import cell_set

    m = b.model
    cells = sel["ids"]
    if "space" not in m.reference:  # a gene-space checkpoint stores no encoded training cells: give the cells
        from .bundle import held_out

        cells = held_out(b)[0].train[sel["ids"]]
    lab = sel["majority"][column]
    return cell_set(m, cells, label=lab, column=column, name=f"selection {sel['name']}"), lab, f"selection {sel['name']}"
