"""Tests for scdiff_core.data (tiny synthetic data; one slow test on the local paul15 copy)."""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path

import anndata
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

ROOT = Path(__file__).resolve().parents[1]

from scdiff_core import data as D  # noqa: E402
from scdiff_core.errors import DataError, ScdiffError  # noqa: E402

PAUL15_SHARED = Path("/work/shared/data/paul15.h5ad.gz")


@pytest.fixture(scope="module")
def syn() -> anndata.AnnData:
    return D.make_synthetic(n_cells=300, n_genes=60, seed=0)


def _tiny(n_cells: int = 12, n_genes: int = 8, seed: int = 0) -> anndata.AnnData:
    rng = np.random.default_rng(seed)
    X = rng.poisson(3.0, size=(n_cells, n_genes)).astype(np.float32) + 1
    obs = pd.DataFrame(
        {"ct": ["A", "B"] * (n_cells // 2), "batch": ["x"] * n_cells},
        index=[f"c{i}" for i in range(n_cells)],
    )
    return anndata.AnnData(X=X, obs=obs, var=pd.DataFrame(index=[f"g{i}" for i in range(n_genes)]))


# ----------------------------------------------------------------------------- constants


def test_cell_cycle_lists():
    assert len(D.S_GENES) == 43 and len(set(D.S_GENES)) == 43
    assert len(D.G2M_GENES) == 54 and len(set(D.G2M_GENES)) == 54
    assert not set(D.S_GENES) & set(D.G2M_GENES)
    assert D.KNOWN_DATASETS == ("pbmc68k", "paul15")
    assert issubclass(DataError, ScdiffError)


# ----------------------------------------------------------------------------- detect_kind


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


# ----------------------------------------------------------------------------- lognormalize


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


# ----------------------------------------------------------------------------- select_matrix


def test_select_matrix_x_layer_raw():
    a = _tiny()
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
    b = _tiny()
    b.raw = anndata.AnnData(X=sp.csr_matrix(np.ones((12, 5))), obs=b.obs,
                            var=pd.DataFrame(index=[f"r{i}" for i in range(5)]))
    r = D.select_matrix(b, use_raw=True)
    assert list(r.var_names) == [f"r{i}" for i in range(5)] and sp.issparse(r.X)
    assert r.X.dtype == np.float32 and list(r.obs_names) == list(b.obs_names)


def test_select_matrix_errors():
    a = _tiny()
    a.layers["spliced"] = a.X.copy()
    with pytest.raises(DataError, match="Layer 'counts' not found.*'spliced'"):
        D.select_matrix(a, layer="counts")
    with pytest.raises(DataError, match="no .raw"):
        D.select_matrix(a, use_raw=True)
    with pytest.raises(DataError, match="choose one"):
        D.select_matrix(a, layer="spliced", use_raw=True)


# ----------------------------------------------------------------------------- phase


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


def test_score_phase_too_few_genes():
    a = _tiny()
    a.var_names = ["Mcm5", "Pcna", "g2", "Cdk1", "Hmgb2", "Ube2c", "g6", "g7"]
    with pytest.raises(DataError, match="only 2 S-phase and 3 G2M genes"):
        D.score_phase(a)


# ----------------------------------------------------------------------------- prepare: errors


def test_prepare_no_cells():
    a = _tiny()[:0].copy()
    with pytest.raises(DataError, match="no cells"):
        D.prepare(a, ["ct"])


def test_prepare_duplicate_genes():
    a = _tiny()
    a.var_names = ["g0", "g0"] + [f"g{i}" for i in range(2, 8)]
    with pytest.raises(DataError, match="var_names_make_unique"):
        D.prepare(a, ["ct"])


def test_prepare_missing_column_lists_available():
    with pytest.raises(DataError, match="'celltype' not found.*'ct', 'batch'"):
        D.prepare(_tiny(), ["celltype"])


def test_prepare_single_value():
    with pytest.raises(DataError, match="'batch' has a single value"):
        D.prepare(_tiny(), ["batch"])


def test_prepare_too_few_cells_per_value():
    a = _tiny()
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


def test_prepare_continuous_column_hint():
    a = _tiny()
    a.obs["n_counts"] = np.arange(12, dtype=float)
    with pytest.raises(DataError, match="looks continuous"):
        D.prepare(a, ["n_counts"])


def test_prepare_nan_labels():
    a = _tiny()
    a.obs["ct"] = pd.Categorical(["A", "B"] * 5 + [np.nan, "A"])
    with pytest.raises(DataError, match="1 cells without a label"):
        D.prepare(a, ["ct"])


def test_prepare_all_cells_empty():
    a = _tiny()
    a.X = np.zeros_like(a.X)
    with pytest.raises(DataError, match="All cells are empty"):
        D.prepare(a, ["ct"])


def test_prepare_scaled_data_refused():
    a = _tiny()
    a.X = a.X - a.X.mean(0)
    with pytest.raises(DataError, match="scaled"):
        D.prepare(a, ["ct"])


def test_prepare_phase_missing_and_not_computed():
    a = _tiny()
    with pytest.raises(DataError, match="'phase' not found"):
        D.prepare(a, ["ct", "phase"], compute_phase=False)


def test_prepare_phase_needs_genes():
    with pytest.raises(DataError, match="Cannot score the cell-cycle phase: only 0 S-phase"):
        D.prepare(_tiny(), ["ct", "phase"])


def test_prepare_bad_arguments():
    with pytest.raises(DataError, match="kind must be"):
        D.prepare(_tiny(), ["ct"], kind="zscore")
    with pytest.raises(DataError, match="n_top_genes must be a positive integer"):
        D.prepare(_tiny(), ["ct"], n_top_genes=0)
    with pytest.raises(DataError, match="more than once"):
        D.prepare(_tiny(), ["ct", "ct"])


# ----------------------------------------------------------------------------- prepare: results


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


# ----------------------------------------------------------------------------- split


def test_split_cells_properties():
    rng = np.random.default_rng(0)
    names = [f"c{i}" for i in range(200)]
    strata = rng.choice(["A|G1", "A|S", "B|G1", "B|S"], size=200, p=[0.4, 0.3, 0.2, 0.1])
    s = D.split_cells(names, strata, seed=0)
    all_cells = s["train"] + s["val"] + s["test"]
    assert sorted(all_cells) == sorted(names) and len(set(all_cells)) == 200
    lab = dict(zip(names, strata))
    for st in set(strata):
        n = int((strata == st).sum())
        k = {part: sum(lab[c] == st for c in s[part]) for part in s}
        assert k["train"] >= 1 and k["val"] >= 1 and k["test"] >= 1
        assert abs(k["train"] - 0.6 * n) <= 2 and abs(k["test"] - 0.2 * n) <= 2
    assert D.split_cells(names, strata, seed=0) == s
    assert D.split_cells(names, strata, seed=1) != s


def test_split_cells_small_strata():
    names = ["a", "b", "c", "d", "e", "f"]
    strata = ["one", "two", "two", "three", "three", "three"]
    s = D.split_cells(names, strata, seed=3)
    where = {c: part for part, cells in s.items() for c in cells}
    assert where["a"] == "train"
    assert sorted([where["b"], where["c"]]) == ["test", "train"]
    assert sorted(where[c] for c in "def") == ["test", "train", "val"]
    # unstratified and degenerate fractions
    u = D.split_cells(names, None, fractions=(1, 0, 0))
    assert u == {"train": names, "val": [], "test": []}


def test_split_cells_errors():
    with pytest.raises(DataError, match="one label per cell"):
        D.split_cells(["a", "b"], ["x"])
    with pytest.raises(DataError, match="fractions"):
        D.split_cells(["a", "b"], ["x", "x"], fractions=(0, 0.5, 0.5))
    with pytest.raises(DataError, match="not unique"):
        D.split_cells(["a", "a"], ["x", "x"])


def test_condition_strata():
    obs = pd.DataFrame({"a": ["x", "y"], "b": pd.Categorical(["1", "2"])})
    assert list(D.condition_strata(obs, ["a", "b"])) == ["x|1", "y|2"]
    assert list(D.condition_strata(obs, [])) == ["", ""]


# ----------------------------------------------------------------------------- load_anndata


def test_load_h5ad_and_gz(tmp_path):
    a = _tiny()
    p = tmp_path / "d.h5ad"
    a.write_h5ad(p)
    b, info = D.load_anndata(str(p))
    assert b.shape == a.shape and info["path"] == str(p.resolve())
    assert info["default_use_raw"] is False and info["source"] == str(p)
    gz = tmp_path / "d.h5ad.gz"
    gz.write_bytes(gzip.compress(p.read_bytes()))
    c, info2 = D.load_anndata(gz)
    np.testing.assert_array_equal(c.X, a.X)
    assert list(c.obs["ct"]) == list(a.obs["ct"])


def test_load_default_use_raw_for_scaled_x(tmp_path):
    a = _tiny()
    a.raw = a.copy()
    a.X = a.X - a.X.mean(0)
    p = tmp_path / "scaled.h5ad"
    a.write_h5ad(p)
    assert D.load_anndata(str(p))[1]["default_use_raw"] is True


def test_load_errors(tmp_path):
    with pytest.raises(DataError, match="not found: .*nope.h5ad"):
        D.load_anndata(str(tmp_path / "nope.h5ad"))
    txt = tmp_path / "cells.csv"
    txt.write_text("a,b\n1,2\n")
    with pytest.raises(DataError, match="cells.csv' is not an .h5ad file.*convert"):
        D.load_anndata(str(txt))
    gz = tmp_path / "x.h5ad.gz"
    gz.write_bytes(gzip.compress(b"hello world"))
    with pytest.raises(DataError, match="does not contain an .h5ad"):
        D.load_anndata(str(gz))
    a = _tiny()
    good = tmp_path / "good.h5ad"
    a.write_h5ad(good)
    trunc = tmp_path / "trunc.h5ad.gz"
    trunc.write_bytes(gzip.compress(good.read_bytes())[:500])
    with pytest.raises(DataError, match="damaged or truncated"):
        D.load_anndata(str(trunc))
    broken = tmp_path / "broken.h5ad"
    broken.write_bytes(good.read_bytes()[:600])
    with pytest.raises(DataError, match="broken.h5ad"):
        D.load_anndata(str(broken))
    with pytest.raises(DataError, match="is a directory"):
        D.load_anndata(str(tmp_path))
    with pytest.raises(DataError, match="No data source"):
        D.load_anndata("")


def test_load_paul15_local_sources(tmp_path, monkeypatch):
    a = _tiny()
    f = tmp_path / "p.h5ad.gz"
    tmp = tmp_path / "p.h5ad"
    a.write_h5ad(tmp)
    f.write_bytes(gzip.compress(tmp.read_bytes()))
    monkeypatch.delenv("SCDIFF_PAUL15", raising=False)
    b, info = D.load_anndata("paul15", paul15_path=str(f))
    assert b.shape == a.shape and info == {"source": "paul15", "path": str(f), "default_use_raw": False}
    monkeypatch.setenv("SCDIFF_PAUL15", str(f))
    assert D.load_anndata("paul15")[1]["path"] == str(f)
    monkeypatch.setenv("SCDIFF_PAUL15", str(tmp_path / "gone.h5ad.gz"))
    with pytest.raises(DataError, match="SCDIFF_PAUL15"):
        D.load_anndata("paul15")
    monkeypatch.delenv("SCDIFF_PAUL15")
    with pytest.raises(DataError, match="paul15 file not found"):
        D.load_anndata("paul15", paul15_path=str(tmp_path / "gone"))
    # candidate relative to the working directory
    work = tmp_path / "work"
    (work / "data").mkdir(parents=True)
    (work / "data" / "paul15.h5ad.gz").write_bytes(f.read_bytes())
    monkeypatch.setattr(D, "_REPO_ROOT", tmp_path / "norepo")
    monkeypatch.chdir(work)
    assert D.load_anndata("paul15")[1]["path"] == str((work / "data" / "paul15.h5ad.gz").resolve())


def test_load_paul15_download_failure(tmp_path, monkeypatch):
    import scanpy as sc

    monkeypatch.delenv("SCDIFF_PAUL15", raising=False)
    monkeypatch.setattr(D, "_REPO_ROOT", tmp_path / "norepo")
    monkeypatch.chdir(tmp_path)

    def offline():
        raise OSError("Network is unreachable")

    monkeypatch.setattr(sc.datasets, "paul15", offline)
    with pytest.raises(DataError, match="download.*failed.*SCDIFF_PAUL15"):
        D.load_anndata("paul15")


# ----------------------------------------------------------------------------- synthetic


def test_make_synthetic_shape():
    a = D.make_synthetic(n_cells=50, n_genes=30, n_types=4, seed=2)
    assert a.shape == (50, 30) and set(a.obs["cell_type"]) <= set("ABCD")
    assert set(a.obs["phase"]) <= {"G1", "S", "G2M"}
    assert len(D.cell_cycle_genes(a.var_names)) == 10
    assert D.detect_kind(a.X) == "counts"
    b = D.make_synthetic(n_cells=50, n_genes=30, n_types=4, seed=2, counts=False)
    assert D.detect_kind(b.X) == "lognorm"
    np.testing.assert_array_equal(a.X, D.make_synthetic(n_cells=50, n_genes=30, n_types=4, seed=2).X)


# ----------------------------------------------------------------------------- real data (slow)


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
