"""The reference space every comparison happens in, fitted on the training cells only.

* **PCA** — ``min(50, n_genes - 1, n_train - 1)`` components of a scikit-learn
  :class:`~sklearn.decomposition.PCA` (``random_state=seed``) fitted on the training cells'
  log-normalized expression. Test, control and generated cells are only *projected*.
* **Bandwidth** — the median squared Euclidean distance between training cells in PCA space
  (at most 2000 cells, seeded subsample); the MMD kernels use σ² = ``SIGMA2_FACTORS`` × it.
* **Label predictor** — :class:`~scdiff_core.metrics.labels.LabelPredictor` fitted on the
  training cells' PCA coordinates and labels.

See ``docs/evaluation.md``.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from anndata import AnnData

from ..errors import ScdiffError
from .distances import SIGMA2_FACTORS
from .inputs import align_genes, dense, label_column
from .labels import LabelPredictor

#: Most training cells used for the median squared distance (seeded subsample above it).
BANDWIDTH_MAX_CELLS = 2000


def n_components(n_pcs: int, n_genes: int, n_cells: int) -> int:
    """Principal components actually used: ``min(n_pcs, n_genes - 1, n_cells - 1)``."""
    return int(min(n_pcs, n_genes - 1, n_cells - 1))


def median_sq_distance(Z: np.ndarray, seed: int) -> float:
    """Median squared Euclidean distance between the rows of ``Z`` (≤ 2000 rows, seeded draw)."""
    from scipy.spatial.distance import pdist

    rng = np.random.default_rng(seed)
    m = Z.shape[0]
    idx = rng.choice(m, size=BANDWIDTH_MAX_CELLS, replace=False) if m > BANDWIDTH_MAX_CELLS else np.arange(m)
    return float(np.median(pdist(Z[idx], metric="sqeuclidean")))


class ReferenceSpace:
    """PCA fitted on training cells + the fixed bandwidth + the label predictor.

    Fitted once and reused to evaluate many generated sets (the app calls
    :func:`~scdiff_core.metrics.evaluate` repeatedly with ``reference=``). Nothing here ever
    sees test cells.

    Parameters
    ----------
    train : AnnData
        Training cells; ``.X`` log-normalized expression (dense or sparse).
    label_key : str or None
        Column of ``train.obs`` with the labels the label predictor learns; ``None`` disables
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
    pca : sklearn.decomposition.PCA
        The fitted PCA.
    Z_train : numpy.ndarray
        The training cells' PCA coordinates.
    bandwidth : float
        Median squared Euclidean distance between (≤2000 subsampled) training cells in PCA space.
    sigma2s : list of float
        ``SIGMA2_FACTORS × bandwidth``: the σ² of the MMD kernel mixture.
    label_predictor : LabelPredictor or None
        Fitted on ``Z_train`` and the training labels (``None`` if no label key).
    train : AnnData
        The training cells (kept for cell-cycle scoring, which scores against them).
    notes : list of str
        Remarks produced while fitting.
    """

    def __init__(self, train: AnnData, label_key: str | None, *, n_pcs: int = 50, seed: int = 0):
        from sklearn.decomposition import PCA

        _check_train(train)
        self.train = train
        self.label_key = label_key
        self.seed = int(seed)
        self.notes: list[str] = []
        self.var_names = pd.Index(train.var_names.astype(str))
        X = dense(train.X)
        if not np.isfinite(X).all():
            raise ScdiffError("The training cells contain NaN or infinite values; clean the data first.")
        self.n_pcs = n_components(n_pcs, train.n_vars, train.n_obs)
        self.pca = PCA(n_components=self.n_pcs, random_state=self.seed).fit(X)
        self.Z_train = self.pca.transform(X)
        self.bandwidth = self._fit_bandwidth()
        self.sigma2s = [f * self.bandwidth for f in SIGMA2_FACTORS]
        self.train_labels: np.ndarray | None = None
        self.label_predictor: LabelPredictor | None = None
        if label_key is not None:
            self.train_labels = label_column(train, label_key, "training")
            self.label_predictor = LabelPredictor().fit(self.Z_train, self.train_labels)
            if len(self.label_predictor.classes_) == 1:
                self.notes.append(
                    f"The training cells have a single {label_key!r} value; label fidelity is trivial."
                )

    def _fit_bandwidth(self) -> float:
        bw = median_sq_distance(self.Z_train, self.seed)
        if bw > 0:
            return bw
        self.notes.append(
            "The median squared distance between training cells is 0 (many identical cells); "
            "the kernel bandwidth was set to 1.0."
        )
        return 1.0

    @property
    def classifier(self):
        """The fitted logistic regression (``None`` without labels or with a single label)."""
        return None if self.label_predictor is None else self.label_predictor.model_

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
            X = align_genes(X, self.var_names, "cells to project").X
        X = dense(X)
        if X.ndim != 2 or X.shape[1] != len(self.var_names):
            raise ScdiffError(
                f"Cells to project must have {len(self.var_names)} genes (the training genes), got "
                f"shape {X.shape}."
            )
        return self.pca.transform(X)

    def predict_labels(self, Z: np.ndarray) -> np.ndarray:
        """Label predicted by the :class:`LabelPredictor` for PCA coordinates ``Z`` (strings)."""
        if self.label_predictor is None:
            raise ScdiffError("This reference space was built without a label column; pass label_key.")
        return self.label_predictor.predict(Z).astype(str)


def _check_train(train: Any) -> None:
    if not isinstance(train, AnnData):
        raise ScdiffError("train must be an AnnData object with log-normalized expression in .X.")
    if train.n_obs < 3 or train.n_vars < 2:
        raise ScdiffError(
            f"The training set is too small to build the evaluation space ({train.n_obs} cells x "
            f"{train.n_vars} genes); it needs at least 3 cells and 2 genes."
        )
