"""The Streamlit app's shared code (``app.py`` and the page scripts in ``pages/`` import it).

The pages only lay out widgets and call these helpers; modelling and summaries are done by
``scdiff_core`` (:mod:`scdiff_core.summaries`, :mod:`scdiff_core.uploads`, the model itself).

What lives where:

* :mod:`.settings`: folders (shipped checkpoints, the user's models, jobs, uploads), limits, threads;
* :mod:`.navigation`: the app's pages, their sidebar links, and leaving Streamlit's legacy
  ``pages/`` mode with public API only;
* :mod:`.sidebar`: the model picker drawn on every page;
* :mod:`.state`: widget settings kept across page switches;
* :mod:`.checkpoints`: checkpoint discovery, the picked checkpoint, config.json (cached);
* :mod:`.bundle`: the loaded model (``Bundle``, cached per server, with the library's label predictor), warm-ups,
  the held-out real cells;
* :mod:`.results`: this session's results (records), their names and bounds;
* :mod:`.feedback`: errors as messages and progress bars;
* :mod:`.downloads`: .h5ad / CSV downloads;
* :mod:`.uploads`: uploaded files (cells to evaluate, training data);
* :mod:`.jobs`: background ``scdiff train`` runs started from the app;
* :mod:`.benchfigs`: a checkpoint's benchmark results and docs/benchmarks.md section;
* :mod:`.figures`: the plotly figures (maps, expression, trajectory, evaluation, model cards).

Sharing rules: objects returned by ``st.cache_resource`` (the loaded model, the held-out real
cells) are shared by every browser session and are never modified; each session's own results
(generated sets, trajectories, evaluation reports) live in ``st.session_state``.
"""
