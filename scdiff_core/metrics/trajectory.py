"""How good a trajectory is: realism per λ, pseudotime order, placement of a real time course.

All three work on coordinates in one space (the evaluation's PCA fitted on training cells:
:meth:`~scdiff_core.metrics.reference.ReferenceSpace.project`):

* :func:`per_lambda_realism` — for each λ, the generated cells against *their nearest real cells*
  (the union of each generated cell's nearest real neighbours, at equal n), by the random-forest
  AUROC of :func:`~scdiff_core.metrics.distances.rf_auroc` (0.5: indistinguishable). A path that
  blends two states is told apart from the real cells nearest to it; one on the data manifold is not.
* :func:`pseudotime_order` — each generated cell takes the mean pseudotime of its k nearest real
  cells; per-λ means should rise strictly, and Spearman(λ, pseudotime) over cells be high.
* :func:`time_course_placement` — each real cell of a time point takes the mean λ of its k nearest
  generated cells; the time points' mean λ should come out in their true order (scDiffusion's
  check on a reprogramming time course).
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from .distances import rf_auroc


def _knn(query: np.ndarray, ref: np.ndarray, k: int) -> np.ndarray:
    from sklearn.neighbors import NearestNeighbors

    k = int(min(k, len(ref)))
    return NearestNeighbors(n_neighbors=k).fit(ref).kneighbors(query, return_distance=False)  # (n, k)


def _lambda_groups(lam: np.ndarray) -> np.ndarray:
    return np.unique(np.round(np.asarray(lam, dtype=np.float64), 6))


def per_lambda_realism(gen: np.ndarray, lam: Sequence[float], real: np.ndarray, *, seed: int = 0,
                       max_k: int = 10) -> list[dict[str, Any]]:
    """RF AUROC of each λ's generated cells against their nearest real cells.

    Parameters
    ----------
    gen, lam
        (N, d) generated cells' coordinates and their (N,) λ.
    real
        (R, d) real cells' coordinates (held-out cells, in the same space).
    seed
        Seed of the subsampling and of the forest.
    max_k
        Each generated cell contributes its nearest real neighbours, k = 1, 2, … up to ``max_k``,
        until the union holds as many real cells as the group has generated ones.

    Returns
    -------
    list of dict
        Per λ: ``lambda``, ``n`` (cells per side) and ``rf_auroc`` (NaN under 10 cells per side).
    """
    gen, real, lam = np.asarray(gen, float), np.asarray(real, float), np.round(np.asarray(lam, float), 6)
    rng = np.random.default_rng(seed)
    idx_all = _knn(gen, real, max_k)
    out = []
    for v in _lambda_groups(lam):
        G = gen[lam == v]
        idx = idx_all[lam == v]
        near = np.unique(idx[:, 0])
        for k in range(2, idx.shape[1] + 1):
            if len(near) >= len(G):
                break
            near = np.unique(idx[:, :k])
        n = int(min(len(G), len(near)))
        A = real[rng.choice(near, n, replace=False)]
        B = G[rng.choice(len(G), n, replace=False)]
        out.append({"lambda": float(v), "n": n, "rf_auroc": rf_auroc(A, B, seed)})
    return out


def pseudotime_order(gen: np.ndarray, lam: Sequence[float], real: np.ndarray, pseudotime: Sequence[float], *,
                     k: int = 10) -> dict[str, Any]:
    """Pseudotime of generated cells (mean of their k nearest real cells') against λ.

    Parameters
    ----------
    gen, lam
        (N, d) generated coordinates, (N,) λ.
    real, pseudotime
        (R, d) real coordinates and each real cell's pseudotime (NaN: unknown, ignored).

    Returns
    -------
    dict
        ``lambdas``, ``mean_pseudotime`` per λ, ``strictly_increasing``, ``spearman_cells``
        (Spearman(λ, pseudotime) over generated cells) and ``pseudotime`` per generated cell.
    """
    from scipy.stats import spearmanr

    pt = np.asarray(pseudotime, dtype=float)
    ok = np.isfinite(pt)
    if ok.sum() == 0:
        raise ValueError("no real cell has a finite pseudotime")
    real = np.asarray(real, float)[ok]
    idx = _knn(np.asarray(gen, float), real, k)
    gpt = pt[ok][idx].mean(1)  # (N,)
    lam = np.round(np.asarray(lam, float), 6)
    lams = _lambda_groups(lam)
    means = [float(gpt[lam == v].mean()) for v in lams]
    return {"lambdas": lams.tolist(), "mean_pseudotime": means,
            "strictly_increasing": bool(np.all(np.diff(means) > 0)),
            "spearman_cells": float(spearmanr(lam, gpt)[0]), "pseudotime": gpt}


def _time_order(times: np.ndarray, order: Sequence | None) -> list:
    if order is not None:
        return list(order)
    vals = list(dict.fromkeys(times.tolist()))
    try:
        return sorted(vals, key=float)
    except (TypeError, ValueError):
        return sorted(vals, key=str)


def time_course_placement(gen: np.ndarray, lam: Sequence[float], real: np.ndarray, times: Sequence, *,
                          order: Sequence | None = None, k: int = 10) -> dict[str, Any]:
    """Place real cells of a time course on a generated path.

    Each real cell gets the mean λ of its ``k`` nearest generated cells. The time points are
    ordered by ``order`` (default: numerically if they are numbers, else as sorted strings).

    Parameters
    ----------
    gen, lam
        (N, d) generated coordinates of the path and their (N,) λ (0: first time point's end).
    real, times
        (R, d) held-out real cells' coordinates and their time labels.
    order
        The time points in their true order; time points not listed are left out.

    Returns
    -------
    dict
        ``order`` (true order), ``mean_lambda`` and ``n`` per time point, ``placed_order`` (time
        points sorted by mean λ), ``in_order`` (mean λ strictly rising along the true order),
        ``intermediates_between_ends`` (every intermediate time point's mean λ strictly between the
        first and last ones'), ``spearman_cells`` (Spearman of true rank vs placed λ, over cells)
        and ``spearman_points``, and ``placement`` per real cell.
    """
    from scipy.stats import spearmanr

    times = np.asarray(times).astype(object)
    order = _time_order(times, order)
    if len(order) < 2:
        raise ValueError("a time course needs at least two time points")
    keep = np.isin(times.astype(str), [str(t) for t in order])
    real, times = np.asarray(real, float)[keep], times[keep]
    idx = _knn(real, np.asarray(gen, float), k)
    place = np.asarray(lam, float)[idx].mean(1)  # (R,)
    rank = np.array([[str(t) for t in order].index(str(t)) for t in times])
    means = [float(place[rank == i].mean()) if (rank == i).any() else float("nan") for i in range(len(order))]
    counts = [int((rank == i).sum()) for i in range(len(order))]
    fin = [i for i, m in enumerate(means) if np.isfinite(m)]
    fm = [means[i] for i in fin]
    between = all(fm[0] < m < fm[-1] for m in fm[1:-1]) if len(fm) >= 2 else False
    return {"order": [str(t) for t in order], "mean_lambda": means, "n": counts,
            "placed_order": [str(order[i]) for i in sorted(fin, key=lambda i: means[i])],
            "in_order": bool(np.all(np.diff(fm) > 0)), "intermediates_between_ends": bool(between),
            "spearman_cells": float(spearmanr(rank, place)[0]),
            "spearman_points": float(spearmanr(fin, fm)[0]) if len(fm) > 2 else float("nan"),
            "placement": place}


def diffusion_pseudotime(coords: np.ndarray, root: int, *, n_neighbors: int = 15, seed: int = 0) -> np.ndarray:
    """Scanpy's diffusion pseudotime (Haghverdi et al. 2016) of cells given by ``coords`` (e.g. PCA),
    from the cell ``root``; NaN for cells not connected to it."""
    import anndata as ad
    import scanpy as sc

    a = ad.AnnData(np.zeros((len(coords), 1), dtype=np.float32))
    a.obsm["X_pca"] = np.asarray(coords, dtype=np.float32)
    sc.pp.neighbors(a, n_neighbors=min(n_neighbors, len(coords) - 1), use_rep="X_pca", random_state=seed)
    sc.tl.diffmap(a, n_comps=min(15, len(coords) - 2))
    a.uns["iroot"] = int(root)
    sc.tl.dpt(a)
    pt = a.obs["dpt_pseudotime"].to_numpy().astype(float)
    pt[~np.isfinite(pt)] = np.nan
    return pt


def evaluate_trajectory(traj, reference, train, held_out, *, time_key: str | None = None,
                        time_order: Sequence | None = None, pseudotime: Sequence[float] | None = None,
                        seed: int = 0) -> dict[str, Any]:
    """All three checks of a trajectory file against a checkpoint's real cells.

    Parameters
    ----------
    traj
        A trajectory AnnData (``obs['lambda']``), cells over the model's genes.
    reference
        The :class:`~scdiff_core.metrics.reference.ReferenceSpace` (PCA fitted on training cells).
    train, held_out
        Training cells and held-out real cells (validation + test), normalized the standard way.
    time_key, time_order
        An ``obs`` column of ``held_out`` with time labels (and their true order) for the placement.
    pseudotime
        One value per training cell; default: diffusion pseudotime on the training cells from the
        training cell nearest to the mean of the λ = 0 cells.

    Returns
    -------
    dict
        ``realism`` (:func:`per_lambda_realism`), ``pseudotime`` (:func:`pseudotime_order`, without the
        per-cell values), ``pseudotime_root`` and, with ``time_key``, ``time_course``.
    """
    if "lambda" not in traj.obs:
        raise ValueError("the trajectory has no obs['lambda']")
    lam = traj.obs["lambda"].to_numpy(dtype=float)
    G, Tr, R = reference.project(traj), reference.project(train), reference.project(held_out)
    out: dict[str, Any] = {"realism": per_lambda_realism(G, lam, R, seed=seed)}
    root = None
    if pseudotime is None:
        start_mean = G[lam == lam.min()].mean(0)
        root = int(np.argmin(((Tr - start_mean) ** 2).sum(1)))
        pseudotime = diffusion_pseudotime(Tr, root, seed=seed)
    po = pseudotime_order(G, lam, Tr, pseudotime)
    po.pop("pseudotime")
    out["pseudotime"], out["pseudotime_root"] = po, (str(train.obs_names[root]) if root is not None else "given")
    if time_key is not None:
        tc = time_course_placement(G, lam, R, held_out.obs[time_key].astype(str).to_numpy(), order=time_order)
        tc.pop("placement")
        out["time_course"] = tc
    return out
