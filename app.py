"""scdiff app: generate cells for any combination of conditions, trace trajectories, evaluate, train.

    streamlit run app.py

Shipped checkpoints are read from ``checkpoints/`` (override: ``SCDIFF_CHECKPOINTS``), your own
from ``~/.scdiff/models`` (override: ``SCDIFF_MODELS``; models trained in the app go there).
The pages are ``pages/*.py``; what they share lives in the ``scdiff_app`` package
(``scdiff_app/navigation.py``: the frame drawn around every page).
"""
from scdiff_app.navigation import app_frame, run_page

run_page(app_frame())
