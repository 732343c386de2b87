"""Reading data: ``.h5ad`` / ``.h5ad.gz`` files and the built-in datasets.

:func:`load_anndata` is the entry point; it resolves the built-in names (``pbmc68k``, shipped
with scanpy, and ``paul15``, looked up locally before it is downloaded) and reads files by their
content (gzip or HDF5 magic bytes), not by their extension.
"""

from __future__ import annotations

import gzip
import os
import shutil
import tempfile
import zlib
from pathlib import Path

import anndata

from scdiff_core.errors import DataError, ScdiffError
from scdiff_core.validate import MB, limit, limit_hint, regular_file

from .matrix import _has_negative

__all__ = ["KNOWN_DATASETS", "load_anndata"]

KNOWN_DATASETS = ("pbmc68k", "paul15")

_REPO_ROOT = Path(__file__).resolve().parents[2]
_PAUL15_RELATIVE = ("../shared/data/paul15.h5ad.gz", "data/paul15.h5ad.gz")
_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
_GZIP_MAGIC = b"\x1f\x8b"
_CONVERT_HINT = (
    "Only AnnData .h5ad files (optionally gzipped, .h5ad.gz) are supported; convert "
    "other formats with scanpy first, e.g. scanpy.read_10x_h5(path).write_h5ad('data.h5ad') "
    "or scanpy.read_csv(path).write_h5ad('data.h5ad')."
)


# --------------------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------------------


def _check_is_file(path: Path) -> None:
    """Raise :class:`DataError` when ``path`` is missing, a directory or not a regular file (a FIFO, a device)."""
    if not path.exists():
        raise DataError(
            f"Data file not found: '{path}'. Check the path, or give one of the built-in "
            f"datasets ({', '.join(KNOWN_DATASETS)})."
        )
    if path.is_dir():
        raise DataError(
            f"'{path}' is a directory, not an .h5ad file. Give the path of an .h5ad or "
            f".h5ad.gz file (zarr stores are not supported; convert with "
            f"anndata.read_zarr(path).write_h5ad('data.h5ad'))."
        )
    try:
        regular_file(path, "the data file")
    except ScdiffError as e:
        raise DataError(str(e)) from None


def _gunzip_capped(path: Path, dest: Path) -> None:
    """Decompress ``path`` into ``dest`` in chunks, stopping past the decompressed-size limit."""
    cap = limit("decompressed")
    total = 0
    try:
        with gzip.open(path, "rb") as src, open(dest, "wb") as out:
            while chunk := src.read(4 * MB):
                total += len(chunk)
                if total > cap:
                    raise DataError(f"'{path}' expands to more than {cap / MB:,.0f} MB when decompressed "
                                    f"{limit_hint('decompressed')}; decompress it yourself (gunzip) if it is "
                                    f"genuine, or check where it came from.")
                if total == len(chunk) and chunk[:8] != _HDF5_MAGIC:
                    raise DataError(f"'{path}' is gzip-compressed but does not contain an .h5ad file. "
                                    + _CONVERT_HINT)
                out.write(chunk)
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(
            f"'{path}' is a damaged or truncated gzip file ({exc}). Download or copy it "
            f"again, or give the uncompressed .h5ad."
        ) from exc
    if total == 0:
        raise DataError(f"'{path}' is an empty gzip file. " + _CONVERT_HINT)


def _check_shape(path: Path, source: str) -> None:
    """Cells, genes and stored values within the limits, read from the HDF5 header before the data."""
    import h5py

    try:
        with h5py.File(source, "r") as f:
            X = f.get("X")
            if X is None:
                return
            shape = tuple(X.attrs.get("shape", X.attrs.get("h5sparse_shape", ()))) if isinstance(X, h5py.Group) \
                else tuple(X.shape)
            stored = X["data"].shape[0] if isinstance(X, h5py.Group) and "data" in X else None
    except (OSError, KeyError, TypeError, ValueError):
        return  # anndata reports an unreadable file itself
    if len(shape) != 2:
        return
    n_obs, n_vars = (int(x) for x in shape)
    stored = n_obs * n_vars if stored is None else int(stored)
    fixes = {"cells": "subsample the cells first (scanpy.pp.subsample)",
             "genes": "keep fewer genes first (e.g. the highly variable ones)",
             "values": "subsample the cells or keep fewer genes first"}
    for name, n, what in (("cells", n_obs, "cells"), ("genes", n_vars, "genes"), ("values", stored, "stored values")):
        if n > limit(name):
            raise DataError(f"'{path}' holds {n:,} {what}, more than scdiff reads {limit_hint(name)}; "
                            f"{fixes[name]} and write it again.")


def _check_gene_names(path: Path, adata: anndata.AnnData) -> None:
    """Refuse a file whose genes carry no names (anndata numbers them "0", "1", … when /var is missing)."""
    names = adata.var_names
    if adata.n_vars and names[0] == "0" and list(names) == [str(i) for i in range(adata.n_vars)]:
        raise DataError(f"'{path}' has no gene names (its genes are numbered 0..{adata.n_vars - 1}: the file has "
                        f"no /var). Set the gene symbols (adata.var_names = [...]) and write it again.")


def _read_h5ad_file(path: Path) -> anndata.AnnData:
    """Read a plain or gzipped ``.h5ad`` file, raising :class:`DataError` on any problem.

    The format is told by the first bytes (gzip or HDF5 magic), not the name; a gzip is
    decompressed in chunks to a temporary file with a cap on its size, and the matrix's shape
    is checked against the limits before anything is read into memory.
    """
    _check_is_file(path)
    try:
        with open(path, "rb") as fh:
            head = fh.read(8)
    except OSError as exc:
        raise DataError(f"Cannot open '{path}': {exc}. Check the file's permissions.") from exc
    tmpdir = None
    try:
        if head[:2] == _GZIP_MAGIC:
            tmpdir = tempfile.mkdtemp(prefix="scdiff-gunzip-")
            source = str(Path(tmpdir) / "data.h5ad")
            _gunzip_capped(path, Path(source))
        elif head == _HDF5_MAGIC:
            source = str(path)
        else:
            raise DataError(f"'{path}' is not an .h5ad file. " + _CONVERT_HINT)
        _check_shape(path, source)
        try:
            adata = anndata.read_h5ad(source)
        except Exception as exc:  # h5py/anndata raise many different types for bad files
            raise DataError(
                f"Could not read '{path}' as AnnData ({type(exc).__name__}: {exc}). The file may "
                f"be corrupt or not written by anndata (a 10x Genomics .h5 needs "
                f"scanpy.read_10x_h5(path).write_h5ad('data.h5ad') first)."
            ) from exc
    finally:
        if tmpdir:
            shutil.rmtree(tmpdir, ignore_errors=True)
    _check_gene_names(path, adata)
    return adata


# --------------------------------------------------------------------------------------
# Built-in datasets
# --------------------------------------------------------------------------------------


def _paul15_candidates() -> list[Path]:
    """Local places where a copy of paul15 may be found (repo-relative, then cwd-relative)."""
    out: list[Path] = []
    for base in (_REPO_ROOT, Path.cwd()):
        for rel in _PAUL15_RELATIVE:
            p = (base / rel).resolve()
            if p not in out:
                out.append(p)
    return out


def _resolve_paul15(paul15_path: str | os.PathLike | None) -> Path | None:
    """The local paul15 file to read: ``paul15_path``, ``$SCDIFF_PAUL15``, or a candidate.

    None when no local copy is found (the caller then downloads it).
    """
    given = [(paul15_path, "given as paul15_path", "Give the path of paul15.h5ad(.gz), or leave it out to use "
                                                   "scanpy.datasets.paul15()."),
             (os.environ.get("SCDIFF_PAUL15"), "from $SCDIFF_PAUL15", "Fix or unset the environment variable.")]
    for value, where, fix in given:
        if value:
            p = Path(value).expanduser()
            if not p.exists():
                raise DataError(f"paul15 file not found at '{p}' ({where}). {fix}")
            return p
    for cand in _paul15_candidates():
        if cand.is_file():
            return cand
    return None


def _load_pbmc68k() -> tuple[anndata.AnnData, dict]:
    import scanpy as sc

    try:
        adata = sc.datasets.pbmc68k_reduced()
    except Exception as exc:  # pragma: no cover - ships with scanpy
        raise DataError(
            f"Could not load scanpy's built-in pbmc68k_reduced ({exc}). Reinstall scanpy "
            f"or give a path to an .h5ad file."
        ) from exc
    return adata, {"source": "pbmc68k", "path": None, "default_use_raw": True}


def _load_paul15(paul15_path: str | os.PathLike | None) -> tuple[anndata.AnnData, dict]:
    path = _resolve_paul15(paul15_path)
    if path is not None:
        adata = _read_h5ad_file(path)
        return adata, {"source": "paul15", "path": str(path), "default_use_raw": False}
    import scanpy as sc

    try:
        adata = sc.datasets.paul15()
    except Exception as exc:
        raise DataError(
            f"paul15 is not available locally and downloading it with "
            f"scanpy.datasets.paul15() failed ({type(exc).__name__}: {exc}). Pass a local "
            f"copy (paul15_path=... / the path as the data source) or set the environment "
            f"variable SCDIFF_PAUL15 to the file's path."
        ) from exc
    return adata, {"source": "paul15", "path": None, "default_use_raw": False}


def _load_file(src: str | os.PathLike) -> tuple[anndata.AnnData, dict]:
    path = Path(src).expanduser()
    adata = _read_h5ad_file(path)
    default_use_raw = False
    if adata.raw is not None and adata.X is not None:
        try:
            default_use_raw = _has_negative(adata.X)
        except (TypeError, ValueError):
            default_use_raw = False
    return adata, {"source": str(src), "path": str(path.resolve()), "default_use_raw": default_use_raw}


def load_anndata(
    source: str | os.PathLike, *, paul15_path: str | os.PathLike | None = None
) -> tuple[anndata.AnnData, dict]:
    """Load a dataset by name or from an ``.h5ad`` / ``.h5ad.gz`` file.

    Parameters
    ----------
    source
        ``'pbmc68k'`` (scanpy's ``pbmc68k_reduced``, shipped with scanpy, returned as is: its
        ``.X`` holds scaled z-scores and its ``.raw`` the log-normalized values), ``'paul15'``
        (Paul et al. 2015 mouse myeloid progenitors, raw counts), or a path to an ``.h5ad``
        file or a gzip of one (``.h5ad.gz``).
    paul15_path
        Local copy of paul15 to use. Without it, the environment variable ``SCDIFF_PAUL15``,
        then ``../shared/data/paul15.h5ad.gz`` and ``data/paul15.h5ad.gz`` (relative to the
        repository root and to the working directory) are tried, and finally
        ``scanpy.datasets.paul15()`` (which downloads).

    Returns
    -------
    adata
        The loaded AnnData.
    info
        ``{'source': source, 'path': resolved path or None, 'default_use_raw': bool}``.
        ``default_use_raw`` is True for ``pbmc68k`` and, for files, when ``.raw`` exists and
        ``.X`` has negative values (i.e. ``.X`` looks scaled and ``.raw`` is the usable matrix).

    Raises
    ------
    DataError
        Missing file, a file that is not an ``.h5ad``, a corrupt file, or a failed download.
    """
    if source is None or not str(os.fspath(source)).strip():
        raise DataError(
            f"No data source given. Give a path to an .h5ad/.h5ad.gz file or one of "
            f"{', '.join(KNOWN_DATASETS)}."
        )
    src = os.fspath(source)
    name = str(src).strip().lower()
    if name == "pbmc68k":
        return _load_pbmc68k()
    if name == "paul15":
        return _load_paul15(paul15_path)
    return _load_file(src)
