"""The reference map: where real training cells sit in 2-D, and how new cells are placed on it.

At training time a PCA (fitted on training cells only) and a UMAP of the training cells' PCA
coordinates are computed once and stored in the checkpoint (coordinates, not the UMAP object:
nothing pickled). New cells are *projected*, not re-embedded: each is placed at the
distance-weighted mean UMAP position of its k nearest training cells in PCA space. This is
fast (no refit per click) and honest about what it is; :func:`joint_umap` refits UMAP on real +
generated cells together for the unbiased view.
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
    """Projects cells onto the stored reference UMAP by k-nearest neighbours in PCA space."""

    def __init__(self, pca_mean: np.ndarray, pca_components: np.ndarray, ref_pcs: np.ndarray,
                 ref_umap: np.ndarray, k: int = 10):
        self.pca_mean, self.pca_components = pca_mean, pca_components
        self.ref_pcs, self.ref_umap = ref_pcs, ref_umap
        self.k = int(min(k, len(ref_pcs)))
        self._nn = NearestNeighbors(n_neighbors=self.k).fit(ref_pcs)

    method = "k-nearest-neighbour projection onto the training cells' UMAP (PCA space, k=10)"

    def pcs(self, X_lognorm: np.ndarray) -> np.ndarray:
        return pca_transform(X_lognorm, self.pca_mean, self.pca_components)

    def project(self, X_lognorm: np.ndarray) -> np.ndarray:
        """(N, G) log-normalized -> (N, 2) reference-UMAP coordinates."""
        dist, idx = self._nn.kneighbors(self.pcs(X_lognorm))  # (N, k)
        w = 1.0 / (dist + 1e-6)
        w /= w.sum(1, keepdims=True)
        return (w[:, :, None] * self.ref_umap[idx]).sum(1).astype(np.float32)


def joint_umap(X_ref_pcs: np.ndarray, X_new_pcs: np.ndarray, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Refit UMAP on reference + new cells together; returns (ref coords, new coords)."""
    both = fit_umap(np.vstack([X_ref_pcs, X_new_pcs]), seed=seed)
    return both[: len(X_ref_pcs)], both[len(X_ref_pcs):]
