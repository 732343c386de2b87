"""scdiff_core.uploads: files handed over by users, read, checked against a model and described."""
from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from scdiff_core.errors import DataError
from scdiff_core.uploads import as_generated, condition_candidates, describe_training_data, read_h5ad_bytes

GENES = ["g0", "g1", "g2"]


def _cells(X, genes=GENES, obs=None):
    X = np.asarray(X, dtype=np.float32)
    return ad.AnnData(X=X, obs=pd.DataFrame(obs or {}, index=[f"c{i}" for i in range(len(X))]),
                      var=pd.DataFrame(index=genes))


def _bytes(adata, tmp_path) -> bytes:
    p = tmp_path / "x.h5ad"
    adata.write_h5ad(p)
    return p.read_bytes()


def test_read_h5ad_bytes(tmp_path):
    a = _cells(np.ones((2, 3)))
    back = read_h5ad_bytes(_bytes(a, tmp_path), "cells.h5ad")
    assert back.shape == (2, 3) and list(back.var_names) == GENES
    with pytest.raises(DataError, match="empty.h5ad is empty"):
        read_h5ad_bytes(b"", "empty.h5ad")
    with pytest.raises(DataError, match="not an .h5ad file") as e:
        read_h5ad_bytes(b"gene,cell\n1,2\n", "table.h5ad")
    assert "table.h5ad" in str(e.value) and "/tmp" not in str(e.value)  # names the upload, not the temp file


def test_as_generated_lognormalized_values_kept():
    X = np.log1p(np.array([[1, 2, 3, 9], [0, 5, 1, 2]], dtype=np.float32))
    a = _cells(X, ["extra", "g2", "g0", "g1"], {"cell_type": ["A", "B"]})
    a.uns["scdiff"] = {"seconds": 1.5}
    out, notes = as_generated(a, GENES, ["cell_type", "phase"])
    assert notes == [] and list(out.var_names) == GENES and out.var_names.name == "gene"
    np.testing.assert_allclose(out.X, X[:, [2, 3, 1]])  # the model's genes, in the model's order
    assert out.X.dtype == np.float32 and isinstance(out.X, np.ndarray)
    assert isinstance(out.obs["cell_type"].dtype, pd.CategoricalDtype) and out.uns["scdiff"] == {"seconds": 1.5}


def test_as_generated_counts_are_lognormalized():
    counts = sp.csr_matrix(np.array([[1, 3, 6], [0, 0, 10]], dtype=np.float32))
    a = ad.AnnData(X=counts, var=pd.DataFrame(index=GENES))
    out, notes = as_generated(a, GENES)
    assert len(notes) == 1 and "counts" in notes[0]
    np.testing.assert_allclose(out.X, np.log1p(counts.toarray() / counts.toarray().sum(1, keepdims=True) * 1e4),
                               rtol=1e-5)


@pytest.mark.parametrize("adata, message", [
    (_cells(np.ones((2, 3)), ["g0", "g0", "g1"]), "duplicated gene names"),
    (_cells(np.ones((2, 2)), ["g0", "x"]), "genes do not match this model: 2 of the model's 3"),
    (_cells(np.ones((0, 3))), "no cells"),
    (_cells(np.array([[-1.0, 0.5, 2.0], [1.0, 0.0, 0.2]])), "negative values"),
])
def test_as_generated_refuses(adata, message):
    with pytest.raises(DataError, match=message):
        as_generated(adata, GENES)


def test_condition_candidates():
    obs = pd.DataFrame({"cell_type": pd.Categorical(["A", "B", "A", "C"]), "donor": ["d1", "d1", "d2", "d2"],
                        "flag": [True, False, True, True], "one": ["x"] * 4, "id": ["a", "b", "c", "d"],
                        "score": [0.1, 0.2, 0.3, 0.4], "count": [1, 2, 1, 2]})
    assert condition_candidates(obs) == ["cell_type", "donor", "flag", "id"]
    assert condition_candidates(obs, max_values=3) == ["cell_type", "donor", "flag"]


def test_describe_training_data(tmp_path):
    rng = np.random.default_rng(0)
    a = _cells(rng.poisson(2, size=(20, 3)), obs={"cell_type": ["A", "B"] * 10, "phase": ["G1"] * 10 + ["S"] * 10})
    p = tmp_path / "train.h5ad"
    a.write_h5ad(p)
    info = describe_training_data(p)
    assert info == {"path": str(p), "n_obs": 20, "n_vars": 3, "kind": "counts", "use_raw": False,
                    "columns": ["cell_type", "phase"], "has_phase": True}
    (tmp_path / "bad.h5ad").write_bytes(b"nope")
    with pytest.raises(DataError):
        describe_training_data(tmp_path / "bad.h5ad")
