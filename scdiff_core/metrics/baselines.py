"""The trivial generator every model is compared with: one Gaussian per label in PCA space."""
from __future__ import annotations

import numpy as np
import pandas as pd
from anndata import AnnData

from ..errors import ScdiffError
from .inputs import dense, label_column
from .reference import n_components


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
    as :class:`~scdiff_core.metrics.ReferenceSpace`) is fitted on the training cells; for each
    requested label a multivariate normal with the mean and full covariance of that label's
    training cells is sampled and mapped back to genes with the PCA inverse transform. Because
    log-normalized expression is non-negative, negative values are clipped to 0.

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

    labels = label_column(train, label_key, "training")
    _check_request(labels, label_key, n_per_label)
    X = dense(train.X)
    k = n_components(n_pcs, train.n_vars, train.n_obs)
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


def _check_request(labels: np.ndarray, label_key: str, n_per_label: dict[str, int]) -> None:
    unknown = [str(k) for k in n_per_label if str(k) not in set(labels)]
    if unknown:
        raise ScdiffError(
            f"Label(s) {', '.join(unknown)} do not occur in the training column {label_key!r}; "
            f"choose among: {', '.join(sorted(set(labels))[:20])}."
        )
    bad = [f"{k}={v}" for k, v in n_per_label.items() if int(v) < 0]
    if bad:
        raise ScdiffError(f"Cell counts must be non-negative ({', '.join(bad)}).")
