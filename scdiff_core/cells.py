"""The cells a training stage reads: in memory (dense tensors) or on disk (the prepared store).

Training never indexes a matrix of all cells itself. Each stage asks a :class:`CellRows` for a
batch of rows (:meth:`~CellRows.rows`), walks it in chunks (:meth:`~CellRows.chunks`), or takes a
seeded sample of it (:meth:`~CellRows.sample`):

* :class:`MemoryRows` holds dense tensors; a batch is a slice of them, exactly what training read
  before the store existed (weights stay byte-identical);
* :class:`StoreRows` reads the rows from the CSR ``prepared.h5ad`` that
  :func:`~scdiff_core.data.prepare_chunked` wrote, so memory holds a batch, never the data. Only
  the library sizes (4 bytes a cell) are kept in memory.

Both give the same values for the same cells: log-normalized ``X`` over the model's genes, the
counts and the library over all genes for count data.
"""
from __future__ import annotations

from typing import Iterator, NamedTuple

import numpy as np
import torch

from .common import LIBRARY_KEY

CHUNK_CELLS = 4096
"""Cells per chunk when a stage walks all cells (encoding, validation loss)."""


class Batch(NamedTuple):
    """Rows of cells: log-normalized ``X`` (B, G); ``counts`` (B, G) and ``library`` (B,) for count data."""

    X: torch.Tensor
    counts: torch.Tensor | None
    library: torch.Tensor | None


class CellRows:
    """One part of the split (training or validation cells), row by row."""

    n: int
    counts: bool

    def rows(self, idx: torch.Tensor | np.ndarray) -> Batch:  # pragma: no cover - interface
        raise NotImplementedError

    def chunks(self, size: int | None = None) -> Iterator[Batch]:
        """Every cell, in order, ``size`` (default :data:`CHUNK_CELLS`) at a time."""
        size = size or CHUNK_CELLS
        for a in range(0, self.n, size):
            yield self.rows(np.arange(a, min(a + size, self.n)))

    def sample(self, k: int, seed: int) -> np.ndarray:
        """Row numbers of at most ``k`` cells: all of them, in order, when there are no more than ``k``;
        otherwise a seeded uniform sample, sorted."""
        if self.n <= k:
            return np.arange(self.n)
        return np.sort(np.random.default_rng(seed).choice(self.n, k, replace=False))

    def positive_floor(self) -> np.ndarray:
        """Per gene, the smallest positive log-normalized value (0 for a gene never expressed)."""
        floor = None
        for b in self.chunks():
            x = b.X.numpy()
            m = np.where(x > 0, x, np.inf).min(0)
            floor = m if floor is None else np.minimum(floor, m)
        return np.where(np.isfinite(floor), floor, 0.0).astype(np.float32)


class MemoryRows(CellRows):
    """Dense tensors in memory."""

    def __init__(self, X: torch.Tensor, counts: torch.Tensor | None, library: torch.Tensor | None):
        self.X, self.C, self.library = X, counts, library
        self.n, self.counts = int(X.shape[0]), counts is not None

    def rows(self, idx) -> Batch:
        idx = torch.as_tensor(idx, dtype=torch.long)
        if self.counts:
            return Batch(self.X[idx], self.C[idx], self.library[idx])
        return Batch(self.X[idx], None, None)

    def chunks(self, size: int | None = None) -> Iterator[Batch]:
        """By default all cells in one chunk, as training computed before (the matrix is in memory anyway)."""
        size = size or max(1, self.n)
        for a in range(0, self.n, size):  # slices are views: no copy
            s = slice(a, min(a + size, self.n))
            yield Batch(self.X[s], *((self.C[s], self.library[s]) if self.counts else (None, None)))

    def positive_floor(self) -> np.ndarray:
        from .space import positive_floor

        return positive_floor(self.X.numpy())

    @classmethod
    def from_adata(cls, a, counts: bool) -> "MemoryRows":
        """Dense ``X`` (and ``layers['counts']`` + the library over all genes) of an in-memory AnnData."""
        def dense(m):
            return torch.from_numpy(np.asarray(m, dtype=np.float32))

        if not counts:
            return cls(dense(a.X), None, None)
        C = dense(a.layers["counts"])
        # total over all genes, recorded at preparation (older preparations: the genes kept)
        lib = (torch.from_numpy(a.obs[LIBRARY_KEY].to_numpy(dtype=np.float32)) if LIBRARY_KEY in a.obs
               else C.sum(1))
        return cls(dense(a.X), C, lib)


class StoreRows(CellRows):
    """Rows ``positions`` (in split order) of a :class:`~scdiff_core.data.store.PreparedStore`."""

    def __init__(self, store, positions: np.ndarray):
        self.store, self.pos = store, np.asarray(positions, dtype=np.int64)
        self.n, self.counts = len(self.pos), store.kind == "counts"
        lib = store.library
        self.library = torch.from_numpy(lib[self.pos]) if lib is not None else None

    def rows(self, idx) -> Batch:
        idx = np.asarray(idx, dtype=np.int64)
        X, C, lib = self.store.batch(self.pos[idx])
        if not self.counts:
            return Batch(torch.from_numpy(X), None, None)
        return Batch(torch.from_numpy(X), torch.from_numpy(C), torch.from_numpy(lib.astype(np.float32)))
