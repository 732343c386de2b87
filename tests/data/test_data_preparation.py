"""Tests for scdiff_core.data.preparation (tiny synthetic data; one slow test on the local paul15 copy)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from scdiff_core import data as D
from scdiff_core.data import preparation
from scdiff_core.errors import DataError

def test_prepare_no_cells(tiny):
    a = tiny()[:0].copy()
    with pytest.raises(DataError, match="no cells"):
        D.prepare(a, ["ct"])


def test_prepare_duplicate_genes(tiny):
    a = tiny()
    a.var_names = ["g0", "g0"] + [f"g{i}" for i in range(2, 8)]
    with pytest.raises(DataError, match="var_names_make_unique"):
        D.prepare(a, ["ct"])


def test_prepare_missing_column_lists_available(tiny):
    with pytest.raises(DataError, match="'celltype' not found.*'ct', 'batch'"):
        D.prepare(tiny(), ["celltype"])


def test_prepare_single_value(tiny):
    with pytest.raises(DataError, match="'batch' has a single value"):
        D.prepare(tiny(), ["batch"])


def test_prepare_too_few_cells_per_value(tiny):
    a = tiny()
    a.obs["ct"] = ["A"] * 11 + ["rare"]
    with pytest.raises(DataError, match="'rare' \\(1 cell\\).*Drop those cells.*merge"):
        D.prepare(a, ["ct"])
    D.prepare(a, ["ct"], min_cells_per_value=1)  # allowed when asked


def test_prepare_ignores_unused_categories_and_numeric_labels(syn):
    a = syn.copy()
    a.obs["cell_type"] = a.obs["cell_type"].cat.add_categories(["unused"])
    a.obs["cluster"] = np.arange(a.n_obs) % 3
    a.X = sp.csr_matrix(a.X)
    p = D.prepare(a, ["cell_type", "cluster"])
    assert p.vocab == {"cell_type": ["A", "B", "C"], "cluster": ["0", "1", "2"]}
    assert isinstance(p.adata.X, np.ndarray) and isinstance(p.adata.layers["counts"], np.ndarray)


def test_prepare_continuous_column_hint(tiny):
    a = tiny()
    a.obs["n_counts"] = np.arange(12, dtype=float)
    with pytest.raises(DataError, match="looks continuous"):
        D.prepare(a, ["n_counts"])


def test_prepare_nan_labels(tiny):
    a = tiny()
    a.obs["ct"] = pd.Categorical(["A", "B"] * 5 + [np.nan, "A"])
    with pytest.raises(DataError, match="1 cells without a label"):
        D.prepare(a, ["ct"])


def test_prepare_all_cells_empty(tiny):
    a = tiny()
    a.X = np.zeros_like(a.X)
    with pytest.raises(DataError, match="All cells are empty"):
        D.prepare(a, ["ct"])


def test_prepare_scaled_data_refused(tiny):
    a = tiny()
    a.X = a.X - a.X.mean(0)
    with pytest.raises(DataError, match="scaled"):
        D.prepare(a, ["ct"])


def test_prepare_phase_missing_and_not_computed(tiny):
    a = tiny()
    with pytest.raises(DataError, match="'phase' not found"):
        D.prepare(a, ["ct", "phase"], compute_phase=False)


def test_prepare_phase_needs_genes(tiny):
    with pytest.raises(DataError, match="Cannot score the cell-cycle phase: only 0 S-phase"):
        D.prepare(tiny(), ["ct", "phase"])


def test_prepare_bad_arguments(tiny):
    with pytest.raises(DataError, match="kind must be"):
        D.prepare(tiny(), ["ct"], kind="zscore")
    with pytest.raises(DataError, match="n_top_genes must be a positive integer"):
        D.prepare(tiny(), ["ct"], n_top_genes=0)
    with pytest.raises(DataError, match="more than once"):
        D.prepare(tiny(), ["ct", "ct"])


def test_prepare_counts_keep_all_genes(syn):
    a = syn.copy()
    a.X[5] = 0  # one empty cell
    a.obs["cell_type"] = a.obs["cell_type"].astype(str)  # plain strings -> Categorical
    before = a.X.copy()
    p = D.prepare(a, ["cell_type"], source_info={"source": "syn", "path": None})
    assert p.kind == "counts" and p.genes == list(a.var_names)
    out = p.adata
    assert out.n_obs == 299 and "cell5" not in out.obs_names
    assert out.X.dtype == np.float32 and isinstance(out.X, np.ndarray)
    counts = out.layers["counts"]
    assert counts.dtype == np.float32 and isinstance(counts, np.ndarray)
    np.testing.assert_allclose(out.X, D.lognormalize(counts), rtol=1e-6)
    assert isinstance(out.obs["cell_type"].dtype, pd.CategoricalDtype)
    assert list(out.obs["cell_type"].cat.categories) == ["A", "B", "C"]
    assert "phase" in out.obs  # other columns kept
    assert p.vocab == {"cell_type": ["A", "B", "C"]}
    assert sum(p.counts_per_value["cell_type"].values()) == 299
    pre = p.preprocessing
    json.dumps(pre)
    assert pre["n_cells_dropped_empty"] == 1 and pre["n_genes_in"] == 60
    assert pre["gene_selection"]["method"] == "all" and pre["source"]["source"] == "syn"
    assert pre["phase"]["computed"] is False
    np.testing.assert_array_equal(a.X, before)


def test_prepare_selects_top_genes_and_adds_cell_cycle(syn):
    p = D.prepare(syn, ["cell_type"], max_all_genes=30, n_top_genes=20)
    assert len(p.genes) == 20
    order = {g: i for i, g in enumerate(syn.var_names)}
    assert [order[g] for g in p.genes] == sorted(order[g] for g in p.genes)  # input order

    q = D.prepare(syn, ["cell_type", "phase"], max_all_genes=30, n_top_genes=20)
    cc = D.cell_cycle_genes(syn.var_names)
    assert set(cc) <= set(q.genes)
    added = q.preprocessing["gene_selection"]["cell_cycle_genes_added"]
    assert len(q.genes) == 20 + len(added)
    assert set(q.genes) == set(p.genes) | set(cc)
    # counts normalized as users normalize them: per 1e4 over ALL the cell's genes, then the kept genes
    import scanpy as sc

    full = syn.copy()
    sc.pp.normalize_total(full, target_sum=1e4)
    sc.pp.log1p(full)
    expect = np.asarray(full[q.adata.obs_names, q.genes].X.todense() if hasattr(full.X, "todense")
                        else full[q.adata.obs_names, q.genes].X)
    np.testing.assert_allclose(q.adata.X, expect, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(q.adata.obs["total_counts"], np.asarray(syn[q.adata.obs_names].X.sum(1)).ravel())
    assert (np.expm1(q.adata.X.astype(np.float64)).sum(1) < 1e4 - 1).all()  # the kept genes hold part of it
    assert q.preprocessing["gene_selection"]["flavor"] in ("seurat_v3", "seurat")


def test_prepare_seurat_fallback_without_skmisc(syn, monkeypatch):
    monkeypatch.setitem(sys.modules, "skmisc", None)  # makes `import skmisc` raise ImportError
    p = D.prepare(syn, ["cell_type"], max_all_genes=30, n_top_genes=20)
    sel = p.preprocessing["gene_selection"]
    assert sel["flavor"] == "seurat" and "scikit-misc" in sel["fallback_reason"]
    assert len(p.genes) == 20


def test_prepare_lognorm_input(syn):
    a = D.make_synthetic(n_cells=300, n_genes=60, seed=0, counts=False)
    p = D.prepare(a, ["cell_type"], max_all_genes=30, n_top_genes=15)
    assert p.kind == "lognorm" and "counts" not in p.adata.layers
    assert len(p.genes) == 15
    assert p.preprocessing["gene_selection"]["flavor"] == "seurat"
    idx = [list(a.var_names).index(g) for g in p.genes]
    np.testing.assert_allclose(p.adata.X, a.X[:, idx])


def test_prepare_computes_phase_when_missing(syn):
    a = syn.copy()
    truth = a.obs.pop("phase").astype(str).to_numpy()
    p = D.prepare(a, ["cell_type", "phase"])
    assert p.preprocessing["phase"]["computed"] is True
    assert p.vocab["phase"] == ["G1", "G2M", "S"]
    got = p.adata.obs["phase"].astype(str).to_numpy()
    assert (got == truth).mean() > 0.55
    assert "phase" not in a.obs  # input untouched
    # existing column is used as is unless compute_phase=True
    b = syn.copy()
    p2 = D.prepare(b, ["cell_type", "phase"])
    assert p2.preprocessing["phase"]["computed"] is False
    np.testing.assert_array_equal(p2.adata.obs["phase"].astype(str), b.obs["phase"].astype(str))
    p3 = D.prepare(b, ["cell_type", "phase"], compute_phase=True)
    assert p3.preprocessing["phase"]["replaced_existing_column"] is True


def test_prepare_kind_given_skips_detection(syn):
    p = D.prepare(syn, ["cell_type"], kind="counts")
    assert p.kind == "counts" and p.preprocessing["kind_detected"] is False


def test_prepare_pbmc68k_raw():
    a, info = D.load_anndata("pbmc68k")
    assert info == {"source": "pbmc68k", "path": None, "default_use_raw": True}
    p = D.prepare(D.select_matrix(a, use_raw=True), ["bulk_labels", "phase"], source_info=info)
    assert p.kind == "lognorm" and len(p.genes) == 765
    assert p.adata.shape == (700, 765)
    assert set(p.vocab["phase"]) == {"G1", "S", "G2M"}
    assert p.preprocessing["matrix"] == "raw"
    json.dumps(p.preprocessing)
    with pytest.raises(DataError, match="scaled"):
        D.prepare(D.select_matrix(a), ["bulk_labels"])


PAUL15_SHARED = Path("/work/shared/data/paul15.h5ad.gz")


@pytest.mark.slow
@pytest.mark.skipif(not PAUL15_SHARED.exists(), reason="local paul15 copy not available")
def test_paul15_prepare():
    a, info = D.load_anndata("paul15", paul15_path=str(PAUL15_SHARED))
    assert a.shape == (2730, 3451)
    p = D.prepare(D.select_matrix(a), ["paul15_clusters", "phase"], source_info=info)
    assert p.kind == "counts"
    assert 2000 <= len(p.genes) <= 2100
    assert set(p.vocab["phase"]) == {"G1", "S", "G2M"}
    assert min(p.counts_per_value["phase"].values()) > 50
    assert set(D.cell_cycle_genes(a.var_names)) <= set(p.genes)
    assert len(p.vocab["paul15_clusters"]) == 19
    json.dumps(p.preprocessing)



def test_check_unique_names_message():
    preparation._check_unique(pd.Index(["a", "b"]), "Gene", "var_names_make_unique")
    with pytest.raises(DataError, match=r"^Cell names are not unique \(1 duplicated, e.g. 'a'\)\. .*"
                                        r"adata\.obs_names_make_unique\(\)\.$"):
        preparation._check_unique(pd.Index(["a", "b", "a", "a"]), "Cell", "obs_names_make_unique")


def test_examples_truncates():
    assert preparation._examples(["a", 1]) == "'a', '1'"
    assert preparation._examples([f"g{i}" for i in range(7)]) == "'g0', 'g1', 'g2', 'g3', 'g4', ... (7 in all)"


def test_check_arguments_normalizes_conditions():
    assert preparation._check_arguments("ct", None, 1, 1, 1) == ["ct"]
    assert preparation._check_arguments(None, "counts", 1, 1, 1) == []
    assert preparation._check_arguments(("a", 3), "lognorm", np.int64(5), 2, 2) == ["a", "3"]
    with pytest.raises(DataError, match="min_cells_per_value must be a positive integer, got True"):
        preparation._check_arguments(["a"], None, 1, 1, True)


def test_drop_empty_cells_keeps_library_over_all_genes(tiny):
    a = tiny()
    a.X[3] = 0
    cells = preparation._drop_empty_cells(a, "counts", False)
    assert cells.n_in == 12 and cells.n_empty == 1 and cells.X.shape == (11, 8)
    assert "c3" not in cells.obs.index
    np.testing.assert_allclose(cells.totals, np.delete(a.X, 3, axis=0).sum(1))
    np.testing.assert_allclose(cells.lognorm, D.lognormalize(cells.X))
    assert cells.lognorm is cells.lognorm  # computed once
    assert preparation._detect_kind(a.X, None) == ("counts", True)
    assert preparation._detect_kind(a.X, "lognorm") == ("lognorm", False)
