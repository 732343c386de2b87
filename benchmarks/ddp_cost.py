"""Per-cell training cost, one process or several (docs/scaling.md quotes its output).

    python benchmarks/ddp_cost.py                                   # one process
    torchrun --standalone --nproc-per-node 2 benchmarks/ddp_cost.py # two (gloo on the CPU)

Trains on synthetic counts (default 4,000 cells × 2,000 genes) with the default network sizes and
times the steady part of each stage (from its first progress report to its last), so start-up,
data preparation and the reference map are left out. Prints one JSON line (rank 0).
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time

import torch


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cells", type=int, default=4000)
    ap.add_argument("--genes", type=int, default=2000)
    ap.add_argument("--ae-epochs", type=int, default=4)
    ap.add_argument("--diffusion-iters", type=int, default=600)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="auto")
    a = ap.parse_args()
    from scdiff_core.data import load_prepared, make_synthetic
    from scdiff_core.distributed import Dist
    from scdiff_core.training import TrainConfig, train

    torch.set_num_threads(a.threads)
    dist = Dist.from_env(a.device).init()
    marks: dict[str, list] = {}

    def progress(stage, step, total, info):
        marks.setdefault(stage, []).append((step, time.perf_counter()))

    with tempfile.TemporaryDirectory() as tmp:
        make_synthetic(n_cells=a.cells, n_genes=a.genes, n_types=4, seed=0, counts=True).write_h5ad(f"{tmp}/d.h5ad")
        prep = load_prepared(f"{tmp}/d.h5ad", ["cell_type"])
        cfg = TrainConfig(ae_epochs=a.ae_epochs, diffusion_iters=a.diffusion_iters, classifier_iters=200,
                          calibrate=False, save_every=10**6, threads=a.threads)
        train(prep, f"{tmp}/out", cfg, progress=progress, dist=dist)
    if dist.is_main:
        res = {"world_size": dist.world, "device": dist.device.type, "threads_per_process": a.threads,
               "genes": len(prep.genes)}
        batches = {"autoencoder": cfg.ae_batch, "diffusion": cfg.diffusion_batch,
                   "classifier_cell_type": cfg.classifier_batch}
        for stage, b in batches.items():
            (s0, t0), (s1, t1) = marks[stage][0], marks[stage][-1]
            if s1 > s0:
                sec = (t1 - t0) / (s1 - s0)
                res[stage] = {"seconds_per_step": sec, "cells_per_step": b * dist.world,
                              "microseconds_per_cell": 1e6 * sec / (b * dist.world)}
        print(json.dumps(res))
    dist.close()


if __name__ == "__main__":
    main()
