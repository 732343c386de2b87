"""Selections of training cells (scdiff_core.selection) and marker genes (scdiff_core.markers) on tiny
synthetic data."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from scdiff_core.errors import ScdiffError
from scdiff_core.markers import MARKER_COLUMNS, rank_markers
from scdiff_core.selection import majority_request, selection_ids, selection_makeup


@pytest.fixture
def fake_model():
    vocab = {"cell_type": ["A", "B", "C"], "phase": ["G1", "S"]}
    return SimpleNamespace(
        conditions=["cell_type", "phase"], vocab=vocab,
        config={"split": {"train": [f"cell{i}" for i in range(6)]}},
        reference={"label_cell_type": np.array([0, 1, 1, 2, 1, 0]), "label_phase": np.array([0, 1, 1, 0, 0, 1])})


def test_selection_makeup_and_majority(fake_model):
    idx = [1, 2, 4, 5, 5]  # a repeat counts once
    assert selection_ids(fake_model, idx) == ["cell1", "cell2", "cell4", "cell5"]
    mk = selection_makeup(fake_model, idx)
    b = mk[(mk.column == "cell_type") & (mk.value == "B")].iloc[0]
    assert b.cells == 3 and b.share == pytest.approx(0.75)
    assert mk[mk.column == "phase"].cells.sum() == 4
    assert majority_request(fake_model, idx) == {"cell_type": "B", "phase": "S"}
    assert majority_request(fake_model, [0, 3]) == {"cell_type": "A", "phase": "G1"}  # ties: vocabulary order


def test_selection_errors(fake_model):
    with pytest.raises(ScdiffError, match="empty"):
        majority_request(fake_model, [])
    with pytest.raises(ScdiffError, match="0…5"):
        selection_ids(fake_model, [6])
    assert selection_makeup(fake_model, []).empty


def test_rank_markers_finds_the_planted_gene():
    rng = np.random.default_rng(0)
    genes = [f"g{i}" for i in range(20)]
    a = rng.gamma(1.0, 0.5, size=(40, 20)).astype(np.float32)
    b = rng.gamma(1.0, 0.5, size=(50, 20)).astype(np.float32)
    a[:, 3] += 3.0  # up in a
    b[:, 7] += 3.0  # down in a
    df = rank_markers(a, b, genes)
    assert list(df.columns) == MARKER_COLUMNS and len(df) == 20
    assert df.gene.iloc[0] == "g3" and df.gene.iloc[-1] == "g7"
    top = df.iloc[0]
    assert top.log2_fold_change > 1 and top.p_adjusted < 1e-6 and top.mean_a > top.mean_b + 2
    assert top.fraction_a == pytest.approx(1.0)
    assert (df.p_adjusted >= df.p_value - 1e-12).all()


def test_rank_markers_takes_anndata_and_checks_sizes():
    import anndata as ad
    import scipy.sparse as sp

    rng = np.random.default_rng(1)
    genes = ["x", "y", "z"]
    a = ad.AnnData(sp.csr_matrix(rng.random((5, 4)).astype(np.float32)))
    a.var_names = ["w", "z", "y", "x"]
    df = rank_markers(a, rng.random((6, 3)), genes)
    assert sorted(df.gene) == genes
    assert df.set_index("gene").mean_a["x"] == pytest.approx(float(a[:, "x"].X.toarray().mean()), rel=1e-5)
    with pytest.raises(ScdiffError, match="at least 2"):
        rank_markers(rng.random((1, 3)), rng.random((6, 3)), genes)
    with pytest.raises(ScdiffError, match="genes"):
        rank_markers(rng.random((4, 2)), rng.random((6, 3)), genes)
