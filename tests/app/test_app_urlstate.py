"""Settings in the URL (st.query_params): written by Generate and Trajectory, read back by a fresh
session, so a shared link reopens the same view (AppTest); settings also survive page switches."""
from __future__ import annotations

import pytest

from apptest_helpers import APP, by_label, new_app, ok


def fresh(url: dict):
    """A new session opened from a link holding ``url``'s parameters."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params.update(url)
    at.run()
    return at


def test_generate_settings_go_to_the_url_and_back(env):
    at = new_app()
    by_label(at.selectbox, "cell_type").set_value("C")
    by_label(at.selectbox, "phase").set_value("S")
    by_label(at.radio, "Guidance").set_value("classifier").run()
    by_label(at.slider, "cell_type").set_value(4.0)
    by_label(at.number_input, "Cells").set_value(500)
    by_label(at.number_input, "Seed").set_value(7)
    by_label(at.number_input, "Steps").set_value(20)
    at.run()
    ok(at)
    url = {k: v[0] if isinstance(v, list) else v for k, v in at.query_params.items()}
    assert url["model"] == "tiny" and url["cell_type"] == "C" and url["phase"] == "S"
    assert url["mode"] == "classifier" and url["n"] == "500" and url["seed"] == "7" and url["steps"] == "20"
    assert float(url["s_classifier_cell_type"]) == 4.0

    again = fresh(url)  # a reload / a shared link
    ok(again)
    assert by_label(again.selectbox, "cell_type").value == "C" and by_label(again.selectbox, "phase").value == "S"
    assert by_label(again.radio, "Guidance").value == "classifier"
    assert by_label(again.slider, "cell_type").value == 4.0
    assert by_label(again.number_input, "Cells").value == 500 and by_label(again.number_input, "Seed").value == 7
    assert by_label(again.number_input, "Steps").value == 20


def test_bad_url_values_are_ignored(env):
    at = fresh({"cell_type": "nonsense", "n": "abc", "seed": "-5", "steps": "99999", "model": "nope"})
    ok(at)
    assert by_label(at.selectbox, "cell_type").value != "nonsense"
    assert by_label(at.number_input, "Cells").value == 1000
    assert by_label(at.number_input, "Seed").value == 0  # clipped to the smallest seed
    assert by_label(at.number_input, "Steps").value == 1000  # clipped to the largest


def test_trajectory_settings_go_to_the_url_and_back(env):
    at = new_app()
    at.switch_page("pages/trajectory.py").run()
    by_label(at.selectbox, "Start").set_value("B")
    by_label(at.selectbox, "End").set_value("C")
    by_label(at.number_input, "Points (λ values)").set_value(6)
    by_label(at.slider, "t_start: how far the start cells are noised").set_value(0.8)
    at.run()
    ok(at)
    url = {k: v[0] if isinstance(v, list) else v for k, v in at.query_params.items()}
    assert url["start"] == "B" and url["end"] == "C" and url["points"] == "6" and float(url["t_start"]) == 0.8

    from streamlit.testing.v1 import AppTest

    again = AppTest.from_file(APP, default_timeout=120)
    again.query_params.update(url)
    again.switch_page("pages/trajectory.py").run()
    ok(again)
    assert by_label(again.selectbox, "Start").value == "B" and by_label(again.selectbox, "End").value == "C"
    assert by_label(again.number_input, "Points (λ values)").value == 6
    assert by_label(again.slider, "t_start: how far the start cells are noised").value == 0.8


def test_generate_and_trajectory_settings_survive_page_switches(env):
    at = new_app()
    by_label(at.selectbox, "cell_type").set_value("B")
    by_label(at.radio, "Guidance").set_value("classifier").run()
    by_label(at.number_input, "Cells").set_value(500).run()
    at.switch_page("pages/trajectory.py").run()
    by_label(at.selectbox, "Start").set_value("C")
    by_label(at.selectbox, "End").set_value("A").run()
    at.switch_page("pages/evaluate.py").run()
    at.switch_page("pages/generate.py").run()
    ok(at)
    assert by_label(at.selectbox, "cell_type").value == "B" and by_label(at.radio, "Guidance").value == "classifier"
    assert by_label(at.number_input, "Cells").value == 500
    at.switch_page("pages/trajectory.py").run()
    assert by_label(at.selectbox, "Start").value == "C" and by_label(at.selectbox, "End").value == "A"


def test_field_parse_and_format():
    from scdiff_app.urlstate import Field

    n = Field("n", "k", int, lo=1, hi=100)
    assert n.parse("50") == 50 and n.parse("5e9") == 100 and n.parse("0") == 1 and n.parse("x") is None
    assert n.parse("nan") is None and n.format(7) == "7"
    w = Field("w", "k", float, lo=0.0, hi=10.0)
    assert w.parse("2.5") == 2.5 and w.parse("-1") == 0.0 and w.format(4.0) == "4"
    c = Field("c", "k", str, ["A", "B"])
    assert c.parse("B") == "B" and c.parse("Z") is None
    b = Field("b", "k", bool)
    assert b.parse("1") is True and b.parse("false") is False and b.parse("maybe") is None and b.format(True) == "1"
