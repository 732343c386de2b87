"""The reference space fitted on training cells (scdiff_core.metrics.reference)."""
from __future__ import annotations

import numpy as np
import pytest
from metrics_synthetic import N_GENES

from scdiff_core.metrics import ReferenceSpace


def test_reference_space(data, reference):
    assert reference.n_pcs == min(50, N_GENES - 1, data["train"].n_obs - 1)
    assert reference.bandwidth > 0
    assert reference.sigma2s == pytest.approx([f * reference.bandwidth for f in (0.25, 0.5, 1, 2, 4)])
    Z = reference.project(data["test"])
    assert Z.shape == (data["test"].n_obs, reference.n_pcs)
    np.testing.assert_allclose(reference.project(data["test"].X), Z)


def test_reference_space_with_a_single_label(data):
    train = data["train"]
    one = train[train.obs["cell_type"] == "a"].copy()
    ref = ReferenceSpace(one, "cell_type")
    assert ref.classifier is None and any("single 'cell_type' value" in n for n in ref.notes)
    assert list(ref.predict_labels(ref.project(data["test"]))) == ["a"] * data["test"].n_obs
