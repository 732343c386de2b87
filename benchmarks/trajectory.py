"""Trajectories on paul15 (any method of scdiff_core.trajectory.METHODS): does diffusion
pseudotime rise with λ, and do the intermediates look like real intermediate cells?

    python benchmarks/trajectory.py --checkpoint checkpoints/paul15 --method inversion --split val

Pseudotime: scanpy's diffusion pseudotime (dpt) on the checkpoint's *training* cells, rooted at
the training cell nearest to ``uns['iroot']``'s cell (or the most immature 7MEP cell if it was
held out). Generated cells get the mean pseudotime of their 10 nearest training cells in PCA
space (PCA fitted on training cells). Reference rows: real cells of the path's clusters with λ
given by their maturation order, and a linear blend of start and end cells (which passes the
pseudotime test by construction but is not a cell).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.common import machine, save_json, set_threads  # noqa: E402

PATHS = {
    "7MEP→2Ery": ("7MEP", "2Ery", ["7MEP", "6Ery", "5Ery", "4Ery", "3Ery", "2Ery"], ["6Ery", "5Ery", "4Ery", "3Ery"]),
    "9GMP→14Mo": ("9GMP", "14Mo", ["9GMP", "10GMP", "15Mo", "14Mo"], ["10GMP", "15Mo"]),
}


def pseudotime_reference(held, seed=0):
    import numpy as np
    import scanpy as sc
    from sklearn.neighbors import NearestNeighbors

    from scdiff_core.data import load_anndata

    tr = held.train.copy()
    sc.pp.pca(tr, n_comps=50, random_state=seed)
    sc.pp.neighbors(tr, n_neighbors=15, random_state=seed)
    sc.tl.diffmap(tr)
    raw, _ = load_anndata("paul15")
    root_name = raw.obs_names[int(raw.uns["iroot"])]
    if root_name in tr.obs_names:
        tr.uns["iroot"] = int(np.flatnonzero(tr.obs_names == root_name)[0])
    else:  # root cell not in the training split: the training cell nearest to it
        root = held.reference.project(held.test[[root_name]] if root_name in held.test.obs_names else held.val[[root_name]])
        d = ((held.reference.project(tr) - root) ** 2).sum(1)
        tr.uns["iroot"] = int(np.argmin(d))
    sc.tl.dpt(tr)
    pt = tr.obs["dpt_pseudotime"].to_numpy().astype(float)
    pt[~np.isfinite(pt)] = np.nan  # cells disconnected from the root
    ref_pcs = held.reference.project(held.train)
    nn = NearestNeighbors(n_neighbors=10).fit(ref_pcs)

    def place(adata):
        _, idx = nn.kneighbors(held.reference.project(adata))
        return np.nanmean(pt[idx], 1)

    return pt, place


def run_path(model, key, start, end, args, seed=0):
    """The benchmarked trajectory, and its seconds (the median of ``args.repeats`` runs)."""
    opts = dict(method=args.method, n_points=args.points, cells_per_point=args.cells, t_start=args.t_start,
                scale=args.scale, guidance=args.guidance, steps=args.steps, seed=seed)
    if args.method == "inversion":
        opts.update(refine=args.refine, pairing=args.pairing)
    if args.method == "manifold":
        opts.update(neighbors=getattr(args, "neighbors", 15), local_weight=getattr(args, "local_weight", 0.5))
    secs = []
    for _ in range(max(1, args.repeats)):
        t0 = time.perf_counter()
        traj = model.trajectory(key, start, end, **opts)
        secs.append(time.perf_counter() - t0)
    return traj, float(sorted(secs)[len(secs) // 2])


def single_label_realism(model, held, real_pool, label, args, seed=0):
    """The per-λ realism figure of plain generated cells of one label (the target's yardstick)."""
    import numpy as np

    from scdiff_core.metrics.trajectory import per_lambda_realism

    gen = model.generate({held.label_key: label}, args.cells, seed=seed)
    r = per_lambda_realism(held.reference.project(gen), np.zeros(gen.n_obs), real_pool, seed=seed)
    return r[0]["rf_auroc"]


def evaluate_path(model, held, place, label, start, end, order, inter, args, seed=0):
    import anndata as ad
    import numpy as np
    from scipy.stats import spearmanr

    from scdiff_core.metrics import rf_auroc
    from scdiff_core.metrics.trajectory import per_lambda_realism

    key = held.label_key
    traj, secs = run_path(model, key, start, end, args, seed)
    lam = traj.obs["lambda"].to_numpy()
    pt = place(traj)
    lams = np.unique(lam)
    means = [float(pt[lam == v].mean()) for v in lams]
    rho = float(spearmanr(lam, pt)[0])
    # real cells ordered by maturation (all real cells not used for training: val + test)
    real = ad.concat([held.val, held.test])
    lab = real.obs[key].astype(str).to_numpy()
    keep = np.isin(lab, order)
    rpt = place(real[keep])
    rl = np.array([order.index(x) / (len(order) - 1) for x in lab[keep]])
    rho_real = float(spearmanr(rl, rpt)[0])
    # intermediates against real intermediate cells of the measured split (--split: validation cells for
    # choices, test cells for the final table); the control row compares the other held-out split's
    # cells of those clusters with the same cells (neither the model nor the PCA saw either)
    rng = np.random.default_rng(seed)
    mid = (lam > 0.2) & (lam < 0.8)
    meas, other = (held.val, held.test) if args.split == "val" else (held.test, held.val)

    def inter_of(a):
        return a[np.isin(a.obs[key].astype(str).to_numpy(), inter)]

    Xr = held.reference.project(inter_of(meas))
    Xg = held.reference.project(traj[mid])
    Xv = held.reference.project(inter_of(other))

    def auc(A, B):
        n = min(len(A), len(B))
        return rf_auroc(A[rng.choice(len(A), n, replace=False)], B[rng.choice(len(B), n, replace=False)], seed)

    row = {"path": label, "seconds": secs, "lambdas": lams.tolist(), "mean_pseudotime": means,
           "strictly_increasing": bool(np.all(np.diff(means) > 0)), "spearman_cells": rho,
           "rf_auroc_intermediates": auc(Xr, Xg), "n_real_intermediates": int(len(Xr))}
    if not getattr(args, "full", True):  # sweeps: the figures that change with the settings only
        return row
    auc_ctrl = auc(Xr, Xv)
    pool = held.reference.project(meas)
    per_lam = per_lambda_realism(held.reference.project(traj), lam, pool, seed=seed)
    single = [single_label_realism(model, held, pool, v, args, seed) for v in (start, end)]
    # linear blend of real start and end cells (training cells), same λ grid
    A = np.asarray(held.train[held.train.obs[key].astype(str) == start].X)
    B = np.asarray(held.train[held.train.obs[key].astype(str) == end].X)
    ia, ib = rng.integers(0, len(A), args.cells), rng.integers(0, len(B), args.cells)
    blend = np.concatenate([(1 - v) * A[ia] + v * B[ib] for v in lams])
    blam = np.repeat(lams, args.cells)
    bad = ad.AnnData(blend.astype(np.float32), var=held.train.var.copy())
    bpt = place(bad)
    bmid = (blam > 0.2) & (blam < 0.8)
    auc_blend = auc(Xr, held.reference.project(bad[bmid]))
    return {**row, "spearman_real_ordered": rho_real, "rf_auroc_intermediates_control": auc_ctrl,
            "per_lambda_rf_auroc_nearest": [r["rf_auroc"] for r in per_lam],
            "single_label_rf_auroc_nearest": single,
            "blend_spearman": float(spearmanr(blam, bpt)[0]), "blend_rf_auroc_intermediates": auc_blend}


def mean_rows(rows: list[dict]) -> dict:
    """One row from several seeds' rows: numbers (and lists of numbers) averaged, ``<key>_sd`` beside
    scalars, booleans true only if true for every seed; the seeds' own rows under ``per_seed``."""
    import numpy as np

    if len(rows) == 1:
        return rows[0]
    out = {}
    for k, v in rows[0].items():
        vals = [r[k] for r in rows]
        if isinstance(v, bool):
            out[k] = all(vals)
        elif isinstance(v, (int, float)):
            out[k], out[k + "_sd"] = float(np.mean(vals)), float(np.std(vals, ddof=1))
        elif isinstance(v, list) and v and all(isinstance(x, (int, float)) for x in v):
            out[k] = np.mean(np.asarray(vals, dtype=float), 0).tolist()
        else:
            out[k] = v
    out["per_seed"] = rows
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", default="checkpoints/paul15")
    ap.add_argument("--points", type=int, default=10)
    ap.add_argument("--cells", type=int, default=100)
    ap.add_argument("--method", default="inversion", help="trajectory method (scdiff_core.trajectory.METHODS)")
    ap.add_argument("--t-start", type=float, help="default: the method's")
    ap.add_argument("--scale", type=float)
    ap.add_argument("--guidance", help="default: the method's")
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--refine", type=int, default=0, help="inversion: fixed-point refinements per step")
    ap.add_argument("--pairing", default="random", help="inversion: random or matched")
    ap.add_argument("--neighbors", type=int, default=15, help="manifold: k of the neighbour graph")
    ap.add_argument("--local-weight", type=float, default=0.5, help="manifold: weight of the local labels")
    ap.add_argument("--split", default="val", choices=["val", "test"],
                    help="real cells measured against: val for choices, test for the final table")
    ap.add_argument("--repeats", type=int, default=1, help="timing: median of this many runs")
    ap.add_argument("--seeds", default="0", help="comma-separated seeds (trajectory, subsampling, forest); "
                                                 "figures are their mean, each seed's row kept in 'per_seed'")
    ap.add_argument("--name", default=None)
    a = ap.parse_args()
    set_threads(2)
    from scdiff_core.trajectory import METHODS

    a.guidance = a.guidance or METHODS[a.method].default_guidance
    a.t_start = a.t_start if a.t_start is not None else METHODS[a.method].default_t_start
    from scdiff_core.evaluation import HeldOut
    from scdiff_core.model import SCDiffModel

    model = SCDiffModel.load(a.checkpoint)
    held = HeldOut(model)
    _, place = pseudotime_reference(held)
    seeds = [int(x) for x in a.seeds.split(",")]
    per_seed = [[evaluate_path(model, held, place, k, *v, a, seed=sd) for k, v in PATHS.items()] for sd in seeds]
    rows = [mean_rows([ps[i] for ps in per_seed]) for i in range(len(PATHS))]
    for r in rows:
        print({k: (round(v, 3) if isinstance(v, float) else v) for k, v in r.items() if k not in ("lambdas", "per_seed")})
    save_json(a.name or f"trajectory_{Path(a.checkpoint).name}_{a.method}_{a.guidance}_{a.split}",
              {"checkpoint": a.checkpoint, "args": vars(a), "paths": rows, "machine": machine()})


if __name__ == "__main__":
    main()
