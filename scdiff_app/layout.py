"""Page layout that also reads on narrow screens (800 px), with public means only: a keyed container
(``st.container(key=...)`` gives it the CSS class ``st-key-<key>``) and a small style block (``st.html``).

Below :data:`STACK_BELOW` pixels of window width the controls column and the results column of a page
stack (each full width) instead of sharing the row: beside the sidebar, a controls column of a third of
800 px is too narrow for its labels.
"""
from __future__ import annotations

import streamlit as st

STACK_BELOW = 1100
_KEY = "page_cols"
_STYLE = f"""<style>
@media (max-width: {STACK_BELOW}px) {{
  .st-key-{_KEY} [data-testid="stHorizontalBlock"]:not([data-testid="stColumn"] *) {{ flex-wrap: wrap; }}
  .st-key-{_KEY} [data-testid="stColumn"]:not([data-testid="stColumn"] *) {{
    flex: 1 1 100% !important; width: 100% !important; min-width: 100% !important; }}
}}
/* words never break inside: labels and captions wrap at spaces only */
[data-testid="stWidgetLabel"] p, [data-testid="stMetricLabel"] p, [data-testid="stCaptionContainer"] p,
[data-testid="stMarkdownContainer"] p {{ word-break: normal; overflow-wrap: normal; }}
</style>"""


def page_columns(spec=(1, 2.3)):
    """The controls column and the results column of a page (stacked on narrow screens)."""
    st.html(_STYLE)
    with st.container(key=_KEY):
        return st.columns(list(spec), gap="medium")
