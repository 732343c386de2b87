"""Preparing data for training: :func:`prepare` and its result, :class:`PreparedData`.

:func:`prepare` is a pipeline of named steps, each raising :class:`DataError` with a message
that says what to do: check the arguments, validate cells and genes, check the condition
columns, detect the kind of values and drop empty cells, check the condition values, compute
the cell-cycle phase, select genes, build the final matrix, encode the conditions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, NamedTuple, Sequence

import anndata
import numpy as np
import pandas as pd

from scdiff_core.common import LIBRARY_KEY, NORMALIZATION, TARGET_SUM, to_jsonable
from scdiff_core.errors import DataError

from .cellcycle import G2M_GENES, PHASES, S_GENES, _match_genes, score_phase
from .conditions import (
    _check_condition_counts,
    _check_condition_values,
    _check_conditions,
    _vocabularies,
)
from .genes import _select_genes
from .matrix import _as_float32, _dense_float32, _finite_nonneg_values, detect_kind, lognormalize

__all__ = ["PreparedData", "prepare"]

_LOGNORM_AS_GIVEN = "none (log-normalized values used as given)"


@dataclass
class PreparedData:
    """Data ready for training.

    Attributes
    ----------
    adata
        ``X``: dense float32 log-normalized values over the selected genes;
        ``layers['counts']``: dense float32 counts over the selected genes (only when
        ``kind == 'counts'``); ``obs``: condition columns as pandas Categorical with sorted
        string categories, other columns kept.
    kind
        ``'counts'`` or ``'lognorm'`` (what the input matrix held).
    conditions
        Condition column names.
    genes
        Selected genes, in input order.
    vocab
        Per condition, the sorted category values.
    counts_per_value
        Per condition, the number of cells of each value.
    preprocessing
        JSON-serialisable record of what was done.
    """

    adata: anndata.AnnData
    kind: str
    conditions: list[str]
    genes: list[str]
    vocab: dict[str, list[str]] = field(default_factory=dict)
    counts_per_value: dict[str, dict[str, int]] = field(default_factory=dict)
    preprocessing: dict = field(default_factory=dict)


def _examples(values: Sequence[Any], k: int = 5) -> str:
    """The first ``k`` values, quoted, for a message (with the total when there are more)."""
    shown = ", ".join(repr(str(v)) for v in list(values)[:k])
    return shown + (f", ... ({len(values)} in all)" if len(values) > k else "")


# --------------------------------------------------------------------------------------
# Steps
# --------------------------------------------------------------------------------------


def _check_arguments(
    conditions: Any, kind: str | None, max_all_genes: Any, n_top_genes: Any, min_cells_per_value: Any
) -> list[str]:
    """Check prepare's arguments; return the conditions as a list of column names."""
    if isinstance(conditions, str):
        conditions = [conditions]
    conditions = [str(c) for c in (conditions or [])]
    dupes = sorted({c for c in conditions if conditions.count(c) > 1})
    if dupes:
        raise DataError(f"Conditions are listed more than once: {dupes}. List each column once.")
    if kind is not None and kind not in ("counts", "lognorm"):
        raise DataError(f"kind must be 'counts' or 'lognorm' (or left out to detect it), got {kind!r}.")
    for arg, val in (("max_all_genes", max_all_genes), ("n_top_genes", n_top_genes),
                     ("min_cells_per_value", min_cells_per_value)):
        if not isinstance(val, (int, np.integer)) or isinstance(val, bool) or val < 1:
            raise DataError(f"{arg} must be a positive integer, got {val!r}.")
    return conditions


def _check_unique(names: pd.Index, what: str, fix: str) -> None:
    """Raise when ``names`` (gene or cell names, ``what``) repeat; ``fix`` is the method to call."""
    if not names.is_unique:
        dup = names[names.duplicated()].unique().tolist()
        raise DataError(
            f"{what} names are not unique ({len(dup)} duplicated, e.g. {_examples(dup)}). Make them "
            f"unique first: adata.{fix}()."
        )


def _validate_cells_and_genes(adata: anndata.AnnData) -> list[str]:
    """The data has cells, genes, ``.X`` and unique names; return the gene names as strings."""
    if adata.n_obs == 0:
        raise DataError("The data has no cells. Check the file, or the filtering done before.")
    if adata.n_vars == 0:
        raise DataError("The data has no genes. Check the file, or choose another matrix.")
    if adata.X is None:
        raise DataError("The data has no .X matrix. Choose a layer or .raw with select_matrix().")
    _check_unique(adata.var_names, "Gene", "var_names_make_unique")
    _check_unique(adata.obs_names, "Cell", "obs_names_make_unique")
    return [str(g) for g in adata.var_names]


@dataclass
class _Cells:
    """The non-empty cells: float32 values (CSR or dense), annotations and library sizes."""

    X: Any
    obs: pd.DataFrame
    totals: np.ndarray  # per cell, over all its genes (float64)
    kind: str
    detected: bool
    n_in: int
    n_empty: int

    @cached_property
    def lognorm(self) -> Any:
        """The values log-normalized over all genes (the values themselves for lognorm input)."""
        return lognormalize(self.X) if self.kind == "counts" else self.X


def _detect_kind(X: Any, kind: str | None) -> tuple[str, bool]:
    """The kind of values and whether it was detected (it is unless given); checks the values."""
    if kind is None:
        return detect_kind(X), True
    _finite_nonneg_values(X)
    return kind, False


def _drop_empty_cells(adata: anndata.AnnData, kind: str, detected: bool) -> _Cells:
    """The cells with at least one non-zero value, as float32; an error when there are none."""
    X = _as_float32(adata.X)
    totals = np.asarray(X.sum(axis=1, dtype=np.float64)).ravel()
    keep = totals > 0
    n_in = int(adata.n_obs)
    n_empty = int((~keep).sum())
    if n_empty == n_in:
        raise DataError(
            "All cells are empty (every value is zero). Check that the right matrix was chosen "
            "(--layer / --use-raw)."
        )
    obs = adata.obs.copy()
    if n_empty:
        X = X[keep]
        obs = obs.iloc[np.flatnonzero(keep)].copy()
    return _Cells(X, obs, totals[keep], kind, detected, n_in, n_empty)


def _compute_phase(
    cells: _Cells, var_names: list[str], conditions: Sequence[str], replaced: bool, min_cells: int
) -> dict[str, Any]:
    """Score the phase on all genes into ``cells.obs['phase']``; return the record of it."""
    ad_all = anndata.AnnData(
        X=cells.lognorm, obs=pd.DataFrame(index=cells.obs.index.copy()),
        var=pd.DataFrame(index=pd.Index(var_names)),
    )
    phase = score_phase(ad_all)
    return _store_phase(cells.obs, phase.to_numpy(dtype=str), var_names, conditions, replaced, min_cells)


def _store_phase(
    obs: pd.DataFrame, phase: np.ndarray, var_names: list[str], conditions: Sequence[str], replaced: bool,
    min_cells: int,
) -> dict[str, Any]:
    """Put the scored phase into ``obs['phase']``, check it as a condition, return its record."""
    obs["phase"] = pd.Categorical(phase, categories=list(PHASES))
    record = {
        "computed": True,
        "method": "scanpy.tl.score_genes_cell_cycle (Tirosh 2016 genes, on all genes)",
        "replaced_existing_column": bool(replaced),
        "n_s_genes": len(_match_genes(S_GENES, var_names)),
        "n_g2m_genes": len(_match_genes(G2M_GENES, var_names)),
        "counts": {p: int((phase == p).sum()) for p in PHASES},
    }
    if "phase" in conditions:
        _check_condition_values(obs["phase"], "phase", min_cells, computed=True)
    return record


class _Final(NamedTuple):
    """The final matrix over the selected genes and what it records."""

    X: np.ndarray
    layers: dict[str, np.ndarray]
    genes: list[str]
    var: pd.DataFrame
    normalization: str
    n_zero: int  # cells with no values over the selected genes


def _final_matrix(cells: _Cells, var: pd.DataFrame, var_names: list[str], mask: np.ndarray) -> _Final:
    """Log-normalized values over the selected genes (counts: library over all genes).

    For counts, also stores each cell's library size in ``cells.obs[LIBRARY_KEY]``.
    """
    cols = np.flatnonzero(mask)
    sub = cells.X[:, cols]
    genes = [g for g, m in zip(var_names, mask) if m]
    out_var = var.iloc[cols].copy()
    out_var.index = pd.Index(genes)
    if cells.kind != "counts":
        final_X = _dense_float32(sub)
        n_zero = int((final_X.sum(axis=1) == 0).sum())
        return _Final(final_X, {}, genes, out_var, _LOGNORM_AS_GIVEN, n_zero)
    counts_sel = _dense_float32(sub)
    # each cell's library is its total over ALL its genes, as scanpy's normalize_total uses it
    library = cells.totals.astype(np.float32)
    final_X = np.log1p(counts_sel / library[:, None] * TARGET_SUM).astype(np.float32)
    cells.obs[LIBRARY_KEY] = library
    n_zero = int((counts_sel.sum(axis=1) == 0).sum())
    return _Final(final_X, {"counts": counts_sel}, genes, out_var, NORMALIZATION, n_zero)


def _record(
    adata: anndata.AnnData, cells: _Cells, conditions: list[str], min_cells: int,
    selection: dict, phase: dict, final: _Final, source_info: dict | None,
) -> dict[str, Any]:
    """The JSON-serialisable record of what :func:`prepare` did."""
    return to_jsonable({
        "source": to_jsonable(dict(source_info)) if source_info else None,
        "matrix": str(adata.uns.get("scdiff_matrix", "X")),
        "kind": cells.kind,
        "kind_detected": cells.detected,
        "conditions": list(conditions),
        "min_cells_per_value": int(min_cells),
        "n_cells_in": cells.n_in,
        "n_cells_dropped_empty": cells.n_empty,
        "n_cells": int(final.X.shape[0]),
        "n_cells_zero_over_selected_genes": final.n_zero,
        "n_genes_in": int(adata.n_vars),
        "n_genes": len(final.genes),
        "gene_selection": selection,
        "phase": phase,
        "normalization": final.normalization,
    })


# --------------------------------------------------------------------------------------
# The pipeline
# --------------------------------------------------------------------------------------


def prepare(
    adata: anndata.AnnData,
    conditions: list[str],
    *,
    kind: str | None = None,
    max_all_genes: int = 3000,
    n_top_genes: int = 2000,
    compute_phase: bool | None = None,
    min_cells_per_value: int = 2,
    source_info: dict | None = None,
) -> PreparedData:
    """Validate, select genes and normalize an AnnData for training.

    Steps: (1) validate cells, gene names and the condition columns; (2) detect the kind of
    values and drop empty cells; (3) score the cell-cycle phase on all genes when needed;
    (4) select genes (all if ``n_genes <= max_all_genes``, else ``n_top_genes`` highly
    variable genes: ``seurat_v3`` on counts, ``seurat`` on log values; the cell-cycle genes
    are added when ``'phase'`` is a condition); (5) build the final matrix (counts are
    log-normalized over the selected genes).

    Parameters
    ----------
    adata
        Input data (usually from :func:`select_matrix`); not modified.
    conditions
        obs columns to condition on. ``'phase'`` is computed when it is missing.
    kind
        ``'counts'`` or ``'lognorm'``; detected with :func:`detect_kind` when None.
    max_all_genes
        Keep all genes when there are at most this many.
    n_top_genes
        Number of highly variable genes to select otherwise.
    compute_phase
        None: compute ``'phase'`` if it is a condition and missing from obs. True: always
        (re)compute it (stored in obs even if not a condition). False: never.
    min_cells_per_value
        Minimum number of cells for every value of every condition.
    source_info
        The ``info`` dict from :func:`load_anndata`, recorded in ``preprocessing``.

    Returns
    -------
    PreparedData

    Raises
    ------
    DataError
        For any problem with the data or the arguments (the message says what to do).
    """
    conditions = _check_arguments(conditions, kind, max_all_genes, n_top_genes, min_cells_per_value)
    var_names = _validate_cells_and_genes(adata)
    phase_exists = "phase" in adata.obs.columns
    need_phase = ("phase" in conditions and not phase_exists) if compute_phase is None else bool(compute_phase)
    _check_conditions(adata.obs, conditions, need_phase)
    cells = _drop_empty_cells(adata, *_detect_kind(adata.X, kind))
    _check_condition_counts(cells.obs, conditions, need_phase, min_cells_per_value)
    phase: dict[str, Any] = {"computed": False}
    if need_phase:
        phase = _compute_phase(cells, var_names, conditions, phase_exists, min_cells_per_value)
    mask, selection = _select_genes(cells.X, lambda: cells.lognorm, var_names, cells.kind, conditions,
                                    max_all_genes, n_top_genes)
    final = _final_matrix(cells, adata.var, var_names, mask)
    vocab, counts_per_value = _vocabularies(cells.obs, conditions)
    out = anndata.AnnData(X=final.X, obs=cells.obs, var=final.var, layers=final.layers or None)
    record = _record(adata, cells, conditions, min_cells_per_value, selection, phase, final, source_info)
    return PreparedData(adata=out, kind=cells.kind, conditions=list(conditions), genes=final.genes,
                        vocab=vocab, counts_per_value=counts_per_value, preprocessing=record)
