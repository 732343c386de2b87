"""The Generate map's selection of training cells (AppTest): the chart asks for selection events, a
selection shows its make-up, "Generate more like these" generates for its most common labels, and a
selection becomes a trajectory's start and end on the Trajectory page."""
from __future__ import annotations

import hashlib
import json

import numpy as np

from apptest_helpers import by_label, generate, new_app, ok, texts


def _kh(at) -> str:
    rec = next(iter(at.session_state["results"].values()))
    return hashlib.sha1(rec["ckpt"].rsplit("@", 1)[0].encode()).hexdigest()[:6]


def _training_codes(at, column: str) -> np.ndarray:
    from scdiff_core.model import SCDiffModel

    rec = next(iter(at.session_state["results"].values()))
    m = SCDiffModel.load(rec["ckpt"].rsplit("@", 1)[0])
    return m, np.asarray(m.vocab[column], dtype=object)[m.reference[f"label_{column}"]]


def test_map_selection_generates_more_like_it_and_feeds_the_trajectory(env):
    at = new_app()
    chart = at.get("plotly_chart")[0].proto
    assert chart.selection_mode and json.loads(chart.config)["toImageButtonOptions"]["format"] == "svg"
    assert "lasso or box" in texts(at.caption)
    generate(at, "A", "any", n=60)
    ok(at)
    kh = _kh(at)
    m, types = _training_codes(at, "cell_type")
    c_cells = np.flatnonzero(types == "C")[:30]
    at.session_state[f"sel_{kh}"] = {"idx": c_cells, "name": "S1 (30 cells)"}
    at.run()
    ok(at)
    assert "Selection S1 (30 cells)" in texts(at.markdown) and "C 100%" in texts(at.markdown)

    at.button(key="sel_like").click().run()
    ok(at)
    recs = list(at.session_state["results"].values())
    assert len(recs) == 2 and recs[-1]["params"]["like_selection"] == "S1 (30 cells)"
    assert recs[-1]["params"]["request"]["cell_type"] == "C"
    assert by_label(at.selectbox, "cell_type").value == "C"  # the controls show what was asked for

    at.button(key="sel_start").click().run()
    a_cells = np.flatnonzero(types == "A")[:25]
    at.session_state[f"sel_{kh}"] = {"idx": a_cells, "name": "S2 (25 cells)"}
    at.run()
    at.button(key="sel_end").click().run()
    ok(at)
    assert "Trajectory start: S1 (30 cells), end: S2 (25 cells)" in texts(at.caption)

    at.switch_page("pages/trajectory.py").run()
    ok(at)
    assert "selection S1 (30 cells)" in texts(at.info) and "S2 (25 cells)" in texts(at.info)
    by_label(at.number_input, "Points (λ values)").set_value(3)
    by_label(at.number_input, "Cells per point").set_value(20)
    at.run()
    at.button(key="traj_go").click().run()
    ok(at)
    rec = list(at.session_state["results"].values())[-1]
    assert rec["kind"] == "trajectory" and "selection S1" in rec["name"] and "selection S2" in rec["name"]
    assert rec["params"]["start"] == "C" and rec["params"]["end"] == "A"  # the sets' most common labels
    at.button(key="t_sel_drop_start").click().run()
    ok(at)
    assert "S1 (30 cells)" not in texts(at.info)


def test_side_by_side_panels(env):
    at = new_app()
    generate(at, "A", "any", n=40)
    generate(at, "B", "any", n=40)
    by_label(at.toggle, "Side by side").set_value(True).run()
    ok(at)
    fig = json.loads(at.get("plotly_chart")[0].proto.spec)
    axes = [k for k in fig["layout"] if k.startswith("xaxis")]
    assert len(axes) == 2 and fig["layout"]["dragmode"] == "lasso"
    grey = [t for t in fig["data"] if t["name"] == "training cells"]
    assert len(grey) == 2 and all("customdata" in t for t in grey)
