"""Quality of a checkpoint against its held-out test cells (docs/evaluation.md), with the control row
and the trivial Gaussian-per-label generator as reference rows.

    python benchmarks/quality.py --checkpoint checkpoints/paul15 [--guidance free] [--steps 50]

Generates, for every label with test cells, as many cells as the test set holds (and 200 cells of
each label named by --rare), evaluates them, and writes benchmarks/results/quality_<name>.json.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.common import machine, save_json, set_threads  # noqa: E402


def run(checkpoint: str, guidance: str = "free", sampler: str = "ddim", steps: int = 50, scale: float | None = None,
        seed: int = 0, rare: list[str] | None = None, name: str | None = None, baseline: bool = True,
        all_conditions: bool = False, column_scales: dict[str, float] | None = None) -> dict:
    import numpy as np

    from scdiff_core.evaluation import HeldOut
    from scdiff_core.metrics import gaussian_baseline
    from scdiff_core.model import SCDiffModel

    model = SCDiffModel.load(checkpoint)
    held = HeldOut(model)
    key = held.label_key
    counts = held.test_counts()
    groups = [({key: lab}, n) for lab, n in counts.items()]
    if all_conditions:  # one group per combination of every condition, as many cells as the test set holds
        combos = held.test.obs[model.conditions].astype(str).value_counts()
        groups = [(dict(zip(model.conditions, c)), int(n)) for c, n in combos.items() if n > 0]
    scales = {**({} if scale is None else {key: scale}), **(column_scales or {})} or None
    t0 = time.perf_counter()
    gen = model.generate(groups, guidance=guidance, sampler=sampler, steps=steps, seed=seed, scales=scales)
    t_gen = time.perf_counter() - t0
    rep = held.evaluate(gen, seed=seed)
    out = {"checkpoint": checkpoint, "guidance": guidance, "sampler": sampler, "steps": steps, "seed": seed,
           "all_conditions": all_conditions,
           "scale": scale, "scales": scales, "n_generated": gen.n_obs, "generate_seconds": t_gen, "report": rep.to_dict(),
           "machine": machine()}
    # zeros: fraction of zeros per gene, generated vs test (global)
    Xg, Xt = np.asarray(gen.X), np.asarray(held.test.X)
    out["zeros"] = {"gen": float((Xg == 0).mean()), "test": float((Xt == 0).mean()),
                    "per_gene_abs_gap": float(np.abs((Xg == 0).mean(0) - (Xt == 0).mean(0)).mean())}
    if baseline:
        gb = gaussian_baseline(held.train, key, counts, seed=seed)
        out["gaussian"] = held.evaluate(gb, seed=seed).to_dict()
    for lab in rare or []:
        # a rare type has too few test cells for distribution metrics: compare 200 generated cells with
        # every held-out real cell of the type (validation + test), next to the type's training cells
        import anndata as ad

        from scdiff_core.metrics import evaluate

        g = model.generate({key: lab}, 200, guidance=guidance, sampler=sampler, steps=steps, seed=seed,
                           scales=scales)
        real = ad.concat([held.val, held.test])
        real = real[real.obs[key].astype(str) == lab].copy()
        train_lab = held.train[held.train.obs[key].astype(str) == lab].copy()
        ref = held.reference
        rg, rr, rt = ref.project(g), ref.project(real), ref.project(train_lab)
        d_gen = np.sqrt(((rg[:, None] - rr[None]) ** 2).sum(-1)).min(1)    # generated → nearest held-out cell
        d_train = np.sqrt(((rt[:, None] - rr[None]) ** 2).sum(-1)).min(1)  # training cell → nearest held-out
        d_copy = np.sqrt(((rg[:, None] - rt[None]) ** 2).sum(-1)).min(1)   # generated → nearest training cell
        pred = ref.predict_labels(rg)
        rep_r = evaluate(g, train=held.train, test=real, control=None, label_key=key, min_label_cells=10**9,
                         seed=seed, reference=ref)
        out.setdefault("rare", {})[lab] = {
            "train_cells": int(train_lab.n_obs), "held_out_cells": int(real.n_obs), "generated": int(g.n_obs),
            "label_fidelity": float((np.asarray(pred) == lab).mean()),
            "label_fidelity_held_out_real": float((np.asarray(ref.predict_labels(rr)) == lab).mean()),
            "dist_to_held_out_generated_median": float(np.median(d_gen)),
            "dist_to_held_out_training_median": float(np.median(d_train)),
            "dist_generated_to_nearest_training_median": float(np.median(d_copy)),
            "mmd2_vs_held_out": float(rep_r.summary().iloc[0]["mmd2"]),
            "n_generated_unique_nearest_training": int(len(np.unique(np.argmin(
                ((rg[:, None] - rt[None]) ** 2).sum(-1), 1)))),
        }
    save_json(name or f"quality_{Path(checkpoint).name}_{guidance}", out)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--guidance", default="free", choices=["free", "classifier"])
    ap.add_argument("--sampler", default="ddim")
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--scale", type=float, help="guidance strength of the label column")
    ap.add_argument("--column-scale", action="append", metavar="COL=S", default=[],
                    help="guidance strength of another column (repeatable), e.g. phase=2")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--rare", action="append", help="a rare label to report separately with 200 cells")
    ap.add_argument("--name")
    ap.add_argument("--no-baseline", action="store_true")
    ap.add_argument("--all-conditions", action="store_true",
                    help="condition on every column (e.g. cluster and phase), with the test set's combinations")
    a = ap.parse_args()
    set_threads(2)
    try:
        column_scales = {k: float(v) for k, v in (x.split("=", 1) for x in a.column_scale)}
    except ValueError:
        ap.error("--column-scale takes COL=S with a number S, e.g. phase=2")
    out = run(a.checkpoint, a.guidance, a.sampler, a.steps, a.scale, a.seed, a.rare, a.name, not a.no_baseline,
              a.all_conditions, column_scales)
    import pandas as pd

    from scdiff_core.metrics import EvaluationReport

    rep = EvaluationReport.from_dict(out["report"])
    with pd.option_context("display.width", 250, "display.max_columns", 20):
        print(rep.table.round(3).to_string(index=False))
        if "gaussian" in out:
            print("gaussian baseline:")
            print(EvaluationReport.from_dict(out["gaussian"]).summary().round(3).to_string(index=False))
    print("zeros", out["zeros"], "generate seconds", round(out["generate_seconds"], 2))


if __name__ == "__main__":
    main()
