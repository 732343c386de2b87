"""Tests for scdiff_core.data.matrix: choosing the matrix, checking values, detect_kind, lognormalize."""

from __future__ import annotations

import anndata
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from scdiff_core import data as D
from scdiff_core.data import matrix
from scdiff_core.errors import DataError

def test_detect_kind_counts_dense_sparse_int(syn):
    assert D.detect_kind(syn.X) == "counts"
    assert D.detect_kind(sp.csr_matrix(syn.X)) == "counts"
    assert D.detect_kind(sp.csc_matrix(syn.X)) == "counts"
    assert D.detect_kind(np.asarray(syn.X, dtype=np.int64)) == "counts"


def test_detect_kind_lognorm_dense_sparse(syn):
    ln = D.lognormalize(syn.X)
    assert D.detect_kind(ln) == "lognorm"
    assert D.detect_kind(sp.csr_matrix(ln)) == "lognorm"


def test_detect_kind_samples_large_matrix():
    rng = np.random.default_rng(1)
    X = rng.poisson(1.0, size=(2500, 5)).astype(np.float32)
    assert D.detect_kind(X) == "counts"
    assert D.detect_kind(np.log1p(X) + 0.01) == "lognorm"


def test_detect_kind_scaled_negative(syn):
    ln = D.lognormalize(syn.X)
    z = (ln - ln.mean(0)) / (ln.std(0) + 1e-6)
    with pytest.raises(DataError, match="scaled/centred.*use-raw.*layer"):
        D.detect_kind(z)
    Xs = sp.csr_matrix(np.array([[0.0, -1.5], [2.0, 0.0]]))
    with pytest.raises(DataError, match="negative values"):
        D.detect_kind(Xs)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_detect_kind_nan_inf(bad):
    X = np.ones((4, 3), dtype=np.float32)
    X[2, 1] = bad
    with pytest.raises(DataError, match="NaN or infinite values; remove or impute"):
        D.detect_kind(X)
    with pytest.raises(DataError, match="NaN or infinite"):
        D.detect_kind(sp.csr_matrix(X))


def test_detect_kind_unlogged():
    X = np.array([[100.5, 0.0], [3.25, 40.0]])
    with pytest.raises(DataError, match="log-normalize|Log-normalize"):
        D.detect_kind(X)


def test_detect_kind_non_numeric():
    with pytest.raises(DataError, match="non-numeric"):
        D.detect_kind(np.array([["a", "b"]]))


def test_lognormalize_sums_and_zero_rows(syn):
    X = np.array(syn.X[:20])
    X[3] = 0
    before = X.copy()
    for inp in (X, sp.csr_matrix(X)):
        out = D.lognormalize(inp)
        assert isinstance(out, np.ndarray) and out.dtype == np.float32 and out.shape == X.shape
        assert np.all(np.isfinite(out))
        sums = np.expm1(out.astype(np.float64)).sum(1)
        nz = np.arange(20) != 3
        np.testing.assert_allclose(sums[nz], 1e4, rtol=1e-4)
        assert np.all(out[3] == 0)
    np.testing.assert_array_equal(X, before)  # input untouched


def test_select_matrix_x_layer_raw(tiny):
    a = tiny()
    a.layers["counts"] = sp.csr_matrix(a.X.astype(np.int32))
    a.raw = a.copy()
    out = D.select_matrix(a)
    assert out.X.dtype == np.float32 and out is not a and out.uns["scdiff_matrix"] == "X"
    out.obs["new"] = 1
    assert "new" not in a.obs
    lay = D.select_matrix(a, layer="counts")
    assert sp.issparse(lay.X) and lay.X.dtype == np.float32
    assert lay.uns["scdiff_matrix"] == "layers/counts"
    # raw with a different gene set
    b = tiny()
    b.raw = anndata.AnnData(X=sp.csr_matrix(np.ones((12, 5))), obs=b.obs,
                            var=pd.DataFrame(index=[f"r{i}" for i in range(5)]))
    r = D.select_matrix(b, use_raw=True)
    assert list(r.var_names) == [f"r{i}" for i in range(5)] and sp.issparse(r.X)
    assert r.X.dtype == np.float32 and list(r.obs_names) == list(b.obs_names)


def test_select_matrix_errors(tiny):
    a = tiny()
    a.layers["spliced"] = a.X.copy()
    with pytest.raises(DataError, match="Layer 'counts' not found.*'spliced'"):
        D.select_matrix(a, layer="counts")
    with pytest.raises(DataError, match="no .raw"):
        D.select_matrix(a, use_raw=True)
    with pytest.raises(DataError, match="choose one"):
        D.select_matrix(a, layer="spliced", use_raw=True)



def test_dense_float32():
    X = np.array([[1, 0], [0, 2]], dtype=np.int64)
    for inp in (X, sp.csr_matrix(X), sp.csc_matrix(X)):
        out = matrix._dense_float32(inp)
        assert isinstance(out, np.ndarray) and out.dtype == np.float32
        np.testing.assert_array_equal(out, X)
    f = np.ones((2, 2), dtype=np.float32)
    assert matrix._dense_float32(f) is f  # already dense float32: no copy


def test_layer_list():
    a = anndata.AnnData(X=np.ones((2, 2), dtype=np.float32))
    assert matrix._layer_list(a) == "none"
    a.layers["counts"] = a.X.copy()
    a.layers["spliced"] = a.X.copy()
    assert matrix._layer_list(a) == "'counts', 'spliced'"


def test_integer_check_sample():
    small = np.arange(12, dtype=np.float32).reshape(4, 3)
    assert matrix._integer_check_sample(small, small) is small  # few cells: all values
    big = np.arange(3 * 2500, dtype=np.float32).reshape(2500, 3)
    sample = matrix._integer_check_sample(big, big)
    assert sample.shape == (2000, 3)
    assert np.all(np.diff(sample[:, 0]) > 0)  # rows kept in order
    np.testing.assert_array_equal(sample, matrix._integer_check_sample(big, big))  # deterministic
    sparse = sp.csr_matrix(big)
    np.testing.assert_array_equal(matrix._integer_check_sample(sparse.data, sparse), sample[sample != 0])
