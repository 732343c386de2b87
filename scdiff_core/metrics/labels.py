"""The label predictor: which label a cell looks like, from its PCA coordinates.

One predictor for the whole project: a multinomial logistic regression fitted on the training
cells' PCA coordinates and their labels. The evaluation's label fidelity uses it
(:meth:`~scdiff_core.metrics.ReferenceSpace.predict_labels`), and it can be fitted just as well
on the reference a checkpoint stores (:meth:`LabelPredictor.from_reference`: ``reference['pcs']``
and the integer codes ``reference['label_<column>']``), so that the app and the model can label
generated cells the same way.
"""
from __future__ import annotations

import warnings
from typing import Any, Mapping, Sequence

import numpy as np

from ..errors import ScdiffError

__all__ = ["LabelPredictor"]


class LabelPredictor:
    """Logistic regression from PCA coordinates to labels, fitted on training cells.

    :class:`sklearn.linear_model.LogisticRegression` (lbfgs, ``max_iter=2000``, default L2
    penalty ``C=1``, ``random_state`` fixed) on the coordinates as given (no scaling). The lbfgs
    solver is deterministic, so the same cells give the same predictions. When the training
    cells carry a single label there is nothing to learn: every cell is predicted that label.

    Parameters
    ----------
    max_iter : int
        Iterations of the solver (convergence warnings are silenced).
    random_state : int
        Passed to the regression (kept fixed for reproducibility).

    Attributes
    ----------
    classes_ : numpy.ndarray
        The labels seen in :meth:`fit`, sorted; columns of :meth:`predict_proba` follow it.
    n_features_ : int
        Number of PCA coordinates the predictor was fitted on.
    model_ : LogisticRegression or None
        The fitted regression (``None`` when the training cells have a single label).

    Examples
    --------
    >>> lp = LabelPredictor().fit(pcs_train, labels_train)            # doctest: +SKIP
    >>> lp.predict(pcs_generated)                                     # doctest: +SKIP
    >>> LabelPredictor.from_reference(model.reference, "cell_type",   # doctest: +SKIP
    ...                               vocab=model.vocab["cell_type"])
    """

    def __init__(self, *, max_iter: int = 2000, random_state: int = 0):
        self.max_iter = int(max_iter)
        self.random_state = int(random_state)
        self.classes_: np.ndarray | None = None
        self.n_features_: int | None = None
        self.model_ = None

    # ------------------------------------------------------------------ fitting
    def fit(self, pcs: Any, labels: Any) -> "LabelPredictor":
        """Fit on training cells' PCA coordinates ``pcs`` (n × d) and their ``labels`` (n).

        ``labels`` may be strings or integer codes; :meth:`predict` returns values of the same
        kind. Returns ``self``.
        """
        from sklearn.linear_model import LogisticRegression

        Z = self._coords(pcs, fitting=True)
        y = np.asarray(labels)
        if y.ndim != 1 or y.shape[0] != Z.shape[0]:
            raise ScdiffError(
                f"The label predictor needs one label per cell: {Z.shape[0]} cells but labels of "
                f"shape {y.shape}."
            )
        if Z.shape[0] == 0:
            raise ScdiffError("The label predictor cannot be fitted on zero cells.")
        self.n_features_ = Z.shape[1]
        self.classes_ = np.unique(y)
        self.model_ = None
        if len(self.classes_) > 1:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # convergence chatter
                self.model_ = LogisticRegression(max_iter=self.max_iter, random_state=self.random_state).fit(Z, y)
        return self

    @classmethod
    def from_reference(
        cls,
        reference: Mapping[str, Any],
        column: str,
        vocab: Sequence[str] | None = None,
        **kwargs: Any,
    ) -> "LabelPredictor":
        """Fit on a checkpoint's stored reference of training cells.

        Parameters
        ----------
        reference : mapping
            ``reference['pcs']`` (training cells' PCA coordinates) and
            ``reference['label_<column>']`` (their integer label codes), as a checkpoint stores.
        column : str
            The condition column whose labels to learn.
        vocab : sequence of str or None
            The column's values, indexed by code (``model.vocab[column]``): predictions are then
            these strings; without it they are the integer codes.
        **kwargs
            Passed to the constructor.
        """
        key = f"label_{column}"
        missing = [k for k in ("pcs", key) if k not in reference]
        if missing:
            raise ScdiffError(
                f"The stored reference has no {' or '.join(repr(k) for k in missing)}; the label "
                f"predictor needs the training cells' PCA coordinates and their {column!r} codes."
            )
        codes = np.asarray(reference[key]).astype(np.int64)
        if vocab is None:
            labels = codes
        else:
            values = np.asarray(list(vocab), dtype=object)
            if len(codes) and (codes.min() < 0 or codes.max() >= len(values)):
                raise ScdiffError(f"The stored {key!r} codes do not index the {len(values)} values given as vocab.")
            labels = values[codes]
        return cls(**kwargs).fit(reference["pcs"], labels)

    # ------------------------------------------------------------------ predicting
    def predict(self, pcs: Any) -> np.ndarray:
        """The predicted label of each row of ``pcs`` (same kind as the labels of :meth:`fit`)."""
        Z = self._coords(pcs)
        if self.model_ is None:
            return np.full(Z.shape[0], self.classes_[0], dtype=self.classes_.dtype)
        return self.model_.predict(Z)

    def predict_proba(self, pcs: Any) -> np.ndarray:
        """Probability of each label (columns in :attr:`classes_` order) for each row of ``pcs``."""
        Z = self._coords(pcs)
        if self.model_ is None:
            return np.ones((Z.shape[0], 1))
        return self.model_.predict_proba(Z)

    # ------------------------------------------------------------------ input checks
    def _coords(self, pcs: Any, fitting: bool = False) -> np.ndarray:
        if not fitting and self.classes_ is None:
            raise ScdiffError("The label predictor is not fitted yet; call fit(pcs, labels) first.")
        Z = np.asarray(pcs, dtype=np.float64)
        if Z.ndim != 2 or (not fitting and Z.shape[1] != self.n_features_):
            want = "n_cells x n_pcs" if fitting else f"n_cells x {self.n_features_}"
            raise ScdiffError(f"PCA coordinates must be a {want} matrix, got shape {Z.shape}.")
        if not np.isfinite(Z).all():
            raise ScdiffError("The PCA coordinates contain NaN or infinite values.")
        return Z
