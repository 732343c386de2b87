"""The reference map: where real training cells sit in 2-D, and how new cells are placed on it.

At training time a PCA (fitted on training cells only) and a UMAP of the training cells' PCA
coordinates are computed once and stored in the checkpoint (coordinates, not the UMAP object:
nothing pickled). New cells are *placed*, not re-embedded, as UMAP's own ``transform`` places
them (:class:`ReferenceMap`): started at the mean of their nearest training cells' positions and
moved by UMAP's layout forces with the training cells fixed. This is fast (no refit per click);
:func:`joint_umap` refits UMAP on real + generated cells together for the unbiased view.
"""
from __future__ import annotations

import numpy as np
from sklearn.decomposition import PCA
from sklearn.neighbors import NearestNeighbors


def fit_pca(X: np.ndarray, n_components: int = 50, seed: int = 0) -> dict[str, np.ndarray]:
    n = int(min(n_components, X.shape[0] - 1, X.shape[1] - 1))
    pca = PCA(n_components=n, random_state=seed).fit(X)
    return {"pca_mean": pca.mean_.astype(np.float32), "pca_components": pca.components_.astype(np.float32)}


def pca_transform(X: np.ndarray, mean: np.ndarray, components: np.ndarray) -> np.ndarray:
    return ((np.asarray(X, dtype=np.float32) - mean) @ components.T).astype(np.float32)  # (N, n_pcs)


def fit_umap(coords: np.ndarray, seed: int = 0, n_neighbors: int = 15) -> np.ndarray:
    import umap  # imported lazily: numba compilation is slow

    reducer = umap.UMAP(n_neighbors=min(n_neighbors, len(coords) - 1), min_dist=0.3, random_state=seed,
                        n_components=2)
    return reducer.fit_transform(coords).astype(np.float32)


class ReferenceMap:
    """Places cells onto the stored reference UMAP the way UMAP's own ``transform`` does.

    Each cell's k nearest training cells in PCA space are found and weighted by UMAP's fuzzy
    membership (``exp(-(d - ρ)/σ)``, σ such that the weights sum to log₂ k; McInnes et al. 2018,
    eq. 2-3); the cell starts at the weighted mean of their map positions and is then moved by
    UMAP's layout forces with the training cells held fixed — attraction to its neighbours with the
    map's own curve 1/(1 + a d^2b) (a, b from its min_dist), repulsion from randomly drawn training
    cells — for ``epochs`` steps of a decreasing rate. A cell between two clusters is thereby pulled
    to the one it resembles more instead of being left in the empty space between them (what a plain
    mean of its neighbours' positions does). Deterministic: the same cells land in the same places.
    ``how='mean'`` keeps the plain weighted mean.
    """

    def __init__(self, pca_mean: np.ndarray, pca_components: np.ndarray, ref_pcs: np.ndarray,
                 ref_umap: np.ndarray, k: int = 15, epochs: int = 100, min_dist: float = 0.3):
        self.pca_mean, self.pca_components = pca_mean, pca_components
        self.ref_pcs, self.ref_umap = ref_pcs, np.asarray(ref_umap, dtype=np.float64)
        self.k = int(min(k, len(ref_pcs)))
        self.epochs = int(epochs)
        self.a, self.b = umap_curve(min_dist)
        self._nn = NearestNeighbors(n_neighbors=self.k).fit(ref_pcs)

    method = ("UMAP's transform: each cell's 15 nearest training cells (PCA space) pull it on the training cells' "
              "map, randomly drawn ones push it away (100 steps)")

    def pcs(self, X_lognorm: np.ndarray) -> np.ndarray:
        return pca_transform(X_lognorm, self.pca_mean, self.pca_components)

    def project(self, X_lognorm: np.ndarray, how: str = "umap") -> np.ndarray:
        """(N, G) log-normalized -> (N, 2) reference-UMAP coordinates (``how``: ``'umap'`` or ``'mean'``)."""
        if len(X_lognorm) == 0:
            return np.zeros((0, 2), np.float32)
        dist, idx = self._nn.kneighbors(self.pcs(X_lognorm))  # (N, k)
        w = fuzzy_memberships(dist)
        w /= w.sum(1, keepdims=True)
        Y = (w[:, :, None] * self.ref_umap[idx]).sum(1)  # (N, 2): the start, UMAP's own initialisation
        if how == "umap":
            Y = self._layout(Y, idx, w)
        return Y.astype(np.float32)

    def _layout(self, Y: np.ndarray, idx: np.ndarray, w: np.ndarray, n_neg: int = 5,
                repulsion: float = 0.2) -> np.ndarray:
        """UMAP's attractive and repulsive gradients (umap's optimize_layout_euclidean), the training
        cells fixed, every cell updated at once per step with its neighbours' weights averaged.

        ``repulsion`` scales the negative samples' push: updating all of a cell's edges at once
        instead of one sampled edge at a time over-weights it, and at 1 held-out real cells ended
        in empty space 3 times as often as with the plain mean (pbmc68k: 25 % vs 3 % farther than
        3 typical neighbour distances from any training cell); at 0.2 fewer than with the mean
        (1.4 %), and the nearest training cell's label matched theirs more often (0.76 vs 0.73)."""
        a, b, U = self.a, self.b, self.ref_umap
        # each cell's negative samples depend on that cell alone (a hash of its neighbours), not on the
        # other cells of the call: a cell lands in the same place alone, in a batch or in a streamed chunk
        key = (idx.astype(np.uint64) * np.uint64(2654435761)).sum(1) % np.uint64(2 ** 31)  # (N,)
        lanes = np.arange(n_neg, dtype=np.uint64)
        for ep in range(self.epochs):
            alpha = 0.25 * (1.0 - ep / self.epochs)  # UMAP's transform starts at a quarter of the rate
            diff = Y[:, None, :] - U[idx]  # (N, k, 2)
            d2 = (diff ** 2).sum(-1)
            g = np.where(d2 > 0, -2 * a * b * np.power(np.maximum(d2, 1e-12), b - 1) / (a * d2 ** b + 1), 0.0)
            att = (w[..., None] * np.clip(g[..., None] * diff, -4, 4)).sum(1)  # (N, 2)
            h = (key[:, None] * np.uint64(1103515245) + np.uint64(ep * 12345 + 1) * (lanes[None] + np.uint64(7919)))
            h ^= h >> np.uint64(13)
            neg = U[(h % np.uint64(len(U))).astype(np.int64)]  # (N, n_neg, 2)
            dn = Y[:, None, :] - neg
            d2n = (dn ** 2).sum(-1)
            gr = np.where(d2n > 0, 2 * b / ((0.001 + d2n) * (a * d2n ** b + 1)), 0.0)
            rep = np.clip(gr[..., None] * dn, -4, 4).sum(1)
            Y = Y + alpha * (att + repulsion * rep)
        return Y


def umap_curve(min_dist: float, spread: float = 1.0) -> tuple[float, float]:
    """(a, b) of UMAP's low-dimensional similarity 1/(1 + a d^2b) for ``min_dist`` (umap's find_ab_params)."""
    from scipy.optimize import curve_fit

    x = np.linspace(0, spread * 3, 300)
    y = np.where(x < min_dist, 1.0, np.exp(-(x - min_dist) / spread))
    (a, b), _ = curve_fit(lambda x, a, b: 1.0 / (1.0 + a * x ** (2 * b)), x, y)
    return float(a), float(b)


def fuzzy_memberships(dist: np.ndarray, iters: int = 64) -> np.ndarray:
    """UMAP's membership of each neighbour, exp(-(d - ρ)/σ), σ by bisection so a row sums to log₂ k.

    dist: (N, k) distances to the k nearest neighbours, ascending -> (N, k) weights in (0, 1].
    """
    d = np.asarray(dist, dtype=np.float64)
    target = np.log2(d.shape[1])
    rho = d[:, :1]
    lo, hi, sig = np.zeros_like(rho), np.full_like(rho, np.inf), np.ones_like(rho)
    for _ in range(iters):
        big = np.exp(-np.maximum(d - rho, 0) / sig).sum(1, keepdims=True) > target
        hi, lo = np.where(big, sig, hi), np.where(big, lo, sig)
        sig = np.where(np.isinf(hi), sig * 2, (lo + hi) / 2)
    return np.exp(-np.maximum(d - rho, 0) / np.maximum(sig, 1e-12))


def joint_umap(X_ref_pcs: np.ndarray, X_new_pcs: np.ndarray, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Refit UMAP on reference + new cells together; returns (ref coords, new coords)."""
    both = fit_umap(np.vstack([X_ref_pcs, X_new_pcs]), seed=seed)
    return both[: len(X_ref_pcs)], both[len(X_ref_pcs):]
