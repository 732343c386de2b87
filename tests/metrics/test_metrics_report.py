"""Saving and reloading an evaluation report (scdiff_core.metrics.report)."""
from __future__ import annotations

import json

import pandas as pd

from scdiff_core.metrics import EvaluationReport


def test_report_roundtrip(report):
    d = report.to_dict()
    text = json.dumps(d, allow_nan=False)  # NaN must have become None
    back = EvaluationReport.from_dict(json.loads(text))
    pd.testing.assert_frame_equal(back.table, report.table)
    assert back.settings == json.loads(json.dumps(report.settings, default=float))
    assert back.notes == report.notes
    assert d["table"][0]["phase_fidelity"] is None


def test_headline_is_the_row_of_what_was_asked_for(data, reference, fast_rf):
    """One label asked for: its own row and control row; several labels or none: the 'all' row."""
    from metrics_synthetic import make_cells

    from scdiff_core.metrics import evaluate
    from scdiff_core.metrics.report import headline_rows, headline_scope

    gen = make_cells({"b": 40}, seed=8)
    calls = []
    rep = evaluate(gen, train=data["train"], test=data["test"], control=data["control"], label_key="cell_type",
                   reference=reference, progress=lambda done, total: calls.append((done, total)))
    assert calls and calls[-1][0] == calls[-1][1] == len(rep.table)  # one call per row, the last says done
    assert [d for d, _ in calls] == list(range(1, len(rep.table) + 1))
    scope, phase, g, c = headline_rows(rep, gen, "cell_type", ["cell_type"])
    assert (scope, phase) == ("b", None)
    assert (g["set"], g["scope"], c["set"], c["scope"]) == ("generated", "b", "control", "b")
    mixed = make_cells({"a": 20, "b": 20}, seed=9)
    assert headline_scope(mixed, rep.table, "cell_type", ["cell_type"]) == ("all", None)
    mixed.obs["cell_type"] = "any"
    assert headline_scope(mixed, rep.table, "cell_type", ["cell_type"])[0] == "all"
