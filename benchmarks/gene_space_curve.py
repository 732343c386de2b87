"""Gene-space diffusion (scRDiT's and the White-Box transformer's setting): a learning curve on pbmc68k.

    python benchmarks/gene_space_curve.py --backbone dit --minutes 60
    python benchmarks/gene_space_curve.py --backbone crate --minutes 60
    python benchmarks/gene_space_curve.py --backbone dit --minutes 60 --per-label

Issue 13 asks whether ``--space gene`` with DiT or CRATE reaches RF AUROC ≤ 0.75 against held-out
pbmc68k cells in 60 minutes of training on 2 CPU cores, and, if not, how far it gets and what budget
it would need. One run per backbone: the denoiser trains on the standardised expression vectors
(patches of 32 genes, width 128, depth 4) as ``scdiff train --space gene`` trains it (AdamW 1e-3,
500 warm-up steps, batch 256, condition dropout 0.3, EMA 0.999) but at a constant rate after the
warm-up, since the number of steps that fit the budget is not known in advance; every
``--eval-minutes`` the EMA weights generate as many cells per label as the *validation* split holds
(classifier-free, strength 1, DDIM-50) and are scored against them (the curve: choices only). At the
end the same is done once against the *test* cells. The model around the denoiser (gene statistics,
reference map, split) comes from a one-step ``scdiff train --space gene`` run, so generation and
evaluation are the library's own. Results: benchmarks/results/gene_curve_<backbone>[_per_label].json.
"""
from __future__ import annotations

import argparse
import copy
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.common import ROOT, machine, save_json, set_threads  # noqa: E402

CONDITIONS = ["bulk_labels", "phase"]
HP = {"width": 128, "depth": 4, "heads": 4, "patch_size": 32}


def score(m, held, part: str, seed: int = 0) -> dict:
    from scdiff_core.metrics import evaluate

    real = held.val if part == "val" else held.test
    key = held.label_key
    n = {k: int(v) for k, v in real.obs[key].astype(str).value_counts().items() if v > 0}
    gen = m.generate([({key: k}, c) for k, c in n.items()], guidance="free", scales={key: 1.0}, seed=seed)
    rep = evaluate(gen, train=held.train, test=real, control=None, label_key=key, seed=seed, per_label=False)
    row = rep.summary().iloc[0]
    return {"rf_auroc": float(row["rf_auroc"]), "mmd2": float(row["mmd2"]), "label_fidelity": float(row["label_fidelity"])}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backbone", choices=["dit", "crate", "mlp"], default="dit")
    ap.add_argument("--minutes", type=float, default=60.0, help="training wall time")
    ap.add_argument("--eval-minutes", type=float, default=7.5, help="score the EMA weights this often")
    ap.add_argument("--per-label", action="store_true", help="one denoiser per cell type (scRDiT's setting)")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    set_threads(2)
    import torch

    from scdiff_core.data import load_prepared
    from scdiff_core.diffusion import GaussianDiffusion
    from scdiff_core.evaluation import HeldOut
    from scdiff_core.model import SCDiffModel
    from scdiff_core.training import TrainConfig, train

    name = f"gene_curve_{a.backbone}" + ("_per_label" if a.per_label else "")
    hp = dict(HP) if a.backbone != "mlp" else {"widths": [1024, 512, 256]}
    if a.per_label:
        hp["per_label"] = True
    skel = ROOT / "runs" / "gene_curve" / name
    if not (skel / "config.json").exists():  # the model around the denoiser: stats, split, reference map
        prep = load_prepared("pbmc68k", CONDITIONS)
        train(prep, skel, TrainConfig(seed=a.seed, space="gene", backbone=a.backbone, backbone_hparams=hp,
                                      diffusion_iters=1, classifier_iters=1, calibrate=False, threads=2),
              command=f"benchmarks/gene_space_curve.py skeleton ({a.backbone})")
    m = SCDiffModel.load(skel)
    held = HeldOut(m)
    V = torch.from_numpy(m.to_space(np.asarray(held.train.X)))  # (N, G) standardised expression
    codes = torch.tensor(np.stack([[m.vocab[c].index(v) for v in held.train.obs[c].astype(str)] for c in CONDITIONS],
                                  1), dtype=torch.long)
    null = torch.tensor([len(m.vocab[c]) for c in CONDITIONS], dtype=torch.long)
    from scdiff_core.backbones import build_backbone

    torch.manual_seed(a.seed)  # a fresh network, built as training builds it (the skeleton's one step is discarded)
    den = build_backbone(a.backbone, V.shape[1], [len(m.vocab[c]) for c in CONDITIONS],
                         **m.config["backbone"]["hparams"]).train()
    ema = copy.deepcopy(den).eval()
    diffusion = GaussianDiffusion.from_config("linear", 1000)
    opt = torch.optim.AdamW(den.parameters(), lr=1e-3, weight_decay=0.0)
    g = torch.Generator().manual_seed(a.seed)
    curve, it, t_train, next_eval = [], 0, 0.0, a.eval_minutes * 60
    res = {"backbone": a.backbone, "per_label": a.per_label, "hparams": hp,
           "parameters": sum(p.numel() for p in den.parameters()), "minutes": a.minutes}

    def evaluate_now(part: str) -> dict:
        m.denoiser.load_state_dict(ema.state_dict())
        return score(m, held, part, a.seed)

    while t_train < a.minutes * 60:
        t0 = time.perf_counter()
        for _ in range(25):
            idx = torch.randint(0, V.shape[0], (256,), generator=g)
            c = codes[idx].clone()
            c = torch.where(torch.rand(c.shape, generator=g) < 0.3, null.expand_as(c), c)
            t = torch.randint(0, 1000, (256,), generator=g)
            noise = torch.randn((256, V.shape[1]), generator=g)
            for pg in opt.param_groups:
                pg["lr"] = 1e-3 * min(1.0, (it + 1) / 500)
            loss = diffusion.training_loss(den, V[idx], c, t=t, noise=noise)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(den.parameters(), 1.0)
            opt.step()
            with torch.no_grad():
                d = min(0.999, (1 + it) / (10 + it))
                for pe, p in zip(ema.parameters(), den.parameters()):
                    pe.mul_(d).add_(p.detach(), alpha=1 - d)
            it += 1
        t_train += time.perf_counter() - t0
        if t_train >= next_eval:
            row = {"iters": it, "train_minutes": t_train / 60, "loss": float(loss.detach()), **evaluate_now("val")}
            curve.append(row)
            print(row, flush=True)
            next_eval += a.eval_minutes * 60
            save_json(name, {**res, "curve": curve, "machine": machine()})
    res["final_val"] = evaluate_now("val")
    res["final_test"] = evaluate_now("test")
    res["iters"], res["seconds_per_iter"] = it, t_train / max(it, 1)
    save_json(name, {**res, "curve": curve, "machine": machine()})
    print(res, flush=True)


if __name__ == "__main__":
    main()
