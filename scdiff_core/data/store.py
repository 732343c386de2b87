"""The prepared matrix on disk: what chunked preparation writes and chunked training reads.

One ``.h5ad`` (anndata's format, readable with :func:`anndata.read_h5ad`): ``X`` is CSR float32
over the selected genes — raw counts for count data, the log-normalized values otherwise — with
rows in the order of the prepared cells; ``obs`` holds the conditions, the phase and (counts) each
cell's library over all genes; ``uns['scdiff_prepared']`` the preparation's record as JSON.
Training reads batches of rows (:meth:`PreparedStore.batch`) and never holds the whole matrix.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import h5py
import numpy as np
import pandas as pd

from scdiff_core.common import LIBRARY_KEY, TARGET_SUM

from .backed import CellMatrix, _readers

__all__ = ["PreparedStore", "lognorm_rows"]


def lognorm_rows(counts: np.ndarray, library: np.ndarray) -> np.ndarray:
    """log1p(counts / library · 1e4), float32 (the preparation's formula, row by row)."""
    return np.log1p(counts / library[:, None] * TARGET_SUM).astype(np.float32)


class PreparedStore:
    """Read access to a prepared ``.h5ad`` (opened lazily, once per process)."""

    def __init__(self, path: str | os.PathLike, kind: str):
        self.path, self.kind = Path(path), kind
        self._f = None
        self._m: CellMatrix | None = None
        self._library: np.ndarray | None = None

    @property
    def matrix(self) -> CellMatrix:
        if self._m is None:
            self._f = h5py.File(self.path, "r")
            self._m = CellMatrix(self._f["X"])
        return self._m

    @property
    def library(self) -> np.ndarray | None:
        """(N,) float32 library sizes over all genes (count data), read once."""
        if self.kind != "counts":
            return None
        if self._library is None:
            with h5py.File(self.path, "r") as f:
                read_elem, _ = _readers()
                self._library = read_elem(f["obs"])[LIBRARY_KEY].to_numpy(np.float32)
        return self._library

    @property
    def n_obs(self) -> int:
        return self.matrix.n_obs

    def batch(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
        """Rows (any order) -> dense (X log-normalized, counts, library); counts/library None for lognorm data."""
        rows = np.asarray(rows, dtype=np.int64)
        order = np.argsort(rows, kind="stable")
        sub = self.matrix.take(rows[order])
        inv = np.empty_like(order)
        inv[order] = np.arange(len(order))
        vals = sub[inv].toarray()  # (B, G) float32, in the requested order
        if self.kind != "counts":
            return vals, None, None
        lib = self.library[rows]
        return lognorm_rows(vals, lib), vals, lib

    def close(self) -> None:
        if self._f is not None:
            self._f.close()
            self._f, self._m = None, None

    def __getstate__(self):  # an open h5py file does not travel (DataLoader workers re-open it)
        return {"path": self.path, "kind": self.kind, "_f": None, "_m": None, "_library": self._library}

    # ------------------------------------------------------------------ the preparation's record
    @staticmethod
    def read_record(path: str | os.PathLike) -> tuple[dict, pd.DataFrame, pd.DataFrame] | None:
        """(record, obs, var) of a complete prepared file; None when it is missing or unreadable."""
        try:
            with h5py.File(path, "r") as f:
                read_elem, _ = _readers()
                raw = read_elem(f["uns"]).get("scdiff_prepared")
                return json.loads(str(raw)), read_elem(f["obs"]), read_elem(f["var"])
        except (OSError, KeyError, ValueError, TypeError):
            return None
