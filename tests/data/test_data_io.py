"""Tests for scdiff_core.data.io: reading .h5ad / .h5ad.gz files and the built-in datasets."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from scdiff_core import data as D
from scdiff_core.data import io as data_io
from scdiff_core.errors import DataError, ScdiffError

def test_known_datasets_and_error_type():
    assert D.KNOWN_DATASETS == ("pbmc68k", "paul15")
    assert issubclass(DataError, ScdiffError)


def test_repo_root_is_the_repository():
    # the paul15 candidates are relative to the repository root, two levels above data/io.py
    assert (data_io._REPO_ROOT / "scdiff_core" / "data" / "io.py").is_file()
    assert data_io._paul15_candidates()[0] == (data_io._REPO_ROOT / "../shared/data/paul15.h5ad.gz").resolve()


def test_load_h5ad_and_gz(tmp_path, tiny):
    a = tiny()
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


def test_load_default_use_raw_for_scaled_x(tmp_path, tiny):
    a = tiny()
    a.raw = a.copy()
    a.X = a.X - a.X.mean(0)
    p = tmp_path / "scaled.h5ad"
    a.write_h5ad(p)
    assert D.load_anndata(str(p))[1]["default_use_raw"] is True


def test_load_errors(tmp_path, tiny):
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
    a = tiny()
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


def test_load_paul15_local_sources(tmp_path, monkeypatch, tiny):
    a = tiny()
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
    monkeypatch.setattr(data_io, "_REPO_ROOT", tmp_path / "norepo")
    monkeypatch.chdir(work)
    assert D.load_anndata("paul15")[1]["path"] == str((work / "data" / "paul15.h5ad.gz").resolve())


def test_load_paul15_download_failure(tmp_path, monkeypatch):
    import scanpy as sc

    monkeypatch.delenv("SCDIFF_PAUL15", raising=False)
    monkeypatch.setattr(data_io, "_REPO_ROOT", tmp_path / "norepo")
    monkeypatch.chdir(tmp_path)

    def offline():
        raise OSError("Network is unreachable")

    monkeypatch.setattr(sc.datasets, "paul15", offline)
    with pytest.raises(DataError, match="download.*failed.*SCDIFF_PAUL15"):
        D.load_anndata("paul15")



def test_h5ad_source_by_magic_not_name(tmp_path, tiny):
    a = tiny()
    plain = tmp_path / "named.gz"  # an .h5ad despite its name
    a.write_h5ad(plain)
    np.testing.assert_array_equal(D.load_anndata(str(plain))[0].X, a.X)
    gz = tmp_path / "named.h5ad"  # a gzip despite its name
    gz.write_bytes(gzip.compress(plain.read_bytes()))
    # decompressed in chunks to a temporary file (capped), not into memory; the copy is removed
    np.testing.assert_array_equal(D.load_anndata(str(gz))[0].X, a.X)
