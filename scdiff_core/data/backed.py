"""Reading an ``.h5ad`` larger than memory: the matrix stays on disk and is read in cell chunks.

:func:`open_matrix` opens the file with h5py and anndata's public readers
(:func:`anndata.io.read_elem` for ``obs``/``var``, :func:`anndata.io.sparse_dataset` for a CSR
matrix); only the annotations and the CSR row pointers are held in memory. A
:class:`CellMatrix` yields float32 CSR chunks of consecutive cells, whichever way the matrix is
stored (CSR group or dense dataset). (``anndata.read_h5ad(path, backed='r')`` keeps only ``X`` on
disk and reads every layer into memory, which a counts layer of a large atlas does not fit.)
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import h5py
import numpy as np
import pandas as pd
import scipy.sparse as sp

from scdiff_core.errors import DataError

__all__ = ["CellMatrix", "OpenedMatrix", "open_matrix", "h5ad_size"]

_GZIP_MAGIC = b"\x1f\x8b"


def _readers():
    try:
        from anndata.io import read_elem, sparse_dataset
    except ImportError:  # anndata < 0.11
        from anndata.experimental import read_elem, sparse_dataset
    return read_elem, sparse_dataset


class CellMatrix:
    """A cells × genes matrix inside an open h5py file, read by rows.

    Parameters
    ----------
    node
        The h5py group of a CSR matrix (anndata's ``csr_matrix`` encoding) or a 2-D dataset.
    """

    def __init__(self, node):
        self.node = node
        enc = node.attrs.get("encoding-type", "array" if isinstance(node, h5py.Dataset) else "")
        if isinstance(enc, bytes):
            enc = enc.decode()
        if isinstance(node, h5py.Dataset):
            if node.ndim != 2:
                raise DataError(f"The expression matrix must be 2-dimensional, got shape {node.shape}.")
            self.sparse, self.shape = False, tuple(int(s) for s in node.shape)
        elif enc == "csr_matrix":
            self.sparse = True
            self.shape = tuple(int(s) for s in node.attrs["shape"])
            self.indptr = np.asarray(node["indptr"][:], dtype=np.int64)  # (N + 1,)
            self._data, self._indices = node["data"], node["indices"]
        elif enc == "csc_matrix":
            raise DataError("The expression matrix is stored by genes (CSC), which cannot be read by cells. "
                            "Convert it once: a = anndata.read_h5ad(path); a.X = a.X.tocsr(); a.write_h5ad(path), "
                            "or read it in memory (scdiff_core.data.load_prepared, what scdiff train does).")
        else:
            raise DataError(f"The expression matrix is stored as {enc or 'an unknown type'!r}; chunked reading "
                            f"supports CSR matrices and dense arrays.")

    @property
    def n_obs(self) -> int:
        return self.shape[0]

    def rows(self, start: int, stop: int) -> sp.csr_matrix:
        """Cells ``[start, stop)`` as float32 CSR (sorted indices)."""
        if not self.sparse:
            return sp.csr_matrix(np.asarray(self.node[start:stop], dtype=np.float32))
        a, b = self.indptr[start], self.indptr[stop]
        X = sp.csr_matrix((np.asarray(self._data[a:b], dtype=np.float32), np.asarray(self._indices[a:b]),
                           self.indptr[start:stop + 1] - a), shape=(stop - start, self.shape[1]))
        if not X.has_sorted_indices:
            X.sort_indices()
        return X

    def take(self, rows: np.ndarray) -> sp.csr_matrix:
        """The given cells (sorted row numbers) as float32 CSR, reading runs of consecutive rows at once."""
        rows = np.asarray(rows, dtype=np.int64)
        if len(rows) == 0:
            return sp.csr_matrix((0, self.shape[1]), dtype=np.float32)
        breaks = np.flatnonzero(np.diff(rows) != 1) + 1
        parts = [self.rows(int(r[0]), int(r[-1]) + 1) for r in np.split(rows, breaks)]
        return sp.vstack(parts, format="csr", dtype=np.float32)

    def chunks(self, chunk: int, start: int = 0, stop: int | None = None) -> Iterator[tuple[int, sp.csr_matrix]]:
        """``(first row, CSR)`` for consecutive chunks of at most ``chunk`` cells."""
        stop = self.n_obs if stop is None else stop
        for a in range(start, stop, chunk):
            yield a, self.rows(a, min(a + chunk, stop))


@dataclass
class OpenedMatrix:
    """An open file, the chosen matrix, its annotations and where it came from."""

    file: h5py.File
    matrix: CellMatrix
    obs: pd.DataFrame
    var: pd.DataFrame
    origin: str  # 'X', 'raw' or 'layers/NAME'
    path: str

    def close(self) -> None:
        self.file.close()


def _check_plain_h5ad(path: Path) -> None:
    if not path.is_file():
        raise DataError(f"Data file not found: '{path}'. Give the path of an uncompressed .h5ad file.")
    with open(path, "rb") as fh:
        head = fh.read(8)
    if head[:2] == _GZIP_MAGIC:
        raise DataError(f"'{path}' is gzip-compressed; reading it in chunks needs the uncompressed file: "
                        f"gunzip it first (gunzip -k '{path}'), or read it in memory (scdiff_core.data.load_prepared, what scdiff train does).")
    if not h5py.is_hdf5(str(path)):
        raise DataError(f"'{path}' is not an .h5ad file (HDF5). Convert it with scanpy first.")


def open_matrix(path: str | os.PathLike, *, layer: str | None = None, use_raw: bool = False) -> OpenedMatrix:
    """Open ``path`` read-only and pick ``X``, a layer or ``raw/X`` as the expression matrix.

    Raises
    ------
    DataError
        A compressed or missing file, an unknown layer, no ``.raw``, or a matrix stored by genes.
    """
    path = Path(path).expanduser()
    _check_plain_h5ad(path)
    read_elem, _ = _readers()
    f = h5py.File(path, "r")
    try:
        if layer is not None and use_raw:
            raise DataError(f"Both a layer ('{layer}') and use_raw were given; choose one.")
        if layer is not None:
            if "layers" not in f or layer not in f["layers"]:
                have = ", ".join(repr(k) for k in f.get("layers", {}).keys()) or "none"
                raise DataError(f"Layer '{layer}' not found in the data. Available layers: {have}.")
            node, var, origin = f["layers"][layer], read_elem(f["var"]), f"layers/{layer}"
        elif use_raw:
            if "raw" not in f:
                raise DataError("use_raw was requested but the data has no .raw. Leave use_raw off to use .X.")
            node, var, origin = f["raw/X"], read_elem(f["raw/var"]), "raw"
        else:
            if "X" not in f:
                raise DataError("The data has no .X matrix. Pick a layer (--layer) or --use-raw.")
            node, var, origin = f["X"], read_elem(f["var"]), "X"
        return OpenedMatrix(f, CellMatrix(node), read_elem(f["obs"]), var, origin, str(path.resolve()))
    except BaseException:
        f.close()
        raise


def h5ad_size(path: str | os.PathLike) -> tuple[int, int] | None:
    """(cells, genes) of the ``X`` of an uncompressed ``.h5ad`` without reading it; None otherwise."""
    try:
        with h5py.File(Path(path).expanduser(), "r") as f:
            node = f["X"]
            if isinstance(node, h5py.Dataset):
                return int(node.shape[0]), int(node.shape[1])
            shape = node.attrs["shape"]
            return int(shape[0]), int(shape[1])
    except (OSError, KeyError, TypeError, ValueError):
        return None
