"""The app's frame (page settings, its own navigation, the model picker) around every page.

A ``pages/`` folder beside ``app.py`` makes Streamlit start in its legacy multipage mode, which
lists every file of the folder as a page and runs a requested page's script on its own (without
``app.py``), until some session calls ``st.navigation`` ("as soon as any session of your app
executes the st.navigation command, your app will ignore the pages/ directory", Streamlit's
st.navigation docs). Public means keep that mode invisible:

* ``.streamlit/config.toml`` sets ``client.showSidebarNavigation = false``: the automatic list of
  files is never drawn; :func:`app_frame` draws the app's own links with ``st.page_link``
  (and registers the pages with ``st.navigation(..., position="hidden")``);
* every page script starts with :func:`require_frame`. Normally app.py has just drawn the frame
  and run the page; on a fresh server, a first request for a page's URL runs the page script
  alone, and :func:`require_frame` runs the frame and the page as app.py does (its
  ``st.navigation`` call ends the legacy mode, so later runs go through app.py).
"""
from __future__ import annotations

import streamlit as st

#: (script, title, icon); the first page is the default one.
PAGES = (
    ("pages/generate.py", "Generate", ":material/scatter_plot:"),
    ("pages/trajectory.py", "Trajectory", ":material/timeline:"),
    ("pages/denoising.py", "Denoising", ":material/animation:"),
    ("pages/evaluate.py", "Evaluate", ":material/fact_check:"),
    ("pages/models.py", "Models", ":material/model_training:"),
)
_VIA_APP = "_via_app"  # session-state flag: set by run_page (app.py), taken by require_frame (the page)


def app_pages() -> list:
    """The app's pages as ``st.Page`` objects (paths relative to app.py)."""
    return [st.Page(path, title=title, icon=icon, default=i == 0) for i, (path, title, icon) in enumerate(PAGES)]


def app_frame():
    """Page settings, the pages (hidden navigation) with a link to each in the sidebar, kept widget
    settings and the model picker; returns the page to run (``st.navigation``'s choice)."""
    st.set_page_config(page_title="scdiff: single-cell diffusion", page_icon=":material/scatter_plot:",
                       layout="wide")
    from .sessionstore import token

    token()  # this session's results folder (URL parameter s): a reload brings its results back
    pages = app_pages()
    nav = st.navigation(pages, position="hidden")
    with st.sidebar:
        for page in pages:
            st.page_link(page)
    # imported here, after the links are drawn: the picker's modules import numpy and pandas
    from .sidebar import model_picker

    model_picker()
    return nav


def run_page(nav) -> None:
    """Run the chosen page inside app.py's frame."""
    st.session_state[_VIA_APP] = True
    nav.run()


def require_frame() -> None:
    """First call of every page script: if Streamlit ran this script on its own, run it inside the frame.

    The page then runs as app.py would run it (``st.navigation`` picks it from the requested URL),
    so its widgets get the same identities as in every later run; this run of the script alone
    stops there.
    """
    if st.session_state.pop(_VIA_APP, False):
        return
    run_page(app_frame())
    st.stop()
