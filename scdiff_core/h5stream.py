"""Writing generated cells to an ``.h5ad`` chunk by chunk, in anndata's on-disk format.

The file is built with h5py and anndata's public writers (:func:`anndata.io.write_elem` for every
element, :func:`anndata.io.sparse_dataset` ``.append`` for the sparse matrices), so
:func:`anndata.read_h5ad` reads it like any other: ``layers['counts']`` is CSR (float32 values,
64-bit ``indptr``), ``X`` CSR or dense (``dense_x``), ``obs``/``obsm``/``uns`` written at the end.
Memory stays bounded by one chunk plus the per-cell annotations (a few bytes per cell).

It is written under a temporary name next to the target (``.<name>.*.partial``, with a
``.lock`` file held with ``flock`` while it is written) and renamed at the end: a run that is killed leaves no file under
the final name, and the next run to the same target removes partial files no writer holds.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Callable

import anndata as ad
import h5py
import numpy as np
import pandas as pd
import scipy.sparse as sp

from .common import LIBRARY_KEY
from .streaming import DEFAULT_CHUNK, Request, iter_chunks

CellsProgress = Callable[[int, int], None]
"""``progress(cells_written, total)`` after each chunk."""

_VECTOR_CHUNK = (1 << 16,)  # HDF5 chunk of the 1-D sparse arrays: appends touch few chunks


def _write_elem():
    try:
        from anndata.io import sparse_dataset, write_elem
    except ImportError:  # anndata < 0.11
        from anndata.experimental import sparse_dataset, write_elem
    return write_elem, sparse_dataset


def _lock(path: str):
    """An exclusive lock on the file ``path`` (created) held through the returned file object; None when
    another process holds it. (A file of its own: HDF5 locks the file it writes itself.)"""
    fh = open(path, "ab")
    try:
        import fcntl

        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except ImportError:  # no fcntl (Windows): partial files are never taken for stale
        fh.close()
        return None
    except OSError:
        fh.close()
        return None
    return fh


def remove_stale_partials(target: Path) -> list[Path]:
    """Delete ``.<name>.*.partial`` files next to ``target`` that no running writer holds locked."""
    removed = []
    for p in target.parent.glob(f".{target.name}.*.partial"):
        lock = Path(f"{p}.lock")
        fh = _lock(str(lock))
        if fh is not None:  # its writer is gone (a lock dies with its process)
            p.unlink(missing_ok=True)
            lock.unlink(missing_ok=True)
            fh.close()
            removed.append(p)
    return removed


class H5adAppender:
    """An ``.h5ad`` being written: ``X`` (CSR or dense) and CSR layers, appended to by rows.

    Parameters
    ----------
    f
        An h5py file open for writing.
    var
        The genes (``var``), written at once.
    dense_x
        ``X`` as a dense float32 dataset instead of CSR.
    layers
        Names of CSR layers (float32 values, 64-bit ``indptr``).
    """

    def __init__(self, f: h5py.File, var: pd.DataFrame, dense_x: bool = False, layers: tuple[str, ...] = ()):
        write_elem, sparse_dataset = _write_elem()
        self.f, self.dense_x, self.n_genes = f, dense_x, len(var)
        f.attrs["encoding-type"], f.attrs["encoding-version"] = "anndata", "0.1.0"
        write_elem(f, "var", var)
        for key in ("varm", "obsp", "varp", "layers"):
            write_elem(f, key, {})
        empty = sp.csr_matrix((0, self.n_genes), dtype=np.float32)
        sparse_kw = {"indptr_dtype": np.int64, "chunks": _VECTOR_CHUNK}
        self.layers = {}
        for name in layers:
            write_elem(f["layers"], name, empty, dataset_kwargs=sparse_kw)
            self.layers[name] = sparse_dataset(f["layers"][name])
        if dense_x:
            rows = max(1, min(1024, (1 << 22) // max(1, self.n_genes)))
            write_elem(f, "X", np.zeros((0, self.n_genes), np.float32),
                       dataset_kwargs={"maxshape": (None, self.n_genes), "chunks": (rows, self.n_genes)})
            self.X = f["X"]
        else:
            write_elem(f, "X", empty, dataset_kwargs=sparse_kw)
            self.X = sparse_dataset(f["X"])

    def append(self, X, layers: dict | None = None) -> None:
        """Append rows: ``X`` (dense or sparse) and each layer's rows (dense or sparse)."""
        if self.dense_x:
            X = np.asarray(X.toarray() if sp.issparse(X) else X, dtype=np.float32)
            n0 = self.X.shape[0]
            self.X.resize((n0 + len(X), self.n_genes))
            self.X[n0:] = X
        else:
            self.X.append(sp.csr_matrix(X, dtype=np.float32))
        for name, rows in (layers or {}).items():
            self.layers[name].append(sp.csr_matrix(rows, dtype=np.float32))

    def finish(self, obs: pd.DataFrame, obsm: dict, uns: dict) -> None:
        """Write the per-cell annotations and ``uns`` (the file is complete afterwards)."""
        write_elem, _ = _write_elem()
        write_elem(self.f, "obs", obs)
        write_elem(self.f, "obsm", obsm)
        write_elem(self.f, "uns", uns)


def partial_path(target: Path):
    """A new temporary file next to ``target`` (``.<name>.*.partial``) and the lock that marks it as being
    written (close it when done), after removing the partial files of writers that are gone."""
    remove_stale_partials(target)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent)
    os.close(fd)
    return tmp, _Held(_lock(f"{tmp}.lock"), f"{tmp}.lock")


def publish(tmp: str, target: Path) -> None:
    """Give the finished file the usual permissions (mkstemp makes it private) and rename it into place."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    os.replace(tmp, target)


class _Held:
    """The lock of a partial file; :meth:`close` releases it and removes the lock file."""

    def __init__(self, fh, path: str):
        self.fh, self.path = fh, path

    def close(self) -> None:
        if self.fh is not None:
            self.fh.close()
        Path(self.path).unlink(missing_ok=True)


def write_h5ad_streamed(model, req: Request, path: str | os.PathLike, *, chunk_size: int = DEFAULT_CHUNK,
                        dense_x: bool = False, progress: CellsProgress | None = None) -> dict:
    """Generate a checked request (:func:`~scdiff_core.streaming.plan_request`) into ``path``.

    Parameters
    ----------
    model
        The :class:`~scdiff_core.model.SCDiffModel`.
    req
        The request; any number of cells (no ``MAX_CELLS`` cap).
    path
        Target ``.h5ad`` (replaced atomically at the end).
    chunk_size
        Cells generated and written at a time (memory grows with it).
    dense_x
        Write ``X`` dense (float32, N × G) instead of CSR. ``layers['counts']`` is CSR either way.
    progress
        ``progress(cells_written, total)`` after every chunk.

    Returns
    -------
    dict
        ``{'path', 'n_cells', 'n_genes', 'counts', 'seconds', 'x_format'}`` (``counts``: a counts layer was written).
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp, held = partial_path(target)
    counts = model.kind == "counts" and model.space == "latent"
    library, umap, last = [], [], None
    try:
        with h5py.File(tmp, "w") as f:
            w = H5adAppender(f, pd.DataFrame(index=pd.Index(model.genes, name="gene")), dense_x,
                             ("counts",) if counts else ())
            done = 0
            for chunk in iter_chunks(model, req, chunk_size):
                w.append(chunk.X, {"counts": chunk.layers["counts"]} if counts else None)
                if LIBRARY_KEY in chunk.obs:
                    library.append(chunk.obs[LIBRARY_KEY].to_numpy(np.float32))
                if "X_umap_ref" in chunk.obsm:
                    umap.append(np.asarray(chunk.obsm["X_umap_ref"], np.float32))
                done, last = done + chunk.n_obs, chunk
                if progress is not None:
                    progress(done, req.total)
            obs = _final_obs(req, library)
            prov = dict(last.uns["scdiff"])
            prov.pop("chunk", None)
            prov.update(streamed=True, chunk_size=int(chunk_size), x_format="dense" if dense_x else "csr")
            w.finish(obs, {"X_umap_ref": np.concatenate(umap)} if umap else {}, {"scdiff": prov})
        publish(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
        held.close()
    return {"path": str(target), "n_cells": req.total, "n_genes": len(model.genes), "counts": counts,
            "seconds": float(prov["seconds"]), "x_format": prov["x_format"]}


def _final_obs(req: Request, library: list[np.ndarray]) -> pd.DataFrame:
    """The obs of the whole request, built as the in-memory path builds it."""
    obs = pd.DataFrame({c: pd.Categorical(req.labels(c, slice(0, req.total)), categories=req.categories(c))
                        for c in req.conditions})
    obs.index = [f"gen{i}" for i in range(req.total)]
    if library:
        obs[LIBRARY_KEY] = np.concatenate(library)
    return obs
