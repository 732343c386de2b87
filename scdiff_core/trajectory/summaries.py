"""Summaries of a trajectory, for the app and scripts (no drawing here).

A trajectory is the AnnData of :meth:`SCDiffModel.trajectory`, with ``obs['point']`` (0 … K-1)
and ``obs['lambda']``: :func:`trajectory_lambdas`, :func:`trajectory_means` (mean map position
per λ), :func:`gene_trends` (mean expression per λ) and :func:`label_shares` (predicted labels per λ).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd


def _points(adata) -> tuple[np.ndarray, int]:
    pts = adata.obs["point"].to_numpy()
    return pts, int(pts.max()) + 1


def trajectory_lambdas(adata) -> np.ndarray:
    """λ of each point of a trajectory (evenly spaced in [0, 1] if ``obs`` has no ``lambda``).

    Parameters
    ----------
    adata
        A trajectory: ``obs['point']`` (0 … K-1) and ``obs['lambda']``.

    Returns
    -------
    numpy.ndarray
        Shape (K,).
    """
    pts, K = _points(adata)
    if "lambda" not in adata.obs:
        return np.linspace(0, 1, K)
    lam = adata.obs["lambda"].to_numpy()
    return np.array([float(lam[pts == k][0]) for k in range(K)])


def trajectory_means(adata, key: str = "X_umap_ref") -> tuple[np.ndarray, np.ndarray]:
    """The mean position of each point's cells in an embedding.

    Parameters
    ----------
    adata
        A trajectory (see :func:`trajectory_lambdas`) with coordinates in ``obsm[key]``.
    key
        The embedding; by default the reference-map (projected UMAP) coordinates.

    Returns
    -------
    lambdas : numpy.ndarray
        Shape (K,).
    means : numpy.ndarray
        Shape (K, dims).
    """
    pts, K = _points(adata)
    xy = np.asarray(adata.obsm[key])
    return trajectory_lambdas(adata), np.stack([xy[pts == k].mean(0) for k in range(K)])


def gene_trends(adata, k: int = 6) -> tuple[np.ndarray, pd.DataFrame, list[str]]:
    """Mean expression per point of a trajectory, and the genes that change most.

    Parameters
    ----------
    adata
        A trajectory (see :func:`trajectory_lambdas`), log-normalized ``X``.
    k
        How many genes to pick: up to ``k // 2`` that rise most from the first point to the last
        (among those that rise), then falling ones (those that fall most) to make up ``k``.

    Returns
    -------
    lambdas : numpy.ndarray
        Shape (K,).
    means : pandas.DataFrame
        K rows (points) × genes.
    top : list of str
        The rising genes, then the falling ones.
    """
    pts, K = _points(adata)
    X = np.asarray(adata.X)
    M = np.stack([X[pts == p].mean(0) for p in range(K)])
    df = pd.DataFrame(M, columns=list(adata.var_names))
    change = M[-1] - M[0]
    up = [i for i in np.argsort(-change)[: k // 2] if change[i] > 0]
    down = [i for i in np.argsort(change)[: k - len(up)] if change[i] < 0]
    return trajectory_lambdas(adata), df, list(df.columns[up + down])


def label_shares(adata, column: str, values: Sequence[str]) -> pd.DataFrame:
    """Share of each point's cells whose predicted ``column`` is each of ``values``.

    Parameters
    ----------
    adata
        A trajectory (see :func:`trajectory_lambdas`) with ``obs['predicted_' + column]``.
    column
        The condition column.
    values
        The values to follow (typically the start and end state).

    Returns
    -------
    pandas.DataFrame
        Index: λ per point; one column per value, and ``other`` (the share predicted as none of them).
    """
    pts, K = _points(adata)
    pred = adata.obs[f"predicted_{column}"].astype(str).to_numpy()
    hit = {v: pred == v for v in values}
    out = {v: [h[pts == p].mean() for p in range(K)] for v, h in hit.items()}
    any_hit = np.logical_or.reduce(list(hit.values())) if hit else np.zeros(len(pred), bool)
    out["other"] = [1 - any_hit[pts == p].mean() for p in range(K)]
    return pd.DataFrame(out, index=pd.Index(trajectory_lambdas(adata), name="lambda"))
