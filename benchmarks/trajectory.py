"""Gradient Interpolation on paul15: does diffusion pseudotime rise with λ, and do the
intermediates look like real intermediate cells?

    python benchmarks/trajectory.py --checkpoint checkpoints/paul15

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


def evaluate_path(model, held, place, label, start, end, order, inter, args, seed=0):
    import anndata as ad
    import numpy as np
    from scipy.stats import spearmanr

    from scdiff_core.metrics import rf_auroc

    key = held.label_key
    t0 = time.perf_counter()
    traj = model.trajectory(key, start, end, n_points=args.points, cells_per_point=args.cells, t_start=args.t_start,
                            scale=args.scale, guidance=args.guidance, seed=seed)
    secs = time.perf_counter() - t0
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
    # intermediates against real intermediate cells: held-out *test* cells of the intermediate clusters
    # (neither the model nor the PCA saw them); the control row compares the *validation* cells of those
    # clusters with the same test cells (training cells would not do: the PCA was fitted on them)
    rng = np.random.default_rng(seed)
    mid = (lam > 0.2) & (lam < 0.8)

    def inter_of(a):
        return a[np.isin(a.obs[key].astype(str).to_numpy(), inter)]

    Xr = held.reference.project(inter_of(held.test))
    Xg = held.reference.project(traj[mid])
    Xv = held.reference.project(inter_of(held.val))

    def auc(A, B):
        n = min(len(A), len(B))
        return rf_auroc(A[rng.choice(len(A), n, replace=False)], B[rng.choice(len(B), n, replace=False)], seed)

    auc_mid, auc_ctrl = auc(Xr, Xg), auc(Xr, Xv)
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
    return {"path": label, "seconds": secs, "lambdas": lams.tolist(), "mean_pseudotime": means,
            "strictly_increasing": bool(np.all(np.diff(means) > 0)), "spearman_cells": rho,
            "spearman_real_ordered": rho_real, "rf_auroc_intermediates": auc_mid,
            "rf_auroc_intermediates_control": auc_ctrl, "n_real_intermediates": int(len(Xr)),
            "blend_spearman": float(spearmanr(blam, bpt)[0]), "blend_rf_auroc_intermediates": auc_blend}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", default="checkpoints/paul15")
    ap.add_argument("--points", type=int, default=10)
    ap.add_argument("--cells", type=int, default=100)
    ap.add_argument("--t-start", type=float, default=0.6)
    ap.add_argument("--scale", type=float)
    ap.add_argument("--guidance", default="classifier")
    ap.add_argument("--name", default=None)
    a = ap.parse_args()
    set_threads(2)
    from scdiff_core.evaluation import HeldOut
    from scdiff_core.model import SCDiffModel

    model = SCDiffModel.load(a.checkpoint)
    held = HeldOut(model)
    _, place = pseudotime_reference(held)
    rows = [evaluate_path(model, held, place, k, *v, a) for k, v in PATHS.items()]
    for r in rows:
        print({k: (round(v, 3) if isinstance(v, float) else v) for k, v in r.items() if k != "lambdas"})
    save_json(a.name or f"trajectory_{Path(a.checkpoint).name}_{a.guidance}",
              {"checkpoint": a.checkpoint, "args": vars(a), "paths": rows, "machine": machine()})


if __name__ == "__main__":
    main()
