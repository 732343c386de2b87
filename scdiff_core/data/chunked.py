"""Preparing an ``.h5ad`` larger than memory: the steps of :func:`~scdiff_core.data.prepare` in
streaming passes over cell chunks, with the prepared matrix written to disk (:mod:`.store`).

Pass 1 checks the values, takes each cell's library over all genes and gathers per-gene sums
(counts for ``seurat_v3``, log-normalized means for the cell-cycle control genes); pass 2 (when
needed) scores the cell-cycle phase and takes seurat_v3's clipped sums; pass 3 writes the selected
genes of the kept cells as CSR. The split needs only ``obs``. Memory holds the annotations, a
few numbers per gene and one chunk — never a dense matrix of all cells.

On a file that fits in memory the result equals :func:`~scdiff_core.data.load_prepared`'s: same
cells, genes, phase, library sizes, values and record (tests check it). The kind is detected on
the same 2,000-cell sample; only the default for ``use_raw`` looks at the first chunk of ``X``.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable, Sequence

import h5py
import numpy as np
import pandas as pd
import scipy.sparse as sp

from scdiff_core.common import LIBRARY_KEY, NORMALIZATION
from scdiff_core.errors import DataError

from . import gene_stats as gs
from .backed import CellMatrix, OpenedMatrix, _check_plain_h5ad, open_matrix
from .cellcycle import phase_genes
from .conditions import _check_condition_counts, _check_conditions, _vocabularies
from .genes import _select_genes
from .matrix import LOGNORM_MAX, _finite_nonneg_values, _has_negative, _integer_check_sample, detect_kind, lognormalize
from .preparation import _LOGNORM_AS_GIVEN, PreparedData, _check_arguments, _check_unique, _record, _store_phase
from .store import PreparedStore

__all__ = ["ChunkedPreparedData", "prepare_chunked", "CHUNK_CELLS"]

CHUNK_CELLS = 4096
_DENSE_VALUES = 1 << 24  # dense sub-chunks (log-normalized, all genes) of at most 16 M values
PassProgress = Callable[[str, int, int, dict], None]


@dataclass
class ChunkedPreparedData(PreparedData):
    """:class:`PreparedData` whose matrix is on disk: ``adata`` holds obs and var only (``X`` is None)."""

    store: PreparedStore | None = None


def _dense_parts(X: sp.csr_matrix, kind: str):
    """Log-normalized values of ``X`` over all its genes, as dense float32 blocks of rows."""
    rows = max(1, _DENSE_VALUES // max(1, X.shape[1]))
    for a in range(0, X.shape[0], rows):
        part = X[a:a + rows]
        yield lognormalize(part) if kind == "counts" else part.toarray()


def _detect(m: CellMatrix, kind: str | None) -> tuple[str, bool]:
    """The kind from the 2,000-cell sample :func:`detect_kind` uses (checked against all values in pass 1)."""
    if kind is not None:
        return kind, False
    n = m.n_obs
    rows = np.arange(n) if n <= 2000 else np.sort(np.random.default_rng(0).choice(n, 2000, replace=False))
    sample = m.take(rows)
    values, _ = _finite_nonneg_values(sample)
    s = _integer_check_sample(values, sample)
    return ("counts" if values.size == 0 or np.array_equal(s, np.round(s)) else "lognorm"), True


class _Pass1:
    """Values checked, library sizes, and the per-gene sums later steps need."""

    def __init__(self, n_obs: int, n_genes: int, kind: str, need_phase: bool, need_hvg: bool):
        self.kind, self.totals, self.vmax = kind, np.zeros(n_obs, np.float64), 0.0
        self.counts = gs.ColumnSums(n_genes) if need_hvg and kind == "counts" else None
        self.expm1 = gs.ColumnSums(n_genes) if need_hvg and kind == "lognorm" else None
        self.means = gs.RowMeanF32(n_genes) if need_phase else None

    def add(self, a: int, X: sp.csr_matrix) -> None:
        _finite_nonneg_values(X)
        if X.nnz:
            self.vmax = max(self.vmax, float(X.data.max()))
        self.totals[a:a + X.shape[0]] = np.asarray(X.sum(axis=1, dtype=np.float64)).ravel()
        ne = X[self.totals[a:a + X.shape[0]] > 0]
        if self.counts is not None:
            self.counts.add(ne)
        if self.expm1 is not None:
            self.expm1.add(sp.csr_matrix((np.expm1(ne.data), ne.indices, ne.indptr), shape=ne.shape))
        if self.means is not None:
            for part in _dense_parts(ne, self.kind):
                self.means.add(part)


class _Pass2:
    """Cell-cycle scores per kept cell and seurat_v3's clipped sums (each only when needed)."""

    def __init__(self, var_names: list[str], kind: str, p1: _Pass1, need_phase: bool, clip: np.ndarray | None,
                 fallback_hvg: bool):
        self.kind, self.scores = kind, {"S": [], "G2M": []}
        self.sets = {}
        if need_phase:
            s_genes, g2m_genes = phase_genes(var_names)
            size, avg, index = min(len(s_genes), len(g2m_genes)), p1.means.mean(), pd.Index(var_names)
            for name, genes in (("S", s_genes), ("G2M", g2m_genes)):
                try:
                    gl, ctrl = gs.control_genes(genes, var_names, avg, size)
                except Exception as exc:
                    raise DataError(f"Cell-cycle scoring failed ({type(exc).__name__}: {exc}). Provide your own "
                                    f"'phase' column in obs, or leave 'phase' out of the conditions.") from exc
                self.sets[name] = (index.get_indexer(gl), index.get_indexer(ctrl))
        self.clipped = gs.ClippedSums(clip) if clip is not None else None
        self.expm1 = gs.ColumnSums(len(var_names)) if fallback_hvg else None

    def add(self, ne: sp.csr_matrix) -> None:
        if self.clipped is not None:
            self.clipped.add(ne)
        if not self.sets and self.expm1 is None:
            return
        for part in _dense_parts(ne, self.kind):
            for name, (gl, ctrl) in self.sets.items():
                self.scores[name].append(np.nanmean(part[:, gl], axis=1, dtype="float64")
                                         - np.nanmean(part[:, ctrl], axis=1, dtype="float64"))
            if self.expm1 is not None:
                self.expm1.add(sp.csr_matrix(np.expm1(part)))

    def phase(self) -> np.ndarray:
        return gs.phase_from_scores(np.concatenate(self.scores["S"]), np.concatenate(self.scores["G2M"]))


def _passes(m: CellMatrix, chunk: int, progress: PassProgress | None, label: str):
    n = m.n_obs
    for a, X in m.chunks(chunk):
        yield a, X
        if progress is not None:
            progress(label, min(a + chunk, n), n, {})


def _key(path: str, **options) -> str:
    st = os.stat(path)
    from scdiff_core import __version__

    blob = json.dumps([os.path.abspath(path), st.st_size, st.st_mtime_ns, options, __version__], sort_keys=True,
                      default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def _from_store(target: Path, record: dict, obs: pd.DataFrame, var: pd.DataFrame) -> ChunkedPreparedData:
    import anndata

    return ChunkedPreparedData(adata=anndata.AnnData(obs=obs, var=var), kind=record["kind"],
                               conditions=list(record["conditions"]), genes=list(record["genes"]),
                               vocab=record["vocab"], counts_per_value=record["counts_per_value"],
                               preprocessing=record["preprocessing"], store=PreparedStore(target, record["kind"]))


def prepare_chunked(path: str | os.PathLike, conditions: Sequence[str], *, workdir: str | os.PathLike,
                    layer: str | None = None, use_raw: bool | None = None, kind: str | None = None,
                    max_all_genes: int = 3000, n_top_genes: int = 2000, compute_phase: bool | None = None,
                    min_cells_per_value: int = 2, chunk_cells: int = CHUNK_CELLS,
                    progress: PassProgress | None = None) -> ChunkedPreparedData:
    """:func:`~scdiff_core.data.load_prepared` for a file larger than memory.

    Parameters are those of :func:`~scdiff_core.data.prepare` and
    :func:`~scdiff_core.data.load_prepared`, plus ``workdir``, the folder that receives the
    prepared matrix (``prepared.h5ad``, reused when the same file is prepared the same way again),
    ``chunk_cells`` (cells read at a time) and ``progress(stage, cells_done, n_cells, {})``.
    """
    conditions = _check_arguments(conditions, kind, max_all_genes, n_top_genes, min_cells_per_value)
    workdir = Path(workdir)
    target = workdir / "prepared.h5ad"
    key = _key(str(path), layer=layer, use_raw=use_raw, conditions=conditions, kind=kind, max_all=max_all_genes,
               n_top=n_top_genes, phase=compute_phase, min_cells=min_cells_per_value)
    old = PreparedStore.read_record(target) if target.exists() else None
    if old is not None and old[0].get("key") == key:
        return _from_store(target, *old)
    if use_raw is None:
        _check_plain_h5ad(Path(path).expanduser())
        with h5py.File(Path(path).expanduser(), "r") as f:
            use_raw = (layer is None and "raw" in f and "X" in f
                       and _has_negative(CellMatrix(f["X"]).rows(0, min(chunk_cells, int(_rows_of(f["X"]))))))
        default_use_raw = bool(use_raw)
    else:
        default_use_raw = False
    om = open_matrix(path, layer=layer, use_raw=bool(use_raw))
    try:
        info = {"source": str(path), "path": om.path, "default_use_raw": default_use_raw}
        extra = {"layer": layer, "use_raw": bool(use_raw), "data_mode": "chunked"}
        _prepare(om, conditions, kind, (max_all_genes, n_top_genes), compute_phase, min_cells_per_value, info,
                 chunk_cells, progress, target, extra, key)
    finally:
        om.close()
    return _from_store(target, *PreparedStore.read_record(target))


def _rows_of(node) -> int:
    return node.shape[0] if isinstance(node, h5py.Dataset) else int(node.attrs["shape"][0])


def _validate(om: OpenedMatrix, conditions: list[str], need_phase: bool) -> list[str]:
    """As :func:`prepare`'s first steps: cells, genes, unique names, condition columns."""
    if om.matrix.n_obs == 0:
        raise DataError("The data has no cells. Check the file, or the filtering done before.")
    if om.matrix.shape[1] == 0:
        raise DataError("The data has no genes. Check the file, or choose another matrix.")
    _check_unique(om.var.index, "Gene", "var_names_make_unique")
    _check_unique(om.obs.index, "Cell", "obs_names_make_unique")
    _check_conditions(om.obs, conditions, need_phase)
    return [str(g) for g in om.var.index]


def _hvg_from(p1: _Pass1, p2: _Pass2 | None, reg_std, fallback: str | None):
    """The ``hvg(n_top_genes)`` hook of :func:`_select_genes`, from the streamed statistics."""
    def hvg(n_top: int):
        if p1.kind == "counts" and fallback is None:
            mean, _ = p1.counts.mean_var()
            return gs.seurat_v3_select(mean, reg_std, p2.clipped, p1.counts.n, n_top), "seurat_v3", None
        sums = p1.expm1 if p1.kind == "lognorm" else p2.expm1
        return gs.seurat_select(*sums.mean_var(), n_top), "seurat", fallback
    return hvg


def _v3_clip(p1: _Pass1) -> tuple[np.ndarray | None, np.ndarray | None, str | None]:
    """(reg_std, clip values, None) for seurat_v3, or (None, None, the reason it falls back)."""
    try:
        import skmisc  # noqa: F401

        mean, var = p1.counts.mean_var()
        reg_std, clip = gs.seurat_v3_clip(mean, var, p1.counts.n)
        return reg_std, clip, None
    except ImportError:
        return None, None, "scikit-misc is not installed (needed for flavor='seurat_v3')"
    except Exception as exc:  # loess can fail on degenerate data
        return None, None, f"seurat_v3 failed: {type(exc).__name__}: {exc}"


def _prepare(om: OpenedMatrix, conditions, kind, genes_opts, compute_phase, min_cells, info, chunk, progress,
             target: Path, extra: dict, key: str) -> None:
    """Passes 1–3; writes the prepared file ``target`` (atomically)."""
    max_all, n_top = genes_opts
    phase_exists = "phase" in om.obs.columns
    need_phase = ("phase" in conditions and not phase_exists) if compute_phase is None else bool(compute_phase)
    var_names = _validate(om, conditions, need_phase)
    m, n_genes = om.matrix, len(var_names)
    need_hvg = not (n_genes <= max_all or n_top >= n_genes)
    kind, detected = _detect(m, kind)
    p1 = _Pass1(m.n_obs, n_genes, kind, need_phase, need_hvg)
    for a, X in _passes(m, chunk, progress, "prepare: check values, library sizes"):
        p1.add(a, X)
    if detected and kind == "lognorm" and p1.vmax >= LOGNORM_MAX:
        detect_kind(np.array([[p1.vmax, 0.5]], np.float32))  # raises the in-memory path's message
    keep = p1.totals > 0
    if not keep.any():
        raise DataError("All cells are empty (every value is zero). Check that the right matrix was chosen "
                        "(--layer / --use-raw).")
    obs = om.obs.iloc[np.flatnonzero(keep)].copy() if not keep.all() else om.obs.copy()
    _check_condition_counts(obs, conditions, need_phase, min_cells)
    reg_std, clip, fallback = _v3_clip(p1) if need_hvg and kind == "counts" else (None, None, None)
    p2 = None
    if need_phase or need_hvg and kind == "counts":
        p2 = _Pass2(var_names, kind, p1, need_phase, clip, fallback is not None)
        for a, X in _passes(m, chunk, progress, "prepare: cell-cycle scores, gene variances"):
            p2.add(X[p1.totals[a:a + X.shape[0]] > 0])
    phase: dict[str, Any] = {"computed": False}
    if need_phase:
        phase = _store_phase(obs, p2.phase(), var_names, conditions, phase_exists, min_cells)
    mask, selection = _select_genes(None, lambda: None, var_names, kind, conditions, max_all, n_top,
                                    hvg=_hvg_from(p1, p2, reg_std, fallback))
    _write_store(om, obs, p1, mask, var_names, conditions, kind, detected, min_cells, selection, phase, info,
                 chunk, progress, target, extra, key)


def _write_store(om: OpenedMatrix, obs: pd.DataFrame, p1: _Pass1, mask: np.ndarray, var_names: list[str],
                 conditions, kind: str, detected: bool, min_cells: int, selection: dict, phase: dict, info: dict,
                 chunk: int, progress, target: Path, extra: dict, key: str) -> None:
    """Pass 3: the kept cells over the selected genes, CSR, into ``target``; the record in its ``uns``."""
    from scdiff_core.h5stream import H5adAppender, partial_path, publish

    cols = np.flatnonzero(mask)
    genes = [var_names[c] for c in cols]
    out_var = om.var.iloc[cols].copy()
    out_var.index = pd.Index(genes)
    keep = p1.totals > 0
    if kind == "counts":  # each cell's library is its total over ALL its genes
        obs[LIBRARY_KEY] = p1.totals[keep].astype(np.float32)
    vocab, counts_per_value = _vocabularies(obs, conditions)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp, held = partial_path(target)
    zero = []
    try:
        with h5py.File(tmp, "w") as f:
            w = H5adAppender(f, out_var)
            for a, X in _passes(om.matrix, chunk, progress, "prepare: write the selected genes"):
                sub = X[keep[a:a + X.shape[0]]][:, cols]
                z = np.asarray(sub.sum(axis=1)).ravel() <= 0  # no values over the selected genes
                zero.append(z)
                w.append(sub[~z])
            zero_all = np.concatenate(zero)
            n_zero = int(zero_all.sum())
            final = SimpleNamespace(X=SimpleNamespace(shape=(int(keep.sum()),)), n_zero=n_zero, genes=genes,
                                    normalization=NORMALIZATION if kind == "counts" else _LOGNORM_AS_GIVEN)
            cells = SimpleNamespace(kind=kind, detected=detected, n_in=om.matrix.n_obs, n_empty=int((~keep).sum()))
            record = _record(SimpleNamespace(uns={"scdiff_matrix": om.origin}, n_vars=len(var_names)), cells,
                             conditions, min_cells, selection, phase, final, info)
            record.update(extra)
            if n_zero:
                record["n_cells_dropped_empty_selected"] = n_zero
            full = {"key": key, "kind": kind, "conditions": list(conditions), "genes": genes, "vocab": vocab,
                    "counts_per_value": counts_per_value, "preprocessing": record}
            w.finish(obs.iloc[np.flatnonzero(~zero_all)] if n_zero else obs, {},
                     {"scdiff_prepared": json.dumps(full)})
        publish(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
        held.close()
