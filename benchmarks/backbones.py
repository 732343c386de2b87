"""Backbones × diffusion spaces (issue 4): mlp / dit / crate × latent / gene on pbmc68k and paul15.

    python benchmarks/backbones.py --dataset paul15 [--iters 8000] [--only dit-latent,crate-latent]

For each combination: parameters, seconds per training iteration, training time, time to sample
1,000 cells (DDIM-50 and DDPM-1000; DDPM-1000 is timed on 100 cells and scaled ×10 when a DDIM
step takes > 0.1 s, and marked so), and the docs/evaluation.md metrics against held-out test cells with
the control row. Latent-space runs share one autoencoder (trained once, ``autoencoder_from``), so
they differ only in the denoiser. Also a direct check of the White-Box claim: time per training
iteration of DiT vs CRATE at equal width and depth on the same tokens, and CRATE trained for the
same wall time as DiT.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.common import RESULTS, ROOT, machine, save_json, set_threads  # noqa: E402

CONDITIONS = {"pbmc68k": ["bulk_labels", "phase"], "paul15": ["paul15_clusters", "phase"]}
TRANSFORMER = {"width": 128, "depth": 4, "heads": 4}
GENE_PATCH = 32


def iteration_time(name: str, dim: int, n_classes, hp: dict, batch: int = 256, reps: int = 20) -> float:
    import torch

    from scdiff_core.backbones import build_backbone
    from scdiff_core.diffusion import GaussianDiffusion

    torch.manual_seed(0)
    m = build_backbone(name, dim, n_classes, **hp)
    d = GaussianDiffusion.from_config()
    opt = torch.optim.AdamW(m.parameters(), 1e-3)
    x = torch.randn(batch, dim)
    c = torch.zeros(batch, len(n_classes), dtype=torch.long)
    for i in range(reps + 3):
        if i == 3:
            t0 = time.perf_counter()
        loss = d.training_loss(m, x, c)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return (time.perf_counter() - t0) / reps


def run_one(dataset, backbone, space, iters, out_dir, ae_from, seed=0, wall_iters=None, existing=None,
            split_seed=None, result_name=None, time_ddpm=True, calibration_modes=None, extra_hparams=None):
    import torch

    from benchmarks.quality import run as quality
    from scdiff_core.data import load_prepared
    from scdiff_core.model import SCDiffModel
    from scdiff_core.training import TrainConfig, train

    name = f"{dataset}_{backbone}_{space}" + ("_walltime" if wall_iters else "")
    if existing:  # a checkpoint trained by its own recorded command (e.g. a shipped one): measure it
        out = Path(existing)
        m = SCDiffModel.load(out)
        n_iter = m.config["training"]["diffusion"]["iterations"]
        train_s = m.config["training"]["seconds_total"]
    else:
        prep = load_prepared(dataset, CONDITIONS[dataset])
        if backbone == "mlp":
            hp = {"widths": [256, 256, 128]}
        else:
            hp = dict(TRANSFORMER, patch_size=GENE_PATCH if space == "gene" else 2)
        hp.update(extra_hparams or {})
        n_iter = wall_iters or iters
        cfg = TrainConfig(seed=seed, split_seed=split_seed, backbone=backbone, space=space, backbone_hparams=hp, diffusion_iters=n_iter,
                          autoencoder_from=str(ae_from) if (space == "latent" and ae_from) else None, threads=2,
                          ae_epochs=300 if dataset == "pbmc68k" else 200)
        if calibration_modes:  # only the modes the caller scores (quality() below uses classifier-free)
            cfg.calibration_modes = tuple(calibration_modes)
        out = out_dir / name
        t0 = time.perf_counter()
        train(prep, out, cfg)
        train_s = time.perf_counter() - t0
        m = SCDiffModel.load(out)
    diff_s = m.config["training"]["diffusion"]["seconds_this_run"]
    row = {"dataset": dataset, "backbone": backbone, "space": space, "walltime": bool(wall_iters),
           "iters": n_iter, "checkpoint": str(out),
           "parameters": m.config["backbone"]["parameters"], "hparams": m.config["backbone"]["hparams"],
           "seconds_per_iter": diff_s / n_iter, "train_seconds": train_s, "diffusion_train_seconds": diff_s,
           "train_cells": len(m.config["split"]["train"]), "batch": m.config["train_config"]["diffusion_batch"]}
    col = m.conditions[0]
    top = max(m.vocab[col], key=lambda v: m.config["counts"][col][v])
    m.generate({col: top}, 20, steps=2)
    t0 = time.perf_counter()
    m.generate({col: top}, 1000, steps=50)
    row["ddim50_1000_cells_s"] = time.perf_counter() - t0
    per_step = row["ddim50_1000_cells_s"] / 50
    if not time_ddpm:  # the caller reports no DDPM figure (whitebox.py): a minute or two saved per model
        pass
    elif per_step > 0.1:
        t0 = time.perf_counter()
        m.generate({col: top}, 100, sampler="ddpm", steps=1000)
        row["ddpm1000_1000_cells_s"] = (time.perf_counter() - t0) * 10
        row["ddpm1000_estimated"] = True
    else:
        t0 = time.perf_counter()
        m.generate({col: top}, 1000, sampler="ddpm", steps=1000)
        row["ddpm1000_1000_cells_s"] = time.perf_counter() - t0
        row["ddpm1000_estimated"] = False
    q = quality(str(out), "free", baseline=False, name=result_name or f"backbones_{name}")
    row["report"] = q["report"]
    print({k: v for k, v in row.items() if k not in ("report", "hparams")}, flush=True)
    torch.set_num_threads(2)
    return row


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", required=True, choices=list(CONDITIONS))
    ap.add_argument("--iters-latent", type=int, default=5000, help="diffusion iterations in latent space")
    ap.add_argument("--iters-gene", type=int, default=2000, help="diffusion iterations in gene space")
    ap.add_argument("--existing", help="backbone-space=CHECKPOINT pairs to measure instead of training")
    ap.add_argument("--walltime", choices=["yes", "no"],
                    help="also train CRATE for DiT's wall time (default: yes on pbmc68k, no on paul15, to keep runs short)")
    ap.add_argument("--only", help="comma-separated backbone-space pairs, e.g. dit-latent,crate-gene")
    ap.add_argument("--out", default=str(ROOT / "runs" / "backbones"))
    ap.add_argument("--resume", action="store_true",
                    help="keep the rows already in benchmarks/results/backbones_<dataset>.json and run only the missing ones")
    a = ap.parse_args()
    set_threads(2)
    out_dir = Path(a.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    combos = [(b, s) for s in ("latent", "gene") for b in ("mlp", "dit", "crate")]
    if a.only:
        want = {tuple(x.split("-")) for x in a.only.split(",")}
        combos = [c for c in combos if c in want]
    # the White-Box claim: time per iteration at equal width/depth on the same tokens
    from scdiff_core.data import load_prepared

    prep = load_prepared(a.dataset, CONDITIONS[a.dataset])
    ncls = [len(prep.vocab[c]) for c in CONDITIONS[a.dataset]]
    claim = {}
    for space, dim, patch in (("latent", 17 if prep.kind == "counts" else 16, 2), ("gene", len(prep.genes), GENE_PATCH)):
        hp = dict(TRANSFORMER, patch_size=patch)
        claim[space] = {b: iteration_time(b, dim, ncls, hp) for b in ("dit", "crate")}
        print("seconds per iteration", space, claim[space], flush=True)
    existing = dict(x.split("=", 1) for x in a.existing.split(",")) if a.existing else {}
    iters = {"latent": a.iters_latent, "gene": a.iters_gene}
    rows = []
    ae_from = existing.get("mlp-latent")
    prev = RESULTS / f"backbones_{a.dataset}.json"
    if a.resume and prev.exists():
        rows = json.loads(prev.read_text())["rows"]
    done = {(r["backbone"], r["space"], bool(r.get("walltime"))) for r in rows}
    for b, s in combos:
        if (b, s, False) in done:
            print("already measured:", b, s, flush=True)
            if s == "latent" and ae_from is None and b == "mlp":
                ae_from = next(r["checkpoint"] for r in rows if (r["backbone"], r["space"]) == ("mlp", "latent"))
            continue
        r = run_one(a.dataset, b, s, iters[s], out_dir, ae_from, existing=existing.get(f"{b}-{s}"))
        rows.append(r)
        if s == "latent" and ae_from is None:
            ae_from = r["checkpoint"]
        save_json(f"backbones_{a.dataset}", {"rows": rows, "claim_seconds_per_iter": claim, "machine": machine(),
                                             "iters": iters})
    # CRATE trained for DiT's wall time (equal training time), in each space run
    walltime = (a.walltime or ("yes" if a.dataset == "pbmc68k" else "no")) == "yes"
    for s in ("latent", "gene") if walltime else ():
        dit = next((r for r in rows if r["backbone"] == "dit" and r["space"] == s), None)
        crate = next((r for r in rows if r["backbone"] == "crate" and r["space"] == s), None)
        if dit and crate and ("crate", s, True) not in done:
            n = int(dit["diffusion_train_seconds"] / crate["seconds_per_iter"])
            rows.append(run_one(a.dataset, "crate", s, iters[s], out_dir, ae_from, wall_iters=n))
            save_json(f"backbones_{a.dataset}", {"rows": rows, "claim_seconds_per_iter": claim, "machine": machine(),
                                                 "iters": iters})


if __name__ == "__main__":
    main()
