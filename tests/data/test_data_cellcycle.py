"""Tests for scdiff_core.data.cellcycle: the marker gene lists, gene matching and phase scoring."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from scdiff_core import data as D
from scdiff_core.data import cellcycle
from scdiff_core.errors import DataError

def test_cell_cycle_lists():
    assert len(D.S_GENES) == 43 and len(set(D.S_GENES)) == 43
    assert len(D.G2M_GENES) == 54 and len(set(D.G2M_GENES)) == 54
    assert not set(D.S_GENES) & set(D.G2M_GENES)


def test_cell_cycle_genes_casing():
    names = ["Mcm5", "foo", "PCNA", "cdk1", "Hmgb2", "Tyms"]
    assert D.cell_cycle_genes(names) == ["Mcm5", "PCNA", "Tyms", "Hmgb2", "cdk1"]
    assert D.cell_cycle_genes(["a", "b"]) == []


def test_score_phase_recovers_phase(syn):
    ad = D.select_matrix(D.make_synthetic(n_cells=300, n_genes=60, seed=0, counts=False))
    before = ad.X.copy()
    obs_cols = list(ad.obs.columns)
    phase = D.score_phase(ad)
    assert isinstance(phase, pd.Series) and list(phase.index) == list(ad.obs_names)
    assert set(phase) <= {"G1", "S", "G2M"}
    acc = float((phase.to_numpy() == ad.obs["phase"].astype(str).to_numpy()).mean())
    assert acc > 0.55, acc  # chance is ~0.33-0.5
    np.testing.assert_array_equal(ad.X, before)
    assert list(ad.obs.columns) == obs_cols
    # deterministic
    assert phase.equals(D.score_phase(ad))


def test_score_phase_too_few_genes(tiny):
    a = tiny()
    a.var_names = ["Mcm5", "Pcna", "g2", "Cdk1", "Hmgb2", "Ube2c", "g6", "g7"]
    with pytest.raises(DataError, match="only 2 S-phase and 3 G2M genes"):
        D.score_phase(a)


def test_phase_constants():
    assert D.PHASES == ("G1", "S", "G2M")
    assert D.MIN_PHASE_GENES == 3
    assert not hasattr(cellcycle, "_MIN_PHASE_GENES")  # one definition, the public one


def test_match_genes_casing_order_and_duplicates():
    names = ["pcna", "Mcm5", "MCM5", "x"]
    # wanted order, the data's first casing, no duplicates
    assert cellcycle._match_genes(["MCM5", "PCNA", "Mcm5", "ABSENT"], names) == ["Mcm5", "pcna"]
    assert cellcycle._match_genes([], names) == []


def test_score_phase_with_exactly_min_phase_genes(syn):
    # exactly MIN_PHASE_GENES S and G2M genes are enough; one fewer is not
    keep = ["Mcm5", "Pcna", "Tyms", "Hmgb2", "Cdk1", "Nusap1"] + [f"g{i}" for i in range(10, 60)]
    ad = syn[:, keep].copy()
    ad.X = D.lognormalize(ad.X)
    phase = D.score_phase(ad)
    assert len(phase) == ad.n_obs and set(phase) <= set(D.PHASES)
    with pytest.raises(DataError, match="only 2 S-phase and 3 G2M genes"):
        D.score_phase(ad[:, keep[1:]].copy())
