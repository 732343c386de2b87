"""A real time course: do held-out cells of intermediate days fall in order on a generated path?

Data: Treutlein et al. 2014 (Nature 509:371, GEO GSE52583), distal mouse lung epithelium at
E14.5, E16.5, E18.5 and adult: 185 cells × 218 genes (FPKM), as shipped inside the Debian package
``r-bioc-monocle`` (``extdata/lung_*_data.RData``; read with ``pyreadr``, no R needed):

    apt-get download r-bioc-monocle && dpkg -x r-bioc-monocle_*.deb /tmp/monocle
    pip install pyreadr
    python benchmarks/trajectory_timecourse.py --monocle /tmp/monocle

A model is trained on all four time points (values log1p(FPKM), condition ``time``; default split
0.6/0.2/0.2 stratified by time), a path is drawn from E14.5 to adult with each method, and every
held-out real cell (validation + test) is placed on it: the mean λ of its 10 nearest generated cells
in the PCA of the training cells (:func:`scdiff_core.metrics.trajectory.time_course_placement`).
The intermediate days should come out in order: E14.5 < E16.5 < E18.5 < adult.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.common import machine, save_json, set_threads  # noqa: E402

ORDER = ["E14.5", "E16.5", "E18.5", "Adult"]
EXTDATA = "usr/lib/R/site-library/monocle/extdata"


def load_lung(root: str):
    """The lung time course as AnnData: X = log1p(FPKM), obs['time']."""
    import anndata as ad
    import numpy as np
    import pandas as pd
    import pyreadr

    d = Path(root)
    d = d if (d / "lung_exprs_data.RData").exists() else d / EXTDATA
    if not (d / "lung_exprs_data.RData").exists():
        sys.exit(f"no lung_exprs_data.RData under {root}; extract r-bioc-monocle (see the docstring)")
    expr = next(iter(pyreadr.read_r(str(d / "lung_exprs_data.RData")).values()))  # genes × cells
    pheno = next(iter(pyreadr.read_r(str(d / "lung_phenotype_data.RData")).values()))
    X = np.log1p(expr.to_numpy(dtype=np.float32).T)
    obs = pd.DataFrame({"time": pd.Categorical(pheno.loc[expr.columns, "Time"].astype(str), categories=ORDER)},
                       index=pd.Index(expr.columns.astype(str)))
    return ad.AnnData(X, obs=obs, var=pd.DataFrame(index=pd.Index(expr.index.astype(str))))


def train_model(adata, out: Path, a):
    from scdiff_core.data import prepare
    from scdiff_core.training import TrainConfig, train

    prep = prepare(adata, ["time"], kind="lognorm", compute_phase=False)
    cfg = TrainConfig(seed=a.seed, latent_dim=a.latent_dim, ae_hidden=(256, 128), ae_epochs=a.ae_epochs,
                      diffusion_iters=a.diffusion_iters, classifier_iters=a.classifier_iters, save_every=100000,
                      threads=2)
    t0 = time.perf_counter()
    train(prep, out, cfg, command="benchmarks/trajectory_timecourse.py")
    return time.perf_counter() - t0, cfg.to_dict()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--monocle", default="/tmp/monocle", help="folder r-bioc-monocle was extracted to")
    ap.add_argument("--checkpoint", help="reuse a model trained by this script (default: train one)")
    ap.add_argument("--methods", default="inversion,gradient")
    ap.add_argument("--points", type=int, default=10)
    ap.add_argument("--cells", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--latent-dim", type=int, default=16)
    ap.add_argument("--ae-epochs", type=int, default=300)
    ap.add_argument("--diffusion-iters", type=int, default=6000)
    ap.add_argument("--classifier-iters", type=int, default=2000)
    ap.add_argument("--name", default="trajectory_timecourse_lung")
    a = ap.parse_args()
    set_threads(2)
    import anndata as ad

    from scdiff_core.metrics import HeldOut
    from scdiff_core.metrics.trajectory import evaluate_trajectory
    from scdiff_core.model import SCDiffModel

    adata = load_lung(a.monocle)
    tmp = Path(tempfile.mkdtemp(prefix="scdiff_lung_"))
    data = tmp / "lung.h5ad"
    adata.write_h5ad(data)
    seconds, cfg = None, None
    ck = Path(a.checkpoint) if a.checkpoint else tmp / "model"
    if not a.checkpoint:
        seconds, cfg = train_model(ad.read_h5ad(data), ck, a)
    model = SCDiffModel.load(ck)
    held = HeldOut(model, data=str(data))
    real = ad.concat([held.val, held.test])
    rows = []
    for m in a.methods.split(","):
        traj = model.trajectory("time", ORDER[0], ORDER[-1], method=m, n_points=a.points, cells_per_point=a.cells,
                                seed=a.seed)
        r = evaluate_trajectory(traj, held.reference, held.train, real, time_key="time", time_order=ORDER, seed=a.seed)
        tc = r["time_course"]
        print(m, "placed:", " < ".join(tc["placed_order"]), "mean λ", [round(x, 3) for x in tc["mean_lambda"]],
              "n", tc["n"], "in order", tc["in_order"], "Spearman", round(tc["spearman_cells"], 3), flush=True)
        rows.append({"method": m, "time_course": tc, "realism": r["realism"], "pseudotime": r["pseudotime"],
                     "seconds": float(traj.uns["scdiff"]["seconds"])})
    save_json(a.name, {"data": "Treutlein 2014 lung (GSE52583) from r-bioc-monocle extdata", "order": ORDER,
                       "cells": adata.n_obs, "genes": adata.n_vars, "train_seconds": seconds, "train_config": cfg,
                       "held_out_per_time": real.obs["time"].astype(str).value_counts().to_dict(),
                       "args": vars(a), "methods": rows, "machine": machine()})


if __name__ == "__main__":
    main()
