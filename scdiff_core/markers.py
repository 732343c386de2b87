"""Marker genes: differential expression between two sets of cells (Wilcoxon rank-sum, scanpy).

Both sets are log-normalized expression over the same genes (generated cells as the model writes
them; real cells as :class:`~scdiff_core.metrics.heldout.HeldOut` reads them).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .errors import DataError

MARKER_COLUMNS = ["gene", "log2_fold_change", "score", "p_value", "p_adjusted", "mean_a", "mean_b",
                  "fraction_a", "fraction_b"]
"""The columns of :func:`rank_markers`: fold change and means of set *a* against set *b*."""


def _dense(X) -> np.ndarray:
    return np.asarray(X.toarray() if sp.issparse(X) else X, dtype=np.float32)


def rank_markers(a, b, genes: Sequence[str], *, method: str = "wilcoxon", expressed: float = 0.0) -> pd.DataFrame:
    """Genes that differ between set ``a`` and set ``b``, most up in ``a`` first.

    Parameters
    ----------
    a, b
        (cells, genes) log-normalized expression (arrays, sparse matrices or AnnData over ``genes``).
    genes
        The genes, in the columns' order (AnnData inputs are subset to them).
    method
        ``sc.tl.rank_genes_groups`` method (``'wilcoxon'``, ``'t-test'``, …).
    expressed
        A cell expresses a gene when its value is above this.

    Returns
    -------
    DataFrame
        :data:`MARKER_COLUMNS`: ``log2_fold_change`` of *a* over *b* (scanpy's, from the log1p
        means), the test's ``score``, ``p_value``, Benjamini-Hochberg ``p_adjusted``, mean and
        fraction of cells expressing in each set. Sorted by score, descending.
    """
    import anndata as ad
    import scanpy as sc

    genes = [str(g) for g in genes]
    Xa, Xb = (_dense(x[:, genes].X if isinstance(x, ad.AnnData) else x) for x in (a, b))
    for name, X in (("first", Xa), ("second", Xb)):
        if X.ndim != 2 or X.shape[1] != len(genes):
            raise DataError(f"The {name} set has {X.shape[1:] or 'no'} genes, not the {len(genes)} given.")
        if len(X) < 2:
            raise DataError(f"The {name} set has {len(X)} cell(s); a test needs at least 2 cells in each set.")
        if not np.isfinite(X).all():
            raise DataError(f"The {name} set holds NaN or infinite values.")
    both = ad.AnnData(np.vstack([Xa, Xb]), obs=pd.DataFrame(
        {"set": pd.Categorical(["a"] * len(Xa) + ["b"] * len(Xb), categories=["a", "b"])},
        index=[f"c{i}" for i in range(len(Xa) + len(Xb))]), var=pd.DataFrame(index=genes))
    sc.tl.rank_genes_groups(both, "set", groups=["a"], reference="b", method=method, corr_method="benjamini-hochberg",
                            n_genes=len(genes), key_added="markers")
    df = sc.get.rank_genes_groups_df(both, group="a", key="markers").rename(columns={
        "names": "gene", "logfoldchanges": "log2_fold_change", "scores": "score", "pvals": "p_value",
        "pvals_adj": "p_adjusted"})
    col = {g: i for i, g in enumerate(genes)}
    pos = df["gene"].map(col).to_numpy()
    df["mean_a"], df["mean_b"] = Xa.mean(0)[pos], Xb.mean(0)[pos]
    df["fraction_a"], df["fraction_b"] = (Xa > expressed).mean(0)[pos], (Xb > expressed).mean(0)[pos]
    return df[MARKER_COLUMNS].sort_values("score", ascending=False, ignore_index=True)
