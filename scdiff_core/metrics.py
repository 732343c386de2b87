"""The evaluation protocol: how generated cells are compared with held-out real cells.

Every comparison happens in one fixed space, fitted once on the **training** cells only:

* **PCA space** — ``min(50, n_genes - 1, n_train - 1)`` components of a scikit-learn
  :class:`~sklearn.decomposition.PCA` (``random_state=seed``) fitted on the training cells'
  log-normalized expression. Test, control and generated cells are only *projected*; nothing is
  ever fitted on test cells.
* **Bandwidth** — the median squared Euclidean distance between training cells in PCA space
  (at most 2000 cells, seeded subsample), computed once and reused for every comparison.
* **Label classifier** — a :class:`~sklearn.linear_model.LogisticRegression` fitted on the
  training cells' PCA coordinates, used to check that a generated cell looks like the label it
  was asked for.

:class:`ReferenceSpace` holds these three things so an app can evaluate many generated sets
against the same reference without refitting.

For each compared set (``generated``, and ``control`` — real held-out cells that neither the
model nor the PCA saw, giving the real-vs-real floor of every metric) :func:`evaluate` reports a
global row (``scope='all'``) and one row per label. In each row both sides are subsampled
(without replacement, seeded) to the same number of cells ``n``, and every metric of the row is
computed on exactly those cells:

``mmd2``
    Unbiased MMD² (:func:`mmd2_unbiased`) with a mixture of RBF kernels in PCA space.
``energy``
    Energy distance (:func:`energy_distance`) in PCA space.
``rf_auroc``
    Classifier two-sample test (:func:`rf_auroc`): cross-validated AUROC of a random forest
    telling real from generated in PCA space; 0.5 means indistinguishable.
``scc_means``
    Spearman correlation of the per-gene means (gene space).
``zero_frac_gap``, ``zeros_real``, ``zeros_gen``
    Mean over genes of ``|zero fraction real − zero fraction generated|`` and the overall zero
    fraction of each side (gene space).
``label_fidelity``
    Fraction of the compared cells whose label predicted by the label classifier equals the
    label they carry (requested label for generated cells, true label for control cells).
``phase_fidelity``
    Fraction of the compared cells whose cell-cycle phase, as scored by
    :func:`scanpy.tl.score_genes_cell_cycle` on those cells pooled with the training cells,
    equals the phase they carry (cells whose phase is missing or ``'any'`` — none requested —
    are left out of this fraction).
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp
from anndata import AnnData
from scipy.spatial.distance import cdist
from scipy.stats import spearmanr

from .errors import ScdiffError

__all__ = [
    "EvaluationReport",
    "ReferenceSpace",
    "mmd2_unbiased",
    "energy_distance",
    "rf_auroc",
    "evaluate",
    "gaussian_baseline",
    "SIGMA2_FACTORS",
    "RF_PARAMS",
    "TABLE_COLUMNS",
]

#: Multiples of the median squared distance used as the σ² of the RBF kernels.
SIGMA2_FACTORS: tuple[float, ...] = (0.25, 0.5, 1.0, 2.0, 4.0)
#: Random-forest settings of the classifier two-sample test (``random_state`` is the seed).
RF_PARAMS: dict[str, Any] = {"n_estimators": 200, "max_depth": 6, "n_jobs": 1, "cv_folds": 5}
#: Columns of :attr:`EvaluationReport.table`, in order.
TABLE_COLUMNS: list[str] = [
    "set",
    "scope",
    "n",
    "mmd2",
    "energy",
    "rf_auroc",
    "scc_means",
    "zero_frac_gap",
    "zeros_real",
    "zeros_gen",
    "label_fidelity",
    "phase_fidelity",
]
_FLOAT_COLUMNS = TABLE_COLUMNS[3:]
_BANDWIDTH_MAX_CELLS = 2000
_RF_MIN_CELLS = 10
_MIN_PHASE_GENES = 3
_BLOCK = 2048  # rows per block of pairwise distances (bounds memory to ~BLOCK x n floats)


# --------------------------------------------------------------------------------------------
# report
# --------------------------------------------------------------------------------------------


def _to_jsonable(obj: Any) -> Any:
    """Recursively convert numpy scalars/arrays to Python values and NaN/inf to ``None``."""
    if isinstance(obj, dict):
        return {str(k): _to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return [_to_jsonable(v) for v in obj.tolist()]
    if isinstance(obj, (np.bool_,)):
        return bool(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        f = float(obj)
        return f if math.isfinite(f) else None
    if obj is pd.NA or obj is None:
        return None
    return obj


@dataclass
class EvaluationReport:
    """Result of :func:`evaluate`.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per comparison, columns :data:`TABLE_COLUMNS`: ``set`` (``'generated'`` or
        ``'control'``), ``scope`` (``'all'`` or a label value, as a string), ``n`` (cells per
        side used), ``mmd2``, ``energy``, ``rf_auroc``, ``scc_means``, ``zero_frac_gap``,
        ``zeros_real``, ``zeros_gen``, ``label_fidelity``, ``phase_fidelity``. A metric that
        could not be computed is NaN and explained in :attr:`notes`.
    settings : dict
        How the numbers were obtained: ``n_pcs``, ``bandwidth`` (median squared distance),
        ``sigma2`` (the σ² values of the kernel mixture), ``sigma2_factors``, ``kernel``,
        ``seed``, ``label_key``, ``phase_key``, ``min_label_cells``, ``rf`` (random-forest
        parameters), ``energy`` (estimator description).
    notes : list of str
        Human-readable remarks (skipped metrics, missing control set, ...).
    """

    table: pd.DataFrame
    settings: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        """JSON-serialisable form (NaN becomes ``None``); inverse of :meth:`from_dict`."""
        table = self.table.reindex(columns=TABLE_COLUMNS)
        records = [
            {c: _to_jsonable(v) for c, v in zip(TABLE_COLUMNS, row)}
            for row in table.itertuples(index=False, name=None)
        ]
        return {
            "columns": list(TABLE_COLUMNS),
            "table": records,
            "settings": _to_jsonable(dict(self.settings)),
            "notes": [str(n) for n in self.notes],
        }

    @classmethod
    def from_dict(cls, d: dict) -> "EvaluationReport":
        """Rebuild a report from :meth:`to_dict` output (``None`` becomes NaN)."""
        try:
            columns = list(d.get("columns", TABLE_COLUMNS))
            table = pd.DataFrame(list(d["table"]), columns=columns)
        except (KeyError, TypeError) as exc:
            raise ScdiffError(
                "This is not a saved evaluation report (expected a dict with a 'table' list). "
                "Re-run the evaluation to create it."
            ) from exc
        table = table.reindex(columns=TABLE_COLUMNS)
        for c in _FLOAT_COLUMNS:
            table[c] = pd.to_numeric(table[c], errors="coerce").astype(float)
        table["n"] = pd.to_numeric(table["n"], errors="coerce").fillna(0).astype(int)
        table["set"] = table["set"].astype(str)
        table["scope"] = table["scope"].astype(str)
        return cls(table=table, settings=dict(d.get("settings", {})), notes=list(d.get("notes", [])))

    def summary(self) -> pd.DataFrame:
        """The global rows only (``scope == 'all'``): generated, and control if evaluated."""
        return self.table[self.table["scope"] == "all"].reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# metrics on point sets
# --------------------------------------------------------------------------------------------


def _as_2d_float(X: Any, what: str) -> np.ndarray:
    if isinstance(X, AnnData):
        X = X.X
    if sp.issparse(X):
        X = X.toarray()
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise ScdiffError(f"{what} must be a 2-D cells x features matrix, got shape {X.shape}.")
    return X


def _block_sums(A: np.ndarray, B: np.ndarray, fn) -> float:
    """``sum_ij fn(||a_i - b_j||²)`` computed in row blocks to bound memory."""
    total = 0.0
    for start in range(0, A.shape[0], _BLOCK):
        d2 = cdist(A[start : start + _BLOCK], B, metric="sqeuclidean")
        total += float(fn(d2).sum())
    return total


def _rbf_mix(sigma2s: Sequence[float]):
    s2 = [float(s) for s in sigma2s]

    def k(d2: np.ndarray) -> np.ndarray:
        out = np.zeros_like(d2)
        for s in s2:
            out += np.exp(-d2 / (2.0 * s))
        return out / len(s2)

    return k


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
        The σ² values of the kernel mixture (in :func:`evaluate`: ``SIGMA2_FACTORS`` times the
        median squared distance between training cells).

    Returns
    -------
    float
        The MMD² estimate; NaN if a sample has fewer than 2 points.
    """
    X = _as_2d_float(X, "X")
    Y = _as_2d_float(Y, "Y")
    if X.shape[1] != Y.shape[1]:
        raise ScdiffError(f"X and Y must have the same number of columns ({X.shape[1]} vs {Y.shape[1]}).")
    if len(sigma2s) == 0 or any(float(s) <= 0 for s in sigma2s):
        raise ScdiffError("sigma2s must be a non-empty list of positive kernel widths.")
    m, n = X.shape[0], Y.shape[0]
    if m < 2 or n < 2:
        return float("nan")
    k = _rbf_mix(sigma2s)
    # exp(0) = 1 on the diagonal for every kernel of the mixture, so the diagonal sum is m (n).
    kxx = (_block_sums(X, X, k) - m) / (m * (m - 1))
    kyy = (_block_sums(Y, Y, k) - n) / (n * (n - 1))
    kxy = _block_sums(X, Y, k) / (m * n)
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
    X = _as_2d_float(X, "X")
    Y = _as_2d_float(Y, "Y")
    if X.shape[1] != Y.shape[1]:
        raise ScdiffError(f"X and Y must have the same number of columns ({X.shape[1]} vs {Y.shape[1]}).")
    m, n = X.shape[0], Y.shape[0]
    if m < 2 or n < 2:
        return float("nan")
    dist = lambda d2: np.sqrt(np.maximum(d2, 0.0))  # noqa: E731
    exy = _block_sums(X, Y, dist) / (m * n)
    exx = _block_sums(X, X, dist) / (m * (m - 1))  # diagonal distances are 0
    eyy = _block_sums(Y, Y, dist) / (n * (n - 1))
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
        Real and generated cells (in :func:`evaluate`: PCA coordinates, equal sizes).
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

    A = _as_2d_float(X_real, "X_real")
    B = _as_2d_float(X_gen, "X_gen")
    if A.shape[1] != B.shape[1]:
        raise ScdiffError(f"X_real and X_gen must have the same number of columns ({A.shape[1]} vs {B.shape[1]}).")
    if min(A.shape[0], B.shape[0]) < _RF_MIN_CELLS:
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


def _gene_metrics(R: np.ndarray, G: np.ndarray) -> dict[str, float]:
    """Gene-space metrics: Spearman of per-gene means and zero-fraction statistics."""
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


# --------------------------------------------------------------------------------------------
# reference space
# --------------------------------------------------------------------------------------------


def _dense(X: Any) -> np.ndarray:
    if sp.issparse(X):
        X = X.toarray()
    return np.asarray(X, dtype=np.float64)


def _n_components(n_pcs: int, n_genes: int, n_cells: int) -> int:
    return int(min(n_pcs, n_genes - 1, n_cells - 1))


def _labels(adata: AnnData, key: str, what: str) -> np.ndarray:
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


class ReferenceSpace:
    """PCA fitted on training cells + the fixed bandwidth + the label classifier.

    Fitted once and reused to evaluate many generated sets (the app calls :func:`evaluate`
    repeatedly with ``reference=``). Nothing here ever sees test cells.

    Parameters
    ----------
    train : AnnData
        Training cells; ``.X`` log-normalized expression (dense or sparse).
    label_key : str or None
        Column of ``train.obs`` with the labels the label classifier learns; ``None`` disables
        label fidelity.
    n_pcs : int
        Requested number of principal components; ``min(n_pcs, n_genes-1, n_train-1)`` are used.
    seed : int
        Seed of the PCA solver and of the bandwidth subsample.

    Attributes
    ----------
    var_names : pandas.Index
        The genes, in order, that every evaluated set must match.
    n_pcs : int
        Components actually used.
    bandwidth : float
        Median squared Euclidean distance between (≤2000 subsampled) training cells in PCA space.
    sigma2s : list of float
        ``SIGMA2_FACTORS × bandwidth``: the σ² of the MMD kernel mixture.
    classifier : LogisticRegression or None
        The label classifier (``None`` if no label key, or the training cells have one label).
    train : AnnData
        The training cells (kept for cell-cycle scoring, which scores against them).
    notes : list of str
        Remarks produced while fitting.
    """

    def __init__(self, train: AnnData, label_key: str | None, *, n_pcs: int = 50, seed: int = 0):
        from sklearn.decomposition import PCA

        if not isinstance(train, AnnData):
            raise ScdiffError("train must be an AnnData object with log-normalized expression in .X.")
        if train.n_obs < 3 or train.n_vars < 2:
            raise ScdiffError(
                f"The training set is too small to build the evaluation space ({train.n_obs} cells x "
                f"{train.n_vars} genes); it needs at least 3 cells and 2 genes."
            )
        self.train = train
        self.label_key = label_key
        self.seed = int(seed)
        self.notes: list[str] = []
        self.var_names = pd.Index(train.var_names.astype(str))
        X = _dense(train.X)
        if not np.isfinite(X).all():
            raise ScdiffError("The training cells contain NaN or infinite values; clean the data first.")
        self.n_pcs = _n_components(n_pcs, train.n_vars, train.n_obs)
        self.pca = PCA(n_components=self.n_pcs, random_state=self.seed).fit(X)
        self.Z_train = self.pca.transform(X)

        rng = np.random.default_rng(self.seed)
        m = self.Z_train.shape[0]
        idx = rng.choice(m, size=_BANDWIDTH_MAX_CELLS, replace=False) if m > _BANDWIDTH_MAX_CELLS else np.arange(m)
        from scipy.spatial.distance import pdist

        bw = float(np.median(pdist(self.Z_train[idx], metric="sqeuclidean")))
        if not bw > 0:
            bw = 1.0
            self.notes.append(
                "The median squared distance between training cells is 0 (many identical cells); "
                "the kernel bandwidth was set to 1.0."
            )
        self.bandwidth = bw
        self.sigma2s = [f * bw for f in SIGMA2_FACTORS]

        self.classifier = None
        self.train_labels: np.ndarray | None = None
        self._single_label: str | None = None
        if label_key is not None:
            from sklearn.linear_model import LogisticRegression

            self.train_labels = _labels(train, label_key, "training")
            classes = np.unique(self.train_labels)
            if len(classes) == 1:
                self._single_label = str(classes[0])
                self.notes.append(
                    f"The training cells have a single {label_key!r} value; label fidelity is trivial."
                )
            else:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # convergence chatter
                    self.classifier = LogisticRegression(max_iter=2000).fit(self.Z_train, self.train_labels)

    def project(self, X: Any) -> np.ndarray:
        """Project cells (AnnData or cells × genes matrix over :attr:`var_names`) into PCA space.

        Parameters
        ----------
        X : AnnData or array-like, shape (n_cells, n_genes)
            Log-normalized expression over the training genes, in the training order (an AnnData
            over the same genes in another order is reordered).

        Returns
        -------
        numpy.ndarray, shape (n_cells, n_pcs)
        """
        if isinstance(X, AnnData):
            X = _align_genes(X, self.var_names, "cells to project").X
        X = _dense(X)
        if X.ndim != 2 or X.shape[1] != len(self.var_names):
            raise ScdiffError(
                f"Cells to project must have {len(self.var_names)} genes (the training genes), got "
                f"shape {X.shape}."
            )
        return self.pca.transform(X)

    def predict_labels(self, Z: np.ndarray) -> np.ndarray:
        """Label predicted by the label classifier for PCA coordinates ``Z`` (strings)."""
        if self.label_key is None:
            raise ScdiffError("This reference space was built without a label column; pass label_key.")
        if self.classifier is None:
            return np.full(Z.shape[0], self._single_label, dtype=object)
        return self.classifier.predict(Z).astype(str)


def _align_genes(adata: AnnData, var_names: pd.Index, what: str) -> AnnData:
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


# --------------------------------------------------------------------------------------------
# cell-cycle phase
# --------------------------------------------------------------------------------------------


def _norm_phase(values: Sequence[Any]) -> np.ndarray:
    """Canonical phase strings: upper case, '/' and spaces removed ('G2/M' -> 'G2M')."""
    return np.array([str(v).upper().replace("/", "").replace(" ", "") for v in values], dtype=object)


def _phase_gene_lists(var_names: pd.Index) -> tuple[list[str], list[str]]:
    """S and G2M marker genes present in ``var_names``, in the data's own casing."""
    from .data import G2M_GENES, S_GENES, cell_cycle_genes

    present = [str(g) for g in cell_cycle_genes(list(var_names))]
    s_set = {g.upper() for g in S_GENES}
    g2m_set = {g.upper() for g in G2M_GENES}
    s = [g for g in present if g.upper() in s_set]
    g2m = [g for g in present if g.upper() in g2m_set]
    return s, g2m


def _score_phases(cells: AnnData, train: AnnData, s_genes: list[str], g2m_genes: list[str], seed: int) -> np.ndarray:
    """Score the cell-cycle phase of ``cells`` together with the training cells.

    Scanpy's scores are relative to the scored population (control genes are binned by mean
    expression over it), so the evaluated cells are scored concatenated with ``train``; only
    the evaluated cells' phases are returned.
    """
    import scanpy as sc

    if sp.issparse(train.X):  # keep a large sparse training matrix sparse
        X = sp.vstack([sp.csr_matrix(cells.X, dtype=np.float32), sp.csr_matrix(train.X, dtype=np.float32)]).tocsr()
    else:
        X = np.vstack([_dense(cells.X).astype(np.float32), np.asarray(train.X, dtype=np.float32)])
    pooled = AnnData(X=X, var=pd.DataFrame(index=pd.Index(train.var_names.astype(str))))
    pooled.obs_names = [f"c{i}" for i in range(pooled.n_obs)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sc.tl.score_genes_cell_cycle(pooled, s_genes=s_genes, g2m_genes=g2m_genes, random_state=seed)
    return _norm_phase(pooled.obs["phase"].to_numpy()[: cells.n_obs])


def score_phases(cells: AnnData, train: AnnData, seed: int = 0) -> np.ndarray:
    """Cell-cycle phase of ``cells`` ('G1', 'S', 'G2M'), scored together with ``train`` (see above)."""
    s_genes, g2m_genes = _phase_gene_lists(train.var_names)
    if len(s_genes) < 3 or len(g2m_genes) < 3:
        raise ScdiffError(f"Only {len(s_genes)} S and {len(g2m_genes)} G2M genes are among these genes; "
                          f"cell-cycle phase cannot be scored (3 of each are needed).")
    return _score_phases(_align_genes(cells, train.var_names, "cells"), train, s_genes, g2m_genes, seed)


# --------------------------------------------------------------------------------------------
# evaluate
# --------------------------------------------------------------------------------------------


def _check_finite(X: np.ndarray, what: str) -> None:
    if not np.isfinite(X).all():
        bad = int((~np.isfinite(X)).any(axis=1).sum())
        raise ScdiffError(
            f"{bad} of the {what} cells contain NaN or infinite values (the sampler probably "
            "diverged). Regenerate them (e.g. with a lower guidance scale) or drop those cells."
        )


class _Side:
    """One set of cells ready for comparison: gene matrix, PCA coordinates, labels, phases."""

    def __init__(self, name: str, X: np.ndarray, Z: np.ndarray, labels, phases, pred_labels, scored_phases):
        self.name = name
        self.X = X
        self.Z = Z
        self.labels = labels
        self.phases = phases
        self.pred_labels = pred_labels
        self.scored_phases = scored_phases


def evaluate(
    generated: AnnData,
    *,
    train: AnnData,
    test: AnnData,
    control: AnnData | None,
    label_key: str | None,
    phase_key: str | None = None,
    min_label_cells: int = 5,
    seed: int = 0,
    reference: ReferenceSpace | None = None,
    per_label: bool = True,
) -> EvaluationReport:
    """Compare generated cells (and a real control set) with held-out test cells.

    Parameters
    ----------
    generated : AnnData
        Generated cells; ``.X`` log-normalized expression over the training genes (another
        order of the same genes is reordered). When ``label_key``/``phase_key`` are given,
        ``obs`` must carry the *requested* label/phase of each cell under those names.
    train : AnnData
        The model's training cells: the PCA, the kernel bandwidth and the label classifier
        are fitted on them (unless ``reference`` is given), and phases are scored against them.
    test : AnnData
        Held-out real cells every set is compared with.
    control : AnnData or None
        Other held-out real cells (seen by neither the model nor the PCA): the real-vs-real
        control rows. ``None`` omits them.
    label_key : str or None
        obs column with the cell label (cell type, ...). Enables per-label rows and label
        fidelity.
    phase_key : str or None
        obs column with the cell-cycle phase (``G1``/``S``/``G2M``). Enables phase fidelity.
    min_label_cells : int
        A label gets its own row if it has at least this many test cells and is present in the
        compared set.
    seed : int
        Seed of the reference space, of the equal-size subsampling and of the random forest.
    reference : ReferenceSpace or None
        A reference space already fitted on ``train`` (reused across calls); built if ``None``.
    per_label : bool
        Whether to add per-label rows.

    Returns
    -------
    EvaluationReport
        Rows: ``generated``/``all``, then per-label generated rows, then ``control``/``all``
        and per-label control rows. In each row both sides are subsampled without replacement
        (seeded, the same draw for the generated and the control row) to the smaller size ``n``
        and every metric, label and phase fidelity included, uses exactly those cells.

    Raises
    ------
    ScdiffError
        Genes that do not match the training genes, a missing label/phase column, non-finite
        values, an empty set, or a ``reference`` built for other genes or another label column.
    """
    if not isinstance(generated, AnnData):
        raise ScdiffError("generated must be an AnnData object with log-normalized expression in .X.")
    if generated.n_obs == 0:
        raise ScdiffError("The generated set has no cells; generate some cells before evaluating.")
    if test.n_obs == 0:
        raise ScdiffError("The test set has no cells; evaluation needs held-out real cells.")
    notes: list[str] = []

    if reference is None:
        reference = ReferenceSpace(train, label_key, seed=seed)
    else:
        if not pd.Index(train.var_names.astype(str)).equals(reference.var_names):
            raise ScdiffError(
                "The reference space was fitted on other genes than this training set; rebuild it "
                "with ReferenceSpace(train, label_key)."
            )
        if reference.label_key != label_key:
            raise ScdiffError(
                f"The reference space was built for label column {reference.label_key!r}, not "
                f"{label_key!r}; rebuild it with ReferenceSpace(train, {label_key!r})."
            )
    notes.extend(reference.notes)
    var_names = reference.var_names

    phase_genes: tuple[list[str], list[str]] | None = None
    if phase_key is not None:
        s_genes, g2m_genes = _phase_gene_lists(var_names)
        if len(s_genes) < _MIN_PHASE_GENES or len(g2m_genes) < _MIN_PHASE_GENES:
            notes.append(
                f"Phase fidelity not computed: only {len(s_genes)} S-phase and {len(g2m_genes)} "
                f"G2M-phase marker genes are among the genes (at least {_MIN_PHASE_GENES} of each are needed)."
            )
        else:
            phase_genes = (s_genes, g2m_genes)

    def prepare(name: str, adata: AnnData, labelled_as: str) -> _Side:
        is_test = name == "test"
        adata = _align_genes(adata, var_names, f"{name} cells")
        X = _dense(adata.X)
        _check_finite(X, name)
        Z = reference.pca.transform(X)
        labels = pred = None
        if label_key is not None and not (is_test and not per_label):
            labels = _labels(adata, label_key, labelled_as)
            if not is_test:
                pred = reference.predict_labels(Z)
        phases = scored = None
        if phase_key is not None and not is_test:
            if phase_key not in adata.obs.columns:
                raise ScdiffError(
                    f"The phase column {phase_key!r} is missing from the {labelled_as} cells' obs. "
                    "Add it (the requested/true phase of each cell) or evaluate without phase_key."
                )
            col = adata.obs[phase_key]
            phases = _norm_phase(col.to_numpy())
            phases[col.isna().to_numpy() | (phases == "ANY")] = None  # no phase requested: not scored
            if phase_genes is not None:
                try:
                    scored = _score_phases(adata, reference.train, phase_genes[0], phase_genes[1], seed)
                except (RuntimeError, ValueError) as exc:  # e.g. no control genes of matching expression
                    notes.append(f"Phase fidelity of the {name} cells not computed: cell-cycle scoring failed ({exc}).")
        return _Side(name, X, Z, labels, phases, pred, scored)

    test_side = prepare("test", test, "test")
    sides = [prepare("generated", generated, "generated")]
    if control is not None:
        if control.n_obs == 0:
            raise ScdiffError("The control set has no cells; pass control=None to skip the control rows.")
        sides.append(prepare("control", control, "control"))
    else:
        notes.append("No control set given: the real-vs-real control rows are omitted.")

    # labels that get their own row: >= min_label_cells test cells
    row_labels: list[str] = []
    if per_label and label_key is not None:
        counts = pd.Series(test_side.labels).value_counts()
        col = test.obs[label_key]
        order = [str(c) for c in col.cat.categories] if hasattr(col, "cat") else sorted(counts.index)
        row_labels = [lab for lab in order if counts.get(lab, 0) >= min_label_cells]
        skipped = sorted(set(counts.index) - set(row_labels))
        if skipped:
            notes.append(
                f"No per-label rows for {len(skipped)} label(s) with fewer than {min_label_cells} test "
                f"cells: {', '.join(skipped[:10])}{' ...' if len(skipped) > 10 else ''}."
            )

    rows: list[dict[str, Any]] = []
    rf_nan_noted = False
    for side in sides:
        scopes: list[tuple[str, np.ndarray, np.ndarray]] = [
            ("all", np.arange(side.X.shape[0]), np.arange(test_side.X.shape[0]))
        ]
        for lab in row_labels:
            gi = np.flatnonzero(side.labels == lab)
            if len(gi) == 0:
                continue
            scopes.append((lab, gi, np.flatnonzero(test_side.labels == lab)))
        for scope, gi, ti in scopes:
            n = int(min(len(gi), len(ti)))
            rng = np.random.default_rng(seed)
            ti = np.sort(rng.choice(ti, size=n, replace=False))
            gi = np.sort(rng.choice(gi, size=n, replace=False))
            R, G = test_side.X[ti], side.X[gi]
            ZR, ZG = test_side.Z[ti], side.Z[gi]
            row: dict[str, Any] = {"set": side.name, "scope": scope, "n": n}
            row["mmd2"] = mmd2_unbiased(ZR, ZG, reference.sigma2s)
            row["energy"] = energy_distance(ZR, ZG)
            row["rf_auroc"] = rf_auroc(ZR, ZG, seed=seed)
            if n < _RF_MIN_CELLS and not rf_nan_noted:
                notes.append(
                    f"rf_auroc is NaN where fewer than {_RF_MIN_CELLS} cells per side are available "
                    "(too few for 5-fold cross-validation)."
                )
                rf_nan_noted = True
            row.update(_gene_metrics(R, G))
            if label_key is not None:
                row["label_fidelity"] = float(np.mean(side.pred_labels[gi] == side.labels[gi]))
            else:
                row["label_fidelity"] = float("nan")
            asked = gi[side.phases[gi] != None] if side.phases is not None else gi  # noqa: E711
            if side.scored_phases is not None and len(asked):
                row["phase_fidelity"] = float(np.mean(side.scored_phases[asked] == side.phases[asked]))
            else:
                row["phase_fidelity"] = float("nan")
            rows.append(row)

    table = pd.DataFrame(rows, columns=TABLE_COLUMNS)
    table["n"] = table["n"].astype(int)
    for c in _FLOAT_COLUMNS:
        table[c] = table[c].astype(float)
    settings = {
        "n_pcs": reference.n_pcs,
        "bandwidth": reference.bandwidth,
        "sigma2": list(reference.sigma2s),
        "sigma2_factors": list(SIGMA2_FACTORS),
        "kernel": "mean over sigma2 of exp(-||x-y||^2 / (2*sigma2)), sigma2 = factor * median sq. distance (train, PCA)",
        "mmd2": "unbiased U-statistic (diagonal terms left out)",
        "energy": "2*mean||X-Y|| - U-statistic mean||X-X'|| - U-statistic mean||Y-Y'||",
        "seed": int(seed),
        "reference_seed": reference.seed,
        "label_key": label_key,
        "phase_key": phase_key,
        "min_label_cells": int(min_label_cells),
        "per_label": bool(per_label),
        "rf": {**RF_PARAMS, "random_state": int(seed), "scoring": "roc_auc (pooled out-of-fold)"},
        "n_train": int(reference.train.n_obs),
        "n_test": int(test.n_obs),
        "n_generated": int(generated.n_obs),
        "n_control": int(control.n_obs) if control is not None else 0,
    }
    return EvaluationReport(table=table, settings=settings, notes=notes)


# --------------------------------------------------------------------------------------------
# trivial baseline
# --------------------------------------------------------------------------------------------


def gaussian_baseline(
    train: AnnData,
    label_key: str,
    n_per_label: dict[str, int],
    *,
    n_pcs: int = 50,
    seed: int = 0,
) -> AnnData:
    """The trivial generator of the reference table: one Gaussian per label in PCA space.

    PCA (``min(n_pcs, n_genes-1, n_train-1)`` components, ``random_state=seed``, the same space
    as :class:`ReferenceSpace`) is fitted on the training cells; for each requested label a
    multivariate normal with the mean and full covariance of that label's training cells is
    sampled and mapped back to genes with the PCA inverse transform. Because log-normalized
    expression is non-negative, negative values are clipped to 0.

    Parameters
    ----------
    train : AnnData
        Training cells (log-normalized ``.X``).
    label_key : str
        obs column with the labels.
    n_per_label : dict of str to int
        How many cells to sample for each label (labels compared as strings).
    n_pcs : int
        Requested number of principal components.
    seed : int
        Seed of the PCA and of the sampling.

    Returns
    -------
    AnnData
        ``sum(n_per_label.values())`` cells over ``train.var_names``, with ``obs[label_key]``
        (categorical) holding each cell's label.
    """
    from sklearn.decomposition import PCA

    labels = _labels(train, label_key, "training")
    unknown = [str(k) for k in n_per_label if str(k) not in set(labels)]
    if unknown:
        raise ScdiffError(
            f"Label(s) {', '.join(unknown)} do not occur in the training column {label_key!r}; "
            f"choose among: {', '.join(sorted(set(labels))[:20])}."
        )
    bad = [f"{k}={v}" for k, v in n_per_label.items() if int(v) < 0]
    if bad:
        raise ScdiffError(f"Cell counts must be non-negative ({', '.join(bad)}).")
    X = _dense(train.X)
    k = _n_components(n_pcs, train.n_vars, train.n_obs)
    if k < 1:
        raise ScdiffError("The training set is too small for the Gaussian baseline (needs 2+ cells, 2+ genes).")
    pca = PCA(n_components=k, random_state=seed).fit(X)
    Z = pca.transform(X)
    rng = np.random.default_rng(seed)
    blocks, out_labels = [], []
    for lab, n in n_per_label.items():
        n = int(n)
        if n == 0:
            continue
        Zl = Z[labels == str(lab)]
        mu = Zl.mean(axis=0)
        cov = np.cov(Zl, rowvar=False) if Zl.shape[0] > 1 else np.zeros((k, k))
        cov = np.atleast_2d(cov)
        blocks.append(rng.multivariate_normal(mu, cov, size=n, method="eigh"))
        out_labels += [str(lab)] * n
    Zs = np.vstack(blocks) if blocks else np.zeros((0, k))
    Xg = np.clip(pca.inverse_transform(Zs), 0.0, None).astype(np.float32) if len(Zs) else np.zeros((0, train.n_vars), np.float32)
    obs = pd.DataFrame(
        {label_key: pd.Categorical(out_labels, categories=[str(k_) for k_ in n_per_label])},
        index=[f"gauss_{i}" for i in range(len(out_labels))],
    )
    return AnnData(X=Xg, obs=obs, var=pd.DataFrame(index=pd.Index(train.var_names.astype(str))))
