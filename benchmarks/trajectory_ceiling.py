"""How well can a path through real cells be ordered at all? The chains of training cells the manifold
method walks, scored as its generated cells are.

    python benchmarks/trajectory_ceiling.py --checkpoint checkpoints/paul15 --seeds 0,1,2,3,4,5

For each path of ``benchmarks/trajectory.py``: 100 start and 100 end training cells of the two labels
are paired at random and joined by the method's chains (:func:`scdiff_core.trajectory.manifold.chains`);
at each of 10 values of λ the chain's training cell at that fraction (each chain cell an equal share,
as the method paces it) is placed in pseudotime exactly as a generated cell is (the mean DPT
pseudotime of its 10 nearest training cells). Spearman(λ, pseudotime) over those real cells is what a
path that reproduced its chain cells perfectly would score. ``--via`` adds chains forced through a cell of
a given label (the shortest such chain), to see whether a different route would order better. Training cells only: no validation or
test cell is read, and nothing is chosen with it.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.common import machine, save_json, set_threads  # noqa: E402
from benchmarks.trajectory import PATHS, pseudotime_reference  # noqa: E402


def via_chains(model, a, b, via_cells):
    """Chains of training cells a[i] → w → b[i], w the cell of ``via_cells`` with the shortest such chain
    (the same graph and costs as the method's chains): node index lists."""
    import numpy as np
    from scipy.sparse.csgraph import dijkstra

    from scdiff_core.trajectory.manifold import reference_graph

    G, _, _ = reference_graph(model, 15)
    ua, ub = np.unique(a), np.unique(b)
    da, pa = dijkstra(G, directed=False, indices=ua, return_predecessors=True)
    db, pb = dijkstra(G, directed=False, indices=ub, return_predecessors=True)
    ra, rb = {s: i for i, s in enumerate(ua)}, {s: i for i, s in enumerate(ub)}

    def walk(pred, src, dst):
        out = [dst]
        while out[-1] != src:
            out.append(pred[out[-1]])
        return out[::-1]

    out = []
    for x, y in zip(a, b):
        w = via_cells[np.argmin(da[ra[x]][via_cells] + db[rb[y]][via_cells])]
        out.append(np.asarray(walk(pa[ra[x]], x, w) + walk(pb[rb[y]], y, w)[::-1][1:]))
    return out


def at_lambdas(nodes, lambdas):
    """The chain cell at each λ: each of the chain's cells an equal share, as the method paces it."""
    import numpy as np

    nodes = np.asarray(nodes)
    return nodes[np.clip(np.round(np.asarray(lambdas) * (len(nodes) - 1)).astype(int), 0, len(nodes) - 1)]


def chain_cells(model, key: str, start: str, end: str, n: int, lambdas, seed: int, via: str | None = None):
    """(n, K) indices of training cells: the chain cell at each λ of n random start/end pairs (``via``: a
    label the chain must pass through, a waypoint the method does not have; for comparison only)."""
    import numpy as np

    from scdiff_core.trajectory.manifold import chains, space_neighbours

    rng = np.random.default_rng(seed)
    labels = np.asarray(model.reference[f"label_{key}"])
    vocab = model.config["vocab"][key]
    a = rng.choice(np.flatnonzero(labels == vocab.index(start)), n)
    b = rng.choice(np.flatnonzero(labels == vocab.index(end)), n)
    if via is not None:
        node_lists = via_chains(model, a, b, np.flatnonzero(labels == vocab.index(via)))
    else:
        V = np.asarray(model.reference["space"], dtype=np.float64)
        lines, _ = chains(model, V[a], V[b], 15)
        nn = space_neighbours(model)
        node_lists = [nn.kneighbors(line, n_neighbors=1)[1][:, 0] for line in lines]  # every vertex is a training cell
    return np.stack([at_lambdas(nodes, lambdas) for nodes in node_lists]).astype(np.int64)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", default="checkpoints/paul15")
    ap.add_argument("--seeds", default="0,1,2,3,4,5")
    ap.add_argument("--name", default="trajectory_ceiling")
    ap.add_argument("--via", nargs="*", default=["9GMP→14Mo:15Mo", "9GMP→14Mo:10GMP"], metavar="PATH:LABEL",
                    help="also chains of PATH forced through a cell of LABEL (a waypoint; for comparison)")
    a = ap.parse_args()
    a.via = [tuple(x.rsplit(":", 1)) for x in a.via]
    set_threads(2)
    import numpy as np
    from scipy.stats import spearmanr

    from scdiff_core.evaluation import HeldOut
    from scdiff_core.model import SCDiffModel

    model = SCDiffModel.load(a.checkpoint)
    held = HeldOut(model)
    key = held.label_key
    _, place = pseudotime_reference(held)
    pt = place(held.train)  # each training cell placed as a generated cell is (reference rows = training rows)
    lambdas = np.linspace(0.0, 1.0, 10)
    rows = {}
    runs = [(name, start, end, None) for name, (start, end, _, _) in PATHS.items()]
    runs += [(f"{PATHS[p][0]}→{v}→{PATHS[p][1]}", PATHS[p][0], PATHS[p][1], v) for p, v in a.via]
    for name, start, end, via in runs:
        per_seed = []
        for seed in (int(s) for s in a.seeds.split(",")):
            idx = chain_cells(model, key, start, end, 100, lambdas, seed, via)
            lam = np.broadcast_to(lambdas, idx.shape).ravel()
            p = pt[idx.ravel()]
            ok = np.isfinite(p)
            means = [float(np.nanmean(pt[idx[:, j]])) for j in range(len(lambdas))]
            labs = np.asarray(model.config["vocab"][key])[np.asarray(model.reference[f"label_{key}"])[idx.ravel()]]
            per_seed.append({"seed": seed, "spearman_cells": float(spearmanr(lam[ok], p[ok])[0]),
                             "per_lambda_means": means, "strictly_increasing": bool(np.all(np.diff(means) > 0)),
                             "label_shares_mid": {str(k): float(v) for k, v in zip(*np.unique(
                                 labs.reshape(idx.shape)[:, 3:7], return_counts=True))}})
        rho = [r["spearman_cells"] for r in per_seed]
        rows[name] = {"spearman_cells": float(np.mean(rho)), "spearman_cells_sd": float(np.std(rho, ddof=1)),
                      "per_seed": per_seed}
        print(f"{name}: chain cells Spearman(λ, pseudotime) {np.mean(rho):.3f} ± {np.std(rho, ddof=1):.3f}; "
              f"rising on every seed: {all(r['strictly_increasing'] for r in per_seed)}", flush=True)
    save_json(a.name, {"checkpoint": a.checkpoint, "paths": rows, "machine": machine()})


if __name__ == "__main__":
    main()
