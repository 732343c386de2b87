"""How far apart two sets of cells are: MMD², energy distance, classifier AUROC, per-gene metrics.

The point-set metrics (:func:`mmd2_unbiased`, :func:`energy_distance`, :func:`rf_auroc`) take
two cells × features matrices (in :func:`~scdiff_core.metrics.evaluate`: PCA coordinates);
:func:`gene_metrics` takes two cells × genes matrices. Pairwise distances are computed in row
blocks so memory stays bounded for large sets. The definitions are written out in
``docs/evaluation.md``.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np
from scipy.spatial.distance import cdist
from scipy.stats import spearmanr

from ..errors import ScdiffError
from .inputs import as_2d_float, check_same_width

#: Multiples of the median squared distance used as the σ² of the RBF kernels.
SIGMA2_FACTORS: tuple[float, ...] = (0.25, 0.5, 1.0, 2.0, 4.0)
#: Random-forest settings of the classifier two-sample test (``random_state`` is the seed).
RF_PARAMS: dict[str, Any] = {"n_estimators": 200, "max_depth": 6, "n_jobs": 1, "cv_folds": 5}
#: Fewest cells per side for which :func:`rf_auroc` is computed (5-fold cross-validation).
RF_MIN_CELLS = 10
_BLOCK = 2048  # rows per block of pairwise distances (bounds memory to ~BLOCK x n floats)


def block_sums(A: np.ndarray, B: np.ndarray, fn: Callable[[np.ndarray], np.ndarray]) -> float:
    """``sum_ij fn(||a_i - b_j||²)`` computed in row blocks to bound memory."""
    total = 0.0
    for start in range(0, A.shape[0], _BLOCK):
        d2 = cdist(A[start : start + _BLOCK], B, metric="sqeuclidean")
        total += float(fn(d2).sum())
    return total


def rbf_mix(sigma2s: Sequence[float]) -> Callable[[np.ndarray], np.ndarray]:
    """The kernel ``d² ↦ mean over σ² of exp(−d² / 2σ²)``, applied to squared distances."""
    s2 = [float(s) for s in sigma2s]

    def k(d2: np.ndarray) -> np.ndarray:
        out = np.zeros_like(d2)
        for s in s2:
            out += np.exp(-d2 / (2.0 * s))
        return out / len(s2)

    return k


def _two_samples(X: Any, Y: Any, names: tuple[str, str]) -> tuple[np.ndarray, np.ndarray]:
    A = as_2d_float(X, names[0])
    B = as_2d_float(Y, names[1])
    check_same_width(A, B, f"{names[0]} and {names[1]}")
    return A, B


def mmd2_unbiased(X: Any, Y: Any, sigma2s: Sequence[float]) -> float:
    """Unbiased estimate of the squared maximum mean discrepancy between two samples.

    The kernel is the average of Gaussian (RBF) kernels,

    .. math:: k(x, y) = \\frac{1}{|S|} \\sum_{\\sigma^2 \\in S} \\exp\\!\\left(
              -\\frac{\\lVert x - y \\rVert^2}{2 \\sigma^2}\\right),

    and the estimator is the U-statistic

    .. math:: \\widehat{\\mathrm{MMD}}^2 = \\frac{1}{m(m-1)} \\sum_{i \\ne j} k(x_i, x_j)
              + \\frac{1}{n(n-1)} \\sum_{i \\ne j} k(y_i, y_j)
              - \\frac{2}{mn} \\sum_{i, j} k(x_i, y_j),

    i.e. the diagonal terms of the within-sample kernel matrices are left out. It is unbiased,
    so it fluctuates around 0 (and can be slightly negative) when both samples come from the
    same distribution.

    Parameters
    ----------
    X, Y : array-like, shape (m, d) and (n, d)
        The two samples (dense or sparse); ``m, n >= 2``.
    sigma2s : sequence of float
        The σ² values of the kernel mixture (in :func:`~scdiff_core.metrics.evaluate`:
        ``SIGMA2_FACTORS`` times the median squared distance between training cells).

    Returns
    -------
    float
        The MMD² estimate; NaN if a sample has fewer than 2 points.
    """
    X, Y = _two_samples(X, Y, ("X", "Y"))
    if len(sigma2s) == 0 or any(float(s) <= 0 for s in sigma2s):
        raise ScdiffError("sigma2s must be a non-empty list of positive kernel widths.")
    m, n = X.shape[0], Y.shape[0]
    if m < 2 or n < 2:
        return float("nan")
    k = rbf_mix(sigma2s)
    # exp(0) = 1 on the diagonal for every kernel of the mixture, so the diagonal sum is m (n).
    kxx = (block_sums(X, X, k) - m) / (m * (m - 1))
    kyy = (block_sums(Y, Y, k) - n) / (n * (n - 1))
    kxy = block_sums(X, Y, k) / (m * n)
    return float(kxx + kyy - 2.0 * kxy)


def energy_distance(X: Any, Y: Any) -> float:
    """Energy distance ``2 E‖X−Y‖ − E‖X−X′‖ − E‖Y−Y′‖`` between two samples.

    The cross term is the mean over all ``m·n`` pairs; the within-sample terms are
    U-statistics (mean over the ``m(m−1)`` ordered pairs ``i ≠ j``, diagonal left out). With
    U-statistics the estimate is unbiased for the population energy distance, so for two
    samples of one distribution it is close to 0 and can be slightly negative.

    Parameters
    ----------
    X, Y : array-like, shape (m, d) and (n, d)
        The two samples; ``m, n >= 2``.

    Returns
    -------
    float
        The energy distance (NaN if a sample has fewer than 2 points).
    """
    X, Y = _two_samples(X, Y, ("X", "Y"))
    m, n = X.shape[0], Y.shape[0]
    if m < 2 or n < 2:
        return float("nan")
    dist = lambda d2: np.sqrt(np.maximum(d2, 0.0))  # noqa: E731
    exy = block_sums(X, Y, dist) / (m * n)
    exx = block_sums(X, X, dist) / (m * (m - 1))  # diagonal distances are 0
    eyy = block_sums(Y, Y, dist) / (n * (n - 1))
    return float(2.0 * exy - exx - eyy)


def rf_auroc(X_real: Any, X_gen: Any, seed: int = 0) -> float:
    """Classifier two-sample test: cross-validated AUROC of real vs generated.

    A :class:`~sklearn.ensemble.RandomForestClassifier` (``n_estimators=200, max_depth=6,
    random_state=seed, n_jobs=1``) is trained to tell the two sets apart; the out-of-fold
    probabilities of a 5-fold stratified, shuffled (``random_state=seed``) cross-validation are
    pooled and scored with :func:`~sklearn.metrics.roc_auc_score`. 0.5 means the sets are
    indistinguishable, 1.0 means perfectly separable.

    Parameters
    ----------
    X_real, X_gen : array-like, shape (m, d) and (n, d)
        Real and generated cells (in :func:`~scdiff_core.metrics.evaluate`: PCA coordinates,
        equal sizes).
    seed : int
        Seed of the forest and of the fold assignment.

    Returns
    -------
    float
        The AUROC, or NaN if either side has fewer than 10 cells (too few for 5 folds).
    """
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    A, B = _two_samples(X_real, X_gen, ("X_real", "X_gen"))
    if min(A.shape[0], B.shape[0]) < RF_MIN_CELLS:
        return float("nan")
    X = np.vstack([A, B])
    y = np.r_[np.zeros(A.shape[0], dtype=int), np.ones(B.shape[0], dtype=int)]
    clf = RandomForestClassifier(
        n_estimators=RF_PARAMS["n_estimators"],
        max_depth=RF_PARAMS["max_depth"],
        random_state=seed,
        n_jobs=RF_PARAMS["n_jobs"],
    )
    cv = StratifiedKFold(n_splits=RF_PARAMS["cv_folds"], shuffle=True, random_state=seed)
    proba = cross_val_predict(clf, X, y, cv=cv, method="predict_proba", n_jobs=1)[:, 1]
    return float(roc_auc_score(y, proba))


def gene_metrics(R: np.ndarray, G: np.ndarray) -> dict[str, float]:
    """Gene-space metrics of real ``R`` vs generated ``G`` (cells × genes, same genes).

    Returns
    -------
    dict
        ``scc_means``: Spearman correlation of the per-gene means (NaN if either mean vector is
        constant); ``zero_frac_gap``: mean over genes of ``|zero fraction real − zero fraction
        generated|``; ``zeros_real``, ``zeros_gen``: the overall fraction of zeros of each side.
    """
    mean_r, mean_g = R.mean(axis=0), G.mean(axis=0)
    if np.ptp(mean_r) == 0 or np.ptp(mean_g) == 0:
        scc = float("nan")  # a constant vector has no rank correlation
    else:
        scc = float(spearmanr(mean_r, mean_g).correlation)
    zr, zg = (R == 0).mean(axis=0), (G == 0).mean(axis=0)
    return {
        "scc_means": scc,
        "zero_frac_gap": float(np.abs(zr - zg).mean()),
        "zeros_real": float((R == 0).mean()),
        "zeros_gen": float((G == 0).mean()),
    }
