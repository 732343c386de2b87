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
