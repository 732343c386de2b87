"""The Denoising page (teaching view), driven headless with streamlit.testing.v1.AppTest."""
from __future__ import annotations

import numpy as np

from apptest_helpers import by_label, n_charts, new_app, ok


def _denoising_result(at):
    return at.session_state["d_result"]


def test_denoising_page_runs_guided_and_unguided(env):
    at = new_app()
    at.switch_page("pages/denoising.py").run()
    ok(at)
    assert at.title[0].value == "Watch the denoising"
    assert n_charts(at) == 0  # nothing until the first run; the explanation is shown instead
    by_label(at.selectbox, "cell_type").set_value("C")
    by_label(at.number_input, "Cells").set_value(60)
    by_label(at.number_input, "Steps").set_value(20)
    by_label(at.slider, "Guidance strength").set_value(3.0)
    at.run()
    at.button(key="d_go").click().run()
    ok(at)
    assert n_charts(at) == 2  # the animated map and the noise curve
    res = _denoising_result(at)
    (g_name, guided), (u_name, plain) = res["movies"]
    assert "strength 3" in g_name and "strength 0" in u_name
    assert guided.xy.shape == plain.xy.shape == (guided.n_frames, 60, 2)
    assert not np.array_equal(guided.cells.X, plain.cells.X)  # the same noise, steered differently
    assert (guided.cells.obs["cell_type"].astype(str) == "C").all()


def test_denoising_without_comparison_and_bad_sizes(env):
    at = new_app()
    at.switch_page("pages/denoising.py").run()
    at.toggle[0].set_value(False)
    by_label(at.number_input, "Cells").set_value(50)
    by_label(at.number_input, "Steps").set_value(10)
    at.run()
    at.button(key="d_go").click().run()
    ok(at)
    assert len(_denoising_result(at)["movies"]) == 1
