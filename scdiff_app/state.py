"""Widget state that survives page switches.

Streamlit drops the state of widgets that are not drawn in a run, so without
:func:`keep_widget_state` every page would forget its choices after a visit to another page.
"""
from __future__ import annotations

import re

import streamlit as st

#: Keys of the widgets whose values are kept: the Generate (``g_``) and Trajectory (``t_``) controls,
#: the sets shown, the Evaluate choices, the model card picked and the training form.
PERSIST = re.compile(r"^(g_|t_|gen_show_|ev_src$|ev_per_label$|ev_only$|ev_[0-9a-f]{6}_set$|mc_pick$"
                     r"|tr_(conds|name|preset|threads)$)")


def keep_widget_state() -> None:
    """Keep the pages' settings when the user switches pages.

    Re-assigning a key makes it ordinary session state (buttons and file uploaders, which cannot
    be assigned, are not matched by :data:`PERSIST`).
    """
    for k in list(st.session_state.keys()):
        if isinstance(k, str) and PERSIST.match(k):
            st.session_state[k] = st.session_state[k]
