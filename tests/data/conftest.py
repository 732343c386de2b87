"""Fixtures for the tests of scdiff_core.data: small synthetic datasets."""

from __future__ import annotations

import anndata
import numpy as np
import pandas as pd
import pytest

from scdiff_core import data as D


@pytest.fixture(scope="module")
def syn() -> anndata.AnnData:
    """300 cells x 60 genes of synthetic counts with cell types and phases."""
    return D.make_synthetic(n_cells=300, n_genes=60, seed=0)


def _tiny(n_cells: int = 12, n_genes: int = 8, seed: int = 0) -> anndata.AnnData:
    rng = np.random.default_rng(seed)
    X = rng.poisson(3.0, size=(n_cells, n_genes)).astype(np.float32) + 1
    obs = pd.DataFrame(
        {"ct": ["A", "B"] * (n_cells // 2), "batch": ["x"] * n_cells},
        index=[f"c{i}" for i in range(n_cells)],
    )
    return anndata.AnnData(X=X, obs=obs, var=pd.DataFrame(index=[f"g{i}" for i in range(n_genes)]))


@pytest.fixture
def tiny():
    """A maker of tiny count datasets (12 cells x 8 genes, obs 'ct' = A/B, 'batch' = x): a fresh
    one per call."""
    return _tiny
