"""Checking the cells handed to the evaluation: dense matrices, genes, label columns, finiteness.

Every evaluated set must be log-normalized expression over the training genes; these helpers
turn what the caller passed into that (reordering genes when only their order differs) or
raise a :class:`~scdiff_core.errors.ScdiffError` that says what to do.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from anndata import AnnData

from ..errors import ScdiffError


def dense(X: Any) -> np.ndarray:
    """``X`` (dense or sparse) as a float64 numpy array."""
    if sp.issparse(X):
        X = X.toarray()
    return np.asarray(X, dtype=np.float64)


def as_2d_float(X: Any, what: str) -> np.ndarray:
    """``X`` (AnnData, dense or sparse matrix) as a float64 cells × features array."""
    if isinstance(X, AnnData):
        X = X.X
    X = dense(X)
    if X.ndim != 2:
        raise ScdiffError(f"{what} must be a 2-D cells x features matrix, got shape {X.shape}.")
    return X


def check_same_width(A: np.ndarray, B: np.ndarray, names: str) -> None:
    """Raise unless the two point sets have the same number of columns (``names``: 'X and Y')."""
    if A.shape[1] != B.shape[1]:
        raise ScdiffError(f"{names} must have the same number of columns ({A.shape[1]} vs {B.shape[1]}).")


def label_column(adata: AnnData, key: str, what: str) -> np.ndarray:
    """The labels of ``adata.obs[key]`` as strings; raise if the column is absent or incomplete."""
    if key not in adata.obs.columns:
        raise ScdiffError(
            f"The label column {key!r} is missing from the {what} cells' obs "
            f"(available: {', '.join(map(str, adata.obs.columns)) or 'none'}). "
            f"Add it, or choose a label column that all sets share."
        )
    col = adata.obs[key]
    if col.isna().any():
        raise ScdiffError(
            f"The label column {key!r} of the {what} cells has {int(col.isna().sum())} missing "
            f"values. Fill them in or drop those cells before evaluating."
        )
    return col.astype(str).to_numpy()


def align_genes(adata: AnnData, var_names: pd.Index, what: str) -> AnnData:
    """Return ``adata`` with its genes in ``var_names`` order, or raise if the genes differ."""
    names = pd.Index(adata.var_names.astype(str))
    if names.equals(var_names):
        return adata
    if names.has_duplicates:
        raise ScdiffError(
            f"The {what} have duplicated gene names; make them unique (adata.var_names_make_unique())."
        )
    missing = var_names.difference(names)
    extra = names.difference(var_names)
    if len(missing) or len(extra):
        raise ScdiffError(
            f"The {what} do not have the same genes as the training data: {len(missing)} of "
            f"{len(var_names)} training genes are missing (e.g. {', '.join(map(str, missing[:5])) or '-'}) "
            f"and {len(extra)} genes are extra (e.g. {', '.join(map(str, extra[:5])) or '-'}). "
            "Generate with a model trained on this data, or evaluate against the matching data set."
        )
    return adata[:, var_names.tolist()]


def check_finite(X: np.ndarray, what: str) -> None:
    """Raise if any of the ``what`` cells has a NaN or infinite value."""
    if not np.isfinite(X).all():
        bad = int((~np.isfinite(X)).any(axis=1).sum())
        raise ScdiffError(
            f"{bad} of the {what} cells contain NaN or infinite values (the sampler probably "
            "diverged). Regenerate them (e.g. with a lower guidance scale) or drop those cells."
        )
