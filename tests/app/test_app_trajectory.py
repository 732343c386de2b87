"""The Trajectory page, driven headless with streamlit.testing.v1.AppTest."""
from __future__ import annotations

import numpy as np

from apptest_helpers import by_label, n_charts, new_app, ok, texts


def test_trajectory_page(env):
    at = new_app()
    at.switch_page("pages/trajectory.py").run()
    ok(at)
    assert at.title[0].value.startswith("Trajectory")
    assert by_label(at.sidebar.selectbox, "Model").value.startswith("tiny")  # ran through app.py
    assert n_charts(at) == 1
    by_label(at.selectbox, "Start").set_value("A")
    by_label(at.selectbox, "End").set_value("C")
    by_label(at.number_input, "Points (λ values)").set_value(5)
    by_label(at.number_input, "Cells per point").set_value(30)
    by_label(at.slider, "t_start: how far the start cells are noised").set_value(0.5)
    at.run()
    at.button(key="traj_go").click().run()
    ok(at)
    assert {m.label: m.value for m in at.metric}["Cells"] == "150"
    assert n_charts(at) >= 3  # UMAP with the λ slider, gene trends, predicted labels along λ
    rec = list(at.session_state["results"].values())[-1]
    a = rec["adata"]
    assert sorted(set(np.round(a.obs["lambda"], 3))) == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert len(by_label(at.multiselect, "Genes").value) > 0
    data_buttons = [d for d in at.get("download_button") if not d.proto.id.endswith("_pdf") and d.proto.label != "PDF"]
    assert len(data_buttons) == 2
    assert any(d.proto.label == "PDF" for d in at.get("download_button"))  # each chart's PDF beside it


def test_trajectory_absurd_size_and_same_states(env):
    at = new_app()
    at.switch_page("pages/trajectory.py").run()
    by_label(at.number_input, "Points (λ values)").set_value(50)
    by_label(at.number_input, "Cells per point").set_value(1000)
    at.run()
    at.button(key="traj_go").click().run()
    assert not at.exception
    assert "more than the app" in texts(at.error)
    by_label(at.number_input, "Points (λ values)").set_value(3)
    by_label(at.number_input, "Cells per point").set_value(10)
    by_label(at.selectbox, "Start").set_value("B")
    by_label(at.selectbox, "End").set_value("B")
    at.run()
    at.button(key="traj_go").click().run()
    assert not at.exception
    assert "same" in texts(at.error)
    assert not at.session_state["results"]  # nothing half-made kept
