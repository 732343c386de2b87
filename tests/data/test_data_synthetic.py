"""Tests for scdiff_core.data.synthetic."""

from __future__ import annotations

import numpy as np

from scdiff_core import data as D

def test_make_synthetic_shape():
    a = D.make_synthetic(n_cells=50, n_genes=30, n_types=4, seed=2)
    assert a.shape == (50, 30) and set(a.obs["cell_type"]) <= set("ABCD")
    assert set(a.obs["phase"]) <= {"G1", "S", "G2M"}
    assert len(D.cell_cycle_genes(a.var_names)) == 10
    assert D.detect_kind(a.X) == "counts"
    b = D.make_synthetic(n_cells=50, n_genes=30, n_types=4, seed=2, counts=False)
    assert D.detect_kind(b.X) == "lognorm"
    np.testing.assert_array_equal(a.X, D.make_synthetic(n_cells=50, n_genes=30, n_types=4, seed=2).X)
