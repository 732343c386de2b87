"""The expression matrix: choosing it, checking its values, and telling what it holds.

* :func:`select_matrix` picks ``.X``, a layer, or ``.raw`` as the expression matrix;
* :func:`detect_kind` tells raw counts from log-normalized values and refuses scaled data;
* :func:`lognormalize` normalizes counts to 1e4 per cell, then ``log1p``.
"""

from __future__ import annotations

from typing import Any

import anndata
import numpy as np
import scipy.sparse as sp

from scdiff_core.common import TARGET_SUM
from scdiff_core.errors import DataError

__all__ = ["LOGNORM_MAX", "select_matrix", "detect_kind", "lognormalize"]

LOGNORM_MAX = 30.0
_INTEGER_SAMPLE_CELLS = 2000


# --------------------------------------------------------------------------------------
# float32 helpers
# --------------------------------------------------------------------------------------


def _as_float32(X: Any) -> np.ndarray | sp.csr_matrix:
    """A float32 copy of X: CSR if sparse, a dense ndarray otherwise."""
    if sp.issparse(X):
        return sp.csr_matrix(X, dtype=np.float32, copy=True)
    try:
        return np.array(X, dtype=np.float32, copy=True)
    except (TypeError, ValueError) as exc:
        raise DataError(
            f"The expression matrix could not be read as numbers ({exc}). Give a numeric "
            f"matrix (counts or log-normalized values)."
        ) from exc


def _dense_float32(X: Any) -> np.ndarray:
    """X as a dense float32 ndarray (densifying a sparse matrix; no copy when already one)."""
    return np.asarray(X.toarray() if sp.issparse(X) else X, dtype=np.float32)


# --------------------------------------------------------------------------------------
# Choosing the matrix
# --------------------------------------------------------------------------------------


def _layer_list(adata: anndata.AnnData) -> str:
    """The layer names, quoted and comma-separated, for messages (``'none'`` without any)."""
    return ", ".join(repr(k) for k in adata.layers.keys()) or "none"


def _chosen_matrix(
    adata: anndata.AnnData, layer: str | None, use_raw: bool
) -> tuple[Any, Any, str]:
    """The matrix, its ``var`` (a copy) and its origin name, checking the choice."""
    if layer is not None and use_raw:
        raise DataError(
            f"Both a layer ('{layer}') and use_raw were given; choose one: the layer, or "
            f"adata.raw."
        )
    if layer is not None:
        if layer not in adata.layers:
            raise DataError(
                f"Layer '{layer}' not found in the data. Available layers: {_layer_list(adata)}. "
                f"Give one of these, or leave the layer out to use .X."
            )
        return adata.layers[layer], adata.var.copy(), f"layers/{layer}"
    if use_raw:
        if adata.raw is None:
            raise DataError(
                f"use_raw was requested but the data has no .raw. Leave use_raw off to use .X, "
                f"or pick a layer (available layers: {_layer_list(adata)})."
            )
        return adata.raw.X, adata.raw.var.copy(), "raw"
    if adata.X is None:
        raise DataError(
            f"The data has no .X matrix. Pick a layer (available: {_layer_list(adata)}) or use_raw."
        )
    return adata.X, adata.var.copy(), "X"


def select_matrix(
    adata: anndata.AnnData, *, layer: str | None = None, use_raw: bool = False
) -> anndata.AnnData:
    """Return a new AnnData whose ``.X`` is the chosen expression matrix.

    Parameters
    ----------
    adata
        The input data (not modified).
    layer
        Name of a layer in ``adata.layers`` to use instead of ``.X``.
    use_raw
        Use ``adata.raw.X`` (with ``adata.raw.var_names``) instead of ``.X``.

    Returns
    -------
    anndata.AnnData
        ``.X`` a float32 copy (CSR if the source is sparse), ``obs`` and ``obsm`` copied,
        ``var`` from the chosen source, and ``uns['scdiff_matrix']`` naming the source
        (``'X'``, ``'raw'`` or ``'layers/NAME'``).

    Raises
    ------
    DataError
        Both ``layer`` and ``use_raw`` given, an unknown layer, ``use_raw`` without ``.raw``,
        or no ``.X``.
    """
    X, var, origin = _chosen_matrix(adata, layer, use_raw)
    out = anndata.AnnData(X=_as_float32(X), obs=adata.obs.copy(), var=var)
    for key in adata.obsm.keys():
        out.obsm[key] = adata.obsm[key].copy()
    out.uns["scdiff_matrix"] = origin
    return out


# --------------------------------------------------------------------------------------
# Checking values and detecting the kind
# --------------------------------------------------------------------------------------


def _has_negative(X: Any) -> bool:
    """Whether any stored value of X (dense or sparse) is negative."""
    values = X.data if sp.issparse(X) else np.asarray(X)
    return bool(values.size) and bool(np.nanmin(values) < 0)


def _finite_nonneg_values(X: Any) -> tuple[np.ndarray, Any]:
    """Validate numeric, finite, non-negative values; return (stored values, row-indexable X)."""
    if sp.issparse(X):
        X = X.tocsr() if X.format not in ("csr", "csc") else X
        values = np.asarray(X.data)
    else:
        X = np.asarray(X)
        values = X
    if X.ndim != 2:
        raise DataError(
            f"The expression matrix must be 2-dimensional (cells x genes), got shape {X.shape}."
        )
    if not (np.issubdtype(values.dtype, np.number) and not np.issubdtype(values.dtype, np.complexfloating)):
        raise DataError(
            f"The expression matrix has non-numeric values (dtype {values.dtype}). Give a "
            f"numeric matrix of counts or log-normalized values."
        )
    if values.size and np.issubdtype(values.dtype, np.floating) and not np.isfinite(values).all():
        n_bad = int((~np.isfinite(values)).sum())
        raise DataError(
            f"The expression matrix contains NaN or infinite values; remove or impute them "
            f"({n_bad} entries), or choose another matrix with --layer / --use-raw."
        )
    if values.size and values.min() < 0:
        raise DataError(
            f"The expression matrix has negative values (min {float(values.min()):.3g}): it "
            f"looks scaled/centred (z-scores), which cannot be used. Give the log-normalized or "
            f"count matrix instead: --use-raw (use_raw=True) if adata.raw holds it, or --layer "
            f"NAME (layer='counts')."
        )
    return values, X


def _integer_check_sample(values: np.ndarray, Xr: Any) -> np.ndarray:
    """The values whose integrality decides 'counts': all of them, or those of 2000 sampled cells."""
    n = Xr.shape[0]
    if n <= _INTEGER_SAMPLE_CELLS:
        return values
    rows = np.sort(np.random.default_rng(0).choice(n, _INTEGER_SAMPLE_CELLS, replace=False))
    sample = Xr[rows]
    return np.asarray(sample.data if sp.issparse(sample) else sample)


def detect_kind(X: Any) -> str:
    """Tell raw counts from log-normalized values.

    Parameters
    ----------
    X
        Cells x genes matrix, dense or ``scipy.sparse``.

    Returns
    -------
    str
        ``'counts'`` when all values are non-negative integers (raw UMI counts; checked on a
        sample of up to 2000 cells), ``'lognorm'`` when they are non-negative, non-integer and
        below 30 (typical of ``log1p(normalize_total(...))``).

    Raises
    ------
    DataError
        NaN/infinite values, negative values (scaled data), or non-integer values reaching 30
        or more (normalized but not log-transformed). NaN and negativity are checked on all
        values (the stored values for sparse input).
    """
    values, Xr = _finite_nonneg_values(X)
    if values.size == 0 or np.issubdtype(values.dtype, np.integer):
        return "counts"
    sample = _integer_check_sample(values, Xr)
    if np.array_equal(sample, np.round(sample)):
        return "counts"
    vmax = float(values.max())
    if vmax < LOGNORM_MAX:
        return "lognorm"
    raise DataError(
        f"The expression matrix has non-integer values up to {vmax:.4g}: it looks normalized "
        f"but not log-transformed (e.g. CPM/TPM). Log-normalize it first "
        f"(scanpy.pp.normalize_total then scanpy.pp.log1p), or give the raw counts "
        f"(--layer counts) or a log-normalized matrix (--use-raw)."
    )


# --------------------------------------------------------------------------------------
# Normalizing
# --------------------------------------------------------------------------------------


def lognormalize(counts: Any) -> np.ndarray:
    """Normalize each cell to 1e4 total counts, then ``log1p``.

    Parameters
    ----------
    counts
        Cells x genes counts (dense or sparse). Totals are taken over the given genes.

    Returns
    -------
    numpy.ndarray
        Dense float32. Cells with zero total stay all zero (no NaN).
    """
    if sp.issparse(counts):
        X = sp.csr_matrix(counts, dtype=np.float32, copy=True)
        totals = np.asarray(X.sum(axis=1, dtype=np.float64)).ravel()
    else:
        X = np.array(counts, dtype=np.float32, copy=True)
        if X.ndim != 2:
            raise DataError(f"Counts must be a cells x genes matrix, got shape {X.shape}.")
        totals = X.sum(axis=1, dtype=np.float64)
    scale = np.zeros_like(totals)
    np.divide(TARGET_SUM, totals, out=scale, where=totals > 0)
    if sp.issparse(X):
        X = sp.diags(scale.astype(np.float32)) @ X
        X.data = np.log1p(X.data)
        return np.asarray(X.toarray(), dtype=np.float32)
    X *= scale.astype(np.float32)[:, None]
    np.log1p(X, out=X)
    return X
