"""Chunked preparation of an .h5ad read from disk equals the in-memory preparation: same cells,
genes, phase, library sizes, values, record and split."""
import gzip
import shutil

import anndata as ad
import numpy as np
import pytest
import scipy.sparse as sp

from scdiff_core.data import load_prepared, make_synthetic
from scdiff_core.data.backed import h5ad_size, open_matrix
from scdiff_core.data.chunked import prepare_chunked
from scdiff_core.errors import DataError
from scdiff_core.train_config import TrainConfig
from scdiff_core.training import split_with_exclusions


@pytest.fixture(scope="module")
def counts_file(tmp_path_factory):
    a = make_synthetic(n_cells=300, n_genes=60, n_types=3, seed=0, counts=True)
    X = a.X.copy()
    X[5] = 0  # an empty cell, dropped
    X[7, :] = 0
    X[7, 59] = 3  # a cell left with counts only outside the selected genes
    a.X = sp.csr_matrix(X)
    p = tmp_path_factory.mktemp("chunked") / "counts.h5ad"
    a.write_h5ad(p)
    return p


@pytest.fixture(scope="module")
def lognorm_file(tmp_path_factory):
    p = tmp_path_factory.mktemp("chunked") / "lognorm.h5ad"
    make_synthetic(n_cells=250, n_genes=60, n_types=3, seed=1, counts=False).write_h5ad(p)
    return p


CASES = [
    ("counts", ["cell_type", "phase"], {}),
    ("counts", ["cell_type", "phase"], dict(max_all_genes=30, n_top_genes=20, compute_phase=True)),
    ("lognorm", ["cell_type", "phase"], dict(max_all_genes=30, n_top_genes=20, compute_phase=True)),
    ("lognorm", ["cell_type"], dict(layer="counts", max_all_genes=30, n_top_genes=20)),
]


@pytest.mark.parametrize("which,conds,kw", CASES, ids=["all-genes", "hvg-v3-phase", "hvg-seurat-phase", "layer"])
def test_chunked_equals_in_memory(counts_file, lognorm_file, tmp_path, which, conds, kw):
    path = counts_file if which == "counts" else lognorm_file
    mem = load_prepared(path, conds, **kw)
    ch = prepare_chunked(path, conds, workdir=tmp_path, chunk_cells=37, **kw)
    assert ch.genes == mem.genes and ch.kind == mem.kind
    assert ch.adata.obs.equals(mem.adata.obs)  # conditions, computed phase, library sizes over all genes
    X, C, L = ch.store.batch(np.arange(ch.store.n_obs)[::-1])
    if mem.kind == "counts":
        assert np.array_equal(C[::-1], mem.adata.layers["counts"])
        assert np.array_equal(L[::-1], mem.adata.obs["total_counts"].to_numpy(np.float32))
    assert np.array_equal(X[::-1], mem.adata.X)
    rec = dict(ch.preprocessing)
    assert rec.pop("data_mode") == "chunked" and rec == mem.preprocessing
    assert (ch.vocab, ch.counts_per_value) == (mem.vocab, mem.counts_per_value)
    cfg = TrainConfig()
    assert split_with_exclusions(ch, cfg) == split_with_exclusions(mem, cfg)
    assert ad.read_h5ad(ch.store.path).X.format == "csr"  # the prepared matrix is an ordinary .h5ad


def test_counts_file_exercises_the_drops(counts_file, tmp_path):
    ch = prepare_chunked(counts_file, ["cell_type", "phase"], workdir=tmp_path, max_all_genes=30, n_top_genes=20)
    rec = ch.preprocessing
    assert rec["n_cells_dropped_empty"] == 1 and "cell5" not in ch.adata.obs_names
    assert rec["gene_selection"]["method"].startswith("highly_variable")
    if "g59" in ch.genes:  # cell 7's only counts are in g59
        assert "cell7" in ch.adata.obs_names and "n_cells_dropped_empty_selected" not in rec
    else:
        assert "cell7" not in ch.adata.obs_names and rec["n_cells_dropped_empty_selected"] == 1


def test_prepared_file_is_reused_and_refreshed(counts_file, tmp_path):
    a = prepare_chunked(counts_file, ["cell_type"], workdir=tmp_path)
    stamp = (tmp_path / "prepared.h5ad").stat().st_mtime_ns
    b = prepare_chunked(counts_file, ["cell_type"], workdir=tmp_path)
    assert (tmp_path / "prepared.h5ad").stat().st_mtime_ns == stamp and b.genes == a.genes
    c = prepare_chunked(counts_file, ["cell_type", "phase"], workdir=tmp_path)  # other options: prepared again
    assert "phase" in c.conditions and (tmp_path / "prepared.h5ad").stat().st_mtime_ns != stamp


def test_dense_matrix_and_chunks(counts_file, tmp_path):
    a = ad.read_h5ad(counts_file)
    a.X = a.X.toarray()
    p = tmp_path / "dense.h5ad"
    a.write_h5ad(p)
    assert h5ad_size(p) == (300, 60)
    om = open_matrix(p)
    try:
        parts = [X.toarray() for _, X in om.matrix.chunks(64)]
        assert np.array_equal(np.vstack(parts), a.X)
        assert np.array_equal(om.matrix.take(np.array([3, 4, 9])).toarray(), a.X[[3, 4, 9]])
    finally:
        om.close()


def test_refusals(counts_file, tmp_path):
    gz = tmp_path / "c.h5ad.gz"
    with open(counts_file, "rb") as src, gzip.open(gz, "wb") as dst:
        shutil.copyfileobj(src, dst)
    with pytest.raises(DataError, match="gunzip"):
        prepare_chunked(gz, ["cell_type"], workdir=tmp_path)
    a = ad.read_h5ad(counts_file)
    a.X = sp.csc_matrix(a.X)
    a.write_h5ad(tmp_path / "csc.h5ad")
    with pytest.raises(DataError, match="CSC"):
        prepare_chunked(tmp_path / "csc.h5ad", ["cell_type"], workdir=tmp_path)
    with pytest.raises(DataError, match="Layer 'nope' not found"):
        prepare_chunked(counts_file, ["cell_type"], workdir=tmp_path, layer="nope")
    with pytest.raises(DataError, match="not found in obs"):
        prepare_chunked(counts_file, ["tissue"], workdir=tmp_path)
    assert not list(tmp_path.glob("*.partial"))
