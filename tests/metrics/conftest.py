"""Fixtures shared by the tests of scdiff_core.metrics: synthetic sets, a reference space, a report.

Session-scoped (computed once for all files here; the report runs the real, slow random forest).
Tests must not modify them: they copy what they change.
"""
from __future__ import annotations

import pytest
from metrics_synthetic import make_cells

import scdiff_core.metrics as metrics_module
from scdiff_core.metrics import ReferenceSpace, evaluate, rf_auroc


@pytest.fixture(scope="session")
def data():
    return {
        "train": make_cells(80, seed=1),
        "test": make_cells(50, seed=2),
        "control": make_cells(50, seed=3),
        "gen_good": make_cells(50, seed=4),
        "gen_bad": make_cells(50, seed=5, shift=1.0),
    }


@pytest.fixture
def fast_rf(monkeypatch):
    """Replace the (slow: 1000 trees per call) random-forest test inside evaluate by a stub.

    Used by tests about something else than the classifier test; the real one is exercised by
    test_rf_auroc_same_vs_shifted, the ``report`` fixture and test_shifted_generated_is_worse_than_control.
    """
    monkeypatch.setattr(metrics_module, "rf_auroc",
                        lambda a, b, seed=0: float("nan") if min(len(a), len(b)) < 10 else 0.5)


@pytest.fixture(scope="session")
def reference(data):
    return ReferenceSpace(data["train"], "cell_type", seed=0)


@pytest.fixture(scope="session")
def report(data, reference):
    with pytest.MonkeyPatch.context() as mp:  # always the real classifier test, whatever ran before
        mp.setattr(metrics_module, "rf_auroc", rf_auroc)
        return evaluate(data["gen_good"], train=data["train"], test=data["test"], control=data["control"],
                        label_key="cell_type", reference=reference)
