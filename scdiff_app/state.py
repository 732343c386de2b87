"""Widget state that survives page switches.

Streamlit drops the state of widgets that are not drawn in a run, so without
:func:`keep_widget_state` every page would forget its choices after a visit to another page. Two
mechanisms, because the first alone is not enough in a browser: re-assigning a key makes it ordinary
session state (Streamlit's documented pattern); but a fragment's rerun on one page drops the widgets
of that fragment that it did not draw, including kept ones, so every kept value is also copied to a
plain dictionary (``_kept``) and put back when its key has gone.
"""
from __future__ import annotations

import re

import streamlit as st

#: Keys of the widgets whose values are kept: the Generate (``g_``) and Trajectory (``t_``) controls,
#: the sets shown, the Evaluate choices, the model card picked and the training form.
PERSIST = re.compile(r"^(g_|t_|gen_show_|ev_src$|ev_per_label$|ev_only$|ev_[0-9a-f]{6}_set$|mc_pick$"
                     r"|tr_(conds|name|preset|threads)$)")
_KEPT = "_kept"


def keep_widget_state() -> None:
    """Keep the pages' settings when the user switches pages (call at the start of every full run).

    Buttons and file uploaders, which cannot be assigned, are not matched by :data:`PERSIST`.
    """
    ss = st.session_state
    kept = ss.setdefault(_KEPT, {})
    for k in list(ss.keys()):
        if isinstance(k, str) and PERSIST.match(k):
            kept[k] = ss[k]
            ss[k] = ss[k]
    for k, v in kept.items():
        if k not in ss:
            ss[k] = v
