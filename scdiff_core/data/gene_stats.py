"""Per-gene statistics gathered in streaming passes over cell chunks, and what is computed from them.

These reproduce, from sums accumulated chunk by chunk, what the in-memory preparation gets from
scanpy on the whole matrix (scanpy 1.11's formulas, with sums taken in cell order as scanpy does
with one numba thread):

* highly variable genes, ``flavor='seurat_v3'`` on counts (Stuart et al. 2019: loess of log10
  variance on log10 mean, variance of the standardised values clipped at √N) and
  ``flavor='seurat'`` on log-normalized values (dispersion var/mean of expm1(X), z-scored within
  20 bins of mean expression);
* the cell-cycle scores of ``scanpy.tl.score_genes_cell_cycle`` (Tirosh et al. 2016 genes): control
  genes drawn per expression bin from the per-gene means, score = mean over the gene set − mean
  over the control genes, per cell.

Sums are added to running totals element by element (``np.add.at``, ``np.add.reduce`` over
rows), so the chunk size does not change a single bit of the result.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp


class ColumnSums:
    """Running per-column Σx and Σx² (float64) of CSR chunks, in row order."""

    def __init__(self, n_cols: int, square_in_float32: bool = True):
        self.n = 0
        self.sum = np.zeros(n_cols, np.float64)
        self.sumsq = np.zeros(n_cols, np.float64)
        self._f32 = square_in_float32

    def add(self, X: sp.csr_matrix) -> None:
        d = X.data
        np.add.at(self.sum, X.indices, d.astype(np.float64))
        sq = (d * d) if self._f32 else np.square(d.astype(np.float64))
        np.add.at(self.sumsq, X.indices, sq.astype(np.float64))
        self.n += X.shape[0]

    def mean_var(self) -> tuple[np.ndarray, np.ndarray]:
        """Mean and unbiased variance per column (scanpy's ``_get_mean_var``)."""
        n = self.n
        mean = self.sum / n
        var = self.sumsq / n - (self.sum / n) ** 2
        if n != 1:
            var *= n / (n - 1)
        return mean, var


class ClippedSums:
    """Per-column Σ min(x, clip) and Σ min(x, clip)² over CSR chunks (seurat_v3's second pass)."""

    def __init__(self, clip_val: np.ndarray):
        self.clip = np.asarray(clip_val, np.float64)
        self.sum = np.zeros(len(self.clip), np.float64)
        self.sumsq = np.zeros(len(self.clip), np.float64)

    def add(self, X: sp.csr_matrix) -> None:
        e = np.minimum(X.data.astype(np.float64), self.clip[X.indices])
        np.add.at(self.sumsq, X.indices, e ** 2)
        np.add.at(self.sum, X.indices, e)


def seurat_v3_clip(mean: np.ndarray, var: np.ndarray, n_obs: int, span: float = 0.3) -> tuple[np.ndarray, np.ndarray]:
    """The loess-regularised std per gene and the clip value reg_std·√N + mean."""
    from skmisc.loess import loess

    not_const = var > 0
    estimat_var = np.zeros(len(mean), dtype=np.float64)
    model = loess(np.log10(mean[not_const]), np.log10(var[not_const]), span=span, degree=2)
    model.fit()
    estimat_var[not_const] = model.outputs.fitted_values
    reg_std = np.sqrt(10 ** estimat_var)
    return reg_std, reg_std * np.sqrt(n_obs) + mean


def seurat_v3_select(mean: np.ndarray, reg_std: np.ndarray, clipped: ClippedSums, n_obs: int,
                     n_top_genes: int) -> np.ndarray:
    """The ``n_top_genes`` genes of highest standardised variance (one batch), as a mask."""
    norm_gene_var = (1 / ((n_obs - 1) * np.square(reg_std))) * (
        (n_obs * np.square(mean)) + clipped.sumsq - 2 * clipped.sum * mean)
    ranked = np.argsort(np.argsort(-norm_gene_var.reshape(1, -1), axis=1), axis=1).astype(np.float32)[0]
    nbatches = (ranked < n_top_genes).astype(int)
    ranked[ranked >= n_top_genes] = np.nan
    df = pd.DataFrame({"highly_variable_rank": ranked, "highly_variable_nbatches": nbatches})
    order = df.sort_values(["highly_variable_rank", "highly_variable_nbatches"], ascending=[True, False],
                           na_position="last").index
    mask = np.zeros(len(mean), dtype=bool)
    mask[np.asarray(order[: int(n_top_genes)])] = True
    return mask


def seurat_select(mean: np.ndarray, var: np.ndarray, n_top_genes: int, n_bins: int = 20) -> np.ndarray:
    """``flavor='seurat'`` from the mean and variance of expm1(X) per gene, as a mask."""
    mean = mean.copy()
    mean[mean == 0] = 1e-12
    dispersion = var / mean
    dispersion[dispersion == 0] = np.nan
    dispersion = np.log(dispersion)
    mean = np.log1p(mean)
    df = pd.DataFrame({"means": mean, "dispersions": dispersion})
    df["mean_bin"] = pd.cut(df["means"], bins=n_bins)
    stats = df.groupby("mean_bin", observed=True)["dispersions"].agg(avg="mean", dev="std")
    single = stats["dev"].isnull()  # a bin with one gene: its normalized dispersion is set to 1
    stats.loc[single, "dev"] = stats.loc[single, "avg"]
    stats.loc[single, "avg"] = 0
    stats = stats.loc[df["mean_bin"]].set_index(df.index)
    norm = ((df["dispersions"] - stats["avg"]) / stats["dev"]).to_numpy()
    n_top = min(int(n_top_genes), len(mean))
    x = norm[~np.isnan(norm)]
    n_top = min(n_top, x.size)
    x[::-1].sort()
    return np.nan_to_num(norm, nan=-np.inf) >= x[n_top - 1]


class RowMeanF32:
    """Per-column mean of dense float32 chunks summed in float32, row after row (``np.nanmean``)."""

    def __init__(self, n_cols: int):
        self.total = np.zeros(n_cols, np.float32)
        self.n = 0

    def add(self, dense: np.ndarray) -> None:
        self.total = np.add.reduce(np.vstack([self.total[None, :], dense]), axis=0)
        self.n += dense.shape[0]

    def mean(self) -> np.ndarray:
        out = self.total.copy()
        np.true_divide(out, np.full(len(out), self.n, dtype=np.intp), out=out, casting="unsafe")
        return out


def control_genes(gene_list: Sequence[str], var_names: Sequence[str], obs_avg: np.ndarray, ctrl_size: int,
                  n_bins: int = 25, random_state: int = 0) -> tuple[pd.Index, pd.Index]:
    """``scanpy.tl.score_genes``' gene set and control genes from the per-gene means ``obs_avg``."""
    var_names = pd.Index(var_names)
    np.random.seed(random_state)
    gene_list = pd.Index(gene_list).intersection(var_names)
    gene_pool = var_names.astype("string")
    avg = pd.Series(obs_avg, index=gene_pool)
    avg = avg[np.isfinite(avg)]
    n_items = int(np.round(len(avg) / (n_bins - 1)))
    obs_cut = avg.rank(method="min") // n_items
    controls = pd.Index([], dtype="string")
    for cut in np.unique(obs_cut.loc[gene_list]):
        r_genes = obs_cut[(obs_cut == cut) & ~False].index
        if ctrl_size < len(r_genes):
            r_genes = r_genes.to_series().sample(ctrl_size).index
        controls = controls.union(r_genes.difference(gene_list))
    if len(controls) == 0:
        raise RuntimeError("No control genes found in any cut.")
    return gene_list, controls


def phase_from_scores(s_score: np.ndarray, g2m_score: np.ndarray) -> np.ndarray:
    """G1 when both scores are negative, else the higher of S and G2M (S on ties)."""
    phase = np.full(len(s_score), "S", dtype=object)
    phase[g2m_score > s_score] = "G2M"
    phase[(s_score < 0) & (g2m_score < 0)] = "G1"
    return phase
