"""Phase fidelity: cell-cycle phases scored together with the training cells (scdiff_core.metrics.phases)."""
from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp
from metrics_synthetic import make_cycling

from scdiff_core.metrics import evaluate


def test_phase_fidelity_of_real_cells_is_high(fast_rf):
    train, test, control = make_cycling(60, 10), make_cycling(30, 11), make_cycling(30, 12)
    rep = evaluate(control.copy(), train=train, test=test, control=control, label_key=None,
                   phase_key="phase")
    s = rep.summary()
    assert (s["phase_fidelity"] > 0.6).all()
    assert s["label_fidelity"].isna().all()
    # a sparse training matrix is scored the same way
    train_sp = train.copy()
    train_sp.X = sp.csr_matrix(train_sp.X)
    rep_sp = evaluate(control.copy(), train=train_sp, test=test, control=None, label_key=None, phase_key="phase")
    assert rep_sp.summary().iloc[0]["phase_fidelity"] == pytest.approx(s.iloc[0]["phase_fidelity"])
    # shuffled requested phases: fidelity drops to chance level
    wrong = control.copy()
    wrong.obs["phase"] = np.roll(wrong.obs["phase"].to_numpy(), 30)
    rep2 = evaluate(wrong, train=train, test=test, control=None, label_key=None, phase_key="phase")
    assert rep2.summary().iloc[0]["phase_fidelity"] < 0.4
    # cells with no requested phase ('any') are left out of the fraction
    partial = control.copy()
    partial.obs["phase"] = partial.obs["phase"].astype(object)
    partial.obs.iloc[:30, partial.obs.columns.get_loc("phase")] = "any"
    rep3 = evaluate(partial, train=train, test=test, control=None, label_key=None, phase_key="phase")
    assert rep3.summary().iloc[0]["phase_fidelity"] > 0.6


def test_phase_fidelity_nan_without_marker_genes(data, reference, fast_rf):
    gen = data["gen_good"].copy()
    gen.obs["phase"] = "G1"
    rep = evaluate(gen, train=data["train"], test=data["test"], control=None, label_key="cell_type",
                   reference=reference, phase_key="phase", per_label=False)
    assert math.isnan(rep.summary().iloc[0]["phase_fidelity"])
    assert any("Phase fidelity not computed" in n for n in rep.notes)
