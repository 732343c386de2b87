"""**Paths through real cells**: trajectories that walk along the data manifold.

1. The checkpoint's stored training cells are joined into a k-nearest-neighbour graph in the PCA of
   their log-normalized expression (the graph scanpy's ``neighbors`` builds; the stored reference
   map's coordinates), whose edges cost the squared distance (density-sensitive: a path takes many
   short steps through populated states rather than one long jump across empty space; Bijral et al.
   2011, "semi-supervised learning with density based distances").
2. Start and end cells (real cells of a label, a selected set, generated cells), given in the
   diffusion space, are paired, each is attached to its nearest training cell there, and each pair is
   joined by the shortest path through the graph (Dijkstra): a chain of real cells from one state to
   the other.
3. The point at fraction λ of each chain (each chain cell an equal share, so the path moves through
   a state at the pace of the cells in it; λ = 0: the start cell itself, λ = 1: the end cell), in
   the diffusion space, is blurred with noise to ``t_start``·T and re-sharpened by the model (SDEdit,
   Meng et al. 2022), with the same noise for every λ of a pair, so the path stays continuous. The
   condition it is re-drawn under is part the λ-mix of the two ends' labels (weights (1 − λ, λ)) and
   part (``local_weight``) the labels of the real cells the point sits among (its nearest training
   cells), so an intermediate is drawn as the intermediate state it passes through, not as a blend
   of the two ends.

Where two states are linked in the data through intermediate states (a differentiation), the
path goes through them; where they are not, it takes the shortest way the graph allows and says
how long its longest jump was (``uns['scdiff']['longest_step']``, in units of the typical
neighbour distance). The choices (graph space, pace, ``local_weight`` 0.5, ``t_start`` 0.3) were
measured on paul15 validation cells: docs/benchmarks_trajectory.md.
"""
from __future__ import annotations

import time
from typing import Mapping

import anndata as ad
import numpy as np
import scipy.sparse as sp
import torch

from ..common import ProgressFn
from ..errors import ScdiffError
from .common import check_request, guided_scales, mixed_targets, path_output
from .sets import Endpoint, draw, end_label

#: Training cells whose labels make up a point's local condition (``local_weight``).
LOCAL_CELLS = 5


def graph_coordinates(model) -> np.ndarray:
    """The coordinates the neighbour graph is built in: the stored training cells' expression PCA
    (``reference['pcs']``), or their diffusion vectors for a checkpoint that stores no PCA."""
    R = model.reference.get("pcs")
    return np.asarray(model.reference["space"] if R is None else R, dtype=np.float64)


def space_neighbours(model):
    """Nearest-neighbour index over the stored training cells' diffusion vectors, cached: it attaches
    start and end cells to the graph and finds the cells around each point of a path."""
    cache = model.__dict__.setdefault("_manifold_graphs", {})
    if "space_nn" not in cache:
        from sklearn.neighbors import NearestNeighbors

        cache["space_nn"] = NearestNeighbors(n_neighbors=1).fit(np.asarray(model.reference["space"], dtype=np.float64))
    return cache["space_nn"]


def reference_graph(model, k: int = 15):
    """(graph, coordinates, typical distance) over the stored training cells, cached per k.

    ``graph`` is a symmetric CSR matrix of squared Euclidean distances between k-nearest neighbours in
    ``coordinates`` (:func:`graph_coordinates`), made connected: each smaller component is joined to
    the rest by its shortest edge; ``typical`` is the median distance from a cell to its nearest
    neighbour there.
    """
    cache = model.__dict__.setdefault("_manifold_graphs", {})  # k -> graph; a loaded model's cells never change
    if int(k) in cache:
        return cache[int(k)]
    from sklearn.neighbors import NearestNeighbors

    R = graph_coordinates(model)  # (n, P)
    n = len(R)
    k = int(min(k, n - 1))
    nn = NearestNeighbors(n_neighbors=k + 1).fit(R)
    dist, idx = nn.kneighbors(R)  # (n, k+1): each cell first
    rows = np.repeat(np.arange(n), k)
    G = sp.csr_matrix((dist[:, 1:].ravel() ** 2 + 1e-12, (rows, idx[:, 1:].ravel())), shape=(n, n))
    G = G.maximum(G.T).tocsr()
    G = _connect(G, R)
    typical = float(np.median(dist[:, 1]))
    cache[int(k)] = (G, R, typical)  # a benign race: two threads build the same graph
    return G, R, typical


def _connect(G: sp.csr_matrix, R: np.ndarray) -> sp.csr_matrix:
    """Join every connected component to the largest one by its shortest edge (squared distance)."""
    from scipy.sparse.csgraph import connected_components
    from sklearn.neighbors import NearestNeighbors

    G = G.tolil()
    while True:
        n_comp, lab = connected_components(G, directed=False)
        if n_comp == 1:
            return G.tocsr()
        main = np.bincount(lab).argmax()
        rest = np.flatnonzero(lab == main)
        nn = NearestNeighbors(n_neighbors=1).fit(R[rest])
        for c in range(n_comp):
            if c == main:
                continue
            members = np.flatnonzero(lab == c)
            d, j = nn.kneighbors(R[members])
            i = int(np.argmin(d[:, 0]))
            a, b = members[i], rest[j[i, 0]]
            G[a, b] = G[b, a] = float(d[i, 0]) ** 2 + 1e-12


def chains(model, xa: np.ndarray, xb: np.ndarray, k: int) -> tuple[list[np.ndarray], float]:
    """For each pair (xa[i], xb[i]) of diffusion vectors: the polyline start → training cells on the
    shortest path through the graph → end, in the diffusion space.

    Returns the polylines (each (L_i, D)) and the longest single step between training cells of a
    chain, in units of the typical neighbour distance of the graph's coordinates.
    """
    from scipy.sparse.csgraph import dijkstra

    G, P, typical = reference_graph(model, k)
    R = model.reference["space"]
    nn = space_neighbours(model)
    _, sa = nn.kneighbors(xa, n_neighbors=1)
    _, sb = nn.kneighbors(xb, n_neighbors=1)
    sa, sb = sa[:, 0], sb[:, 0]
    sources = np.unique(sa)
    _, pred = dijkstra(G, directed=False, indices=sources, return_predecessors=True)  # (S, n)
    row = {s: i for i, s in enumerate(sources)}
    out, longest = [], 0.0
    for i in range(len(xa)):
        p, node, nodes = pred[row[sa[i]]], sb[i], []
        while node != sa[i] and node >= 0:
            nodes.append(node)
            node = p[node]
        nodes.append(sa[i])
        nodes = nodes[::-1]
        line = np.concatenate([xa[i:i + 1], R[nodes], xb[i:i + 1]]).astype(np.float64)  # (L, D)
        steps = np.linalg.norm(np.diff(P[nodes], axis=0), axis=1)
        longest = max(longest, float(steps.max(initial=0.0)))
        out.append(line)
    return out, longest / max(typical, 1e-12)


def along(line: np.ndarray, lambdas: np.ndarray) -> np.ndarray:
    """Points at fractions ``lambdas`` of a polyline, each of its L − 1 steps an equal share (a chain
    of real cells is walked at the pace of its cells): (L, D), (K,) -> (K, D), linear within a step."""
    line = np.asarray(line, dtype=np.float64)
    if len(line) == 1:
        return np.repeat(line, len(lambdas), 0)
    s = np.asarray(lambdas, dtype=np.float64) * (len(line) - 1)
    j = np.clip(np.floor(s).astype(int), 0, len(line) - 2)
    w = s - j
    return line[j] + w[:, None] * (line[j + 1] - line[j])


def local_labels(model, column: str, points: np.ndarray) -> torch.Tensor:
    """(N, C) label make-up of the :data:`LOCAL_CELLS` stored training cells nearest to each point
    (diffusion vectors) in ``column``: the state the point sits in, as the data labels it."""
    nn = space_neighbours(model)
    k = int(min(LOCAL_CELLS, nn.n_samples_fit_))
    _, idx = nn.kneighbors(points, n_neighbors=k)
    codes = np.asarray(model.reference[f"label_{column}"], dtype=np.int64)[idx]  # (N, k)
    y = np.zeros((len(points), len(model.config["vocab"][column])), dtype=np.float32)
    np.add.at(y, (np.repeat(np.arange(len(points)), k), codes.ravel()), 1.0 / k)
    return torch.from_numpy(y)


def manifold_path(model, column: str, start: Endpoint, end: Endpoint, *, n_points: int = 10,
                  cells_per_point: int = 100, t_start: float = 0.3, scale: float | None = None,
                  guidance: str = "free", start_cells: str = "reference", sampler: str = "ddim", steps: int = 50,
                  eta: float = 0.0, neighbors: int = 15, local_weight: float = 0.5,
                  fixed: Mapping[str, str | None] | None = None, seed: int = 0,
                  progress: ProgressFn | None = None) -> ad.AnnData:
    """A path from ``start`` to ``end`` through the training cells' neighbour graph (module docstring).

    Parameters
    ----------
    model, column
        The loaded :class:`~scdiff_core.model.SCDiffModel` and the condition column to move along.
    start, end
        Labels (values of ``column``) or sets of cells (:func:`~scdiff_core.trajectory.sets.cell_set`).
    n_points, cells_per_point
        λ takes ``n_points`` evenly spaced values in [0, 1]; ``cells_per_point`` start–end pairs each.
    t_start
        How much noise blurs each point on the chain before the model re-sharpens it, as a fraction of
        the schedule in (0, 1]: small keeps the generated cells close to the real cells the path walks
        through, 1 forgets them.
    scale, guidance
        Strength and mode of the λ-mixed condition while re-sharpening (default: the checkpoint's
        trajectory default for the mode); 0 leaves it unguided.
    start_cells
        For a label end: ``'reference'`` (stored training cells) or ``'generated'``.
    sampler, steps, eta
        The sampler re-sharpening the points; ``steps`` counts a grid over the whole schedule, of which
        only the part below t_start runs (50 steps and t_start 0.3: 15 network calls).
    neighbors
        k of the neighbour graph (5–100).
    local_weight
        In [0, 1]: how much each point's condition is the labels of the real cells around it rather
        than the λ-mix of the two ends' labels. 0 pulls intermediates towards a blend of the ends
        (pseudotime follows λ more tightly); 1 draws each as the state it passes through (the most
        realistic intermediates); 0.5, the default, was chosen on paul15 validation cells.
    fixed, seed, progress
        Columns held at one value; same seed, same cells; ``progress(step, total)`` while denoising.

    Returns
    -------
    AnnData with ``obs['lambda']``, ``obs['point']``, ``obs['start_cell']`` and ``obs['end_cell']``.
    """
    a, b, fixed, scale, t_start, eta = check_request(model, column, start, end, n_points, cells_per_point, t_start,
                                                     start_cells, sampler, steps, guidance, fixed, scale, eta)
    if "space" not in model.reference:
        raise ScdiffError("A path through real cells needs the training cells stored in the checkpoint's "
                          "diffusion space, which a gene-space model does not store; use method='inversion' or "
                          "method='gradient'.")
    if not isinstance(neighbors, (int, np.integer)) or isinstance(neighbors, bool) or not 5 <= neighbors <= 100:
        raise ScdiffError(f"neighbors (k of the neighbour graph) must be a whole number from 5 to 100, got {neighbors!r}.")
    if isinstance(local_weight, bool) or not isinstance(local_weight, (int, float, np.floating, np.integer)) \
            or not 0.0 <= float(local_weight) <= 1.0:
        raise ScdiffError(f"local_weight must be a number from 0 (the two ends' labels only) to 1 (the labels of "
                          f"the real cells around each point only), got {local_weight!r}.")
    t0 = time.perf_counter()
    M, K = int(cells_per_point), int(n_points)
    g = torch.Generator().manual_seed(int(seed))
    rng = np.random.default_rng(int(seed))
    xa, _ = draw(model, column, a, M, start_cells, guidance, rng, seed)  # (M, D)
    xb, _ = draw(model, column, b, M, start_cells, guidance, rng, seed + 7919)  # (M, D)
    lines, longest = chains(model, xa.double().numpy(), xb.double().numpy(), int(neighbors))
    lambdas = np.linspace(0.0, 1.0, K)
    pts = np.stack([along(line, lambdas) for line in lines], 1)  # (K, M, D): λ-major, as path_output
    x0 = torch.from_numpy(pts.reshape(K * M, -1).astype(np.float32))
    t_s = int(round(float(t_start) * (model.diffusion.num_timesteps - 1)))
    noise = torch.randn(M, x0.shape[1], generator=g).repeat(K, 1)  # the same noise for every λ of a pair
    x_t = model.diffusion.q_sample(x0, torch.full((K * M,), t_s, dtype=torch.long), noise)
    lam = torch.tensor(np.repeat(lambdas, M), dtype=torch.float32)
    targets = mixed_targets(model, column, end_label(a), end_label(b), lam, fixed)
    w = float(local_weight)
    if w > 0:
        i = model.conditions.index(column)
        targets[i] = (1.0 - w) * targets[i] + w * local_labels(model, column, pts.reshape(K * M, -1))
    n_steps = max(2, int(round(int(steps) * t_s / (model.diffusion.num_timesteps - 1))))  # the grid's share below t_s
    v = model._denoise(x_t, targets, guided_scales(model, column, fixed, scale), guidance, sampler, n_steps, eta, t_s,
                       g, progress)
    cells = model.from_space(v, rng)
    prov = {"method": "manifold", "guidance": guidance, "sampler": sampler, "steps": int(steps), "steps_run": n_steps, "eta": float(eta),
            "scale": float(scale), "seed": int(seed), "t_start": float(t_start), "neighbors": int(neighbors),
            "local_weight": float(local_weight), "longest_step": round(longest, 3), "mean_chain_cells": float(np.mean([len(x) - 2 for x in lines])),
            "start_cells": start_cells, "seconds": time.perf_counter() - t0}
    return path_output(model, cells, column, a, b, lambdas, M, fixed, prov, paired=True)
