"""Sampler quality against the number of network calls, on validation cells (issue 7 item 7).

    python benchmarks/samplers.py --checkpoint checkpoints/paul15

For each sampler and step count, as many cells per label as the *validation* split holds are
generated (classifier-free guidance, the checkpoint's defaults) and compared with the validation
cells (RF AUROC, MMD², label fidelity; PCA fitted on training cells). Validation cells, not test
cells: this is the measurement a default sampler is chosen on. Writes
benchmarks/results/samplers_<name>.json and prints a markdown table.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.common import machine, save_json, set_threads  # noqa: E402

GRID = (("ddim", 10), ("ddim", 20), ("ddim", 50), ("dpmpp", 10), ("dpmpp", 20), ("dpmpp", 50), ("ddpm", 1000))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", default="checkpoints/paul15")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    set_threads(a.threads)
    from scdiff_core.evaluation import HeldOut
    from scdiff_core.metrics import evaluate
    from scdiff_core.model import SCDiffModel

    model = SCDiffModel.load(a.checkpoint)
    held = HeldOut(model)
    key = held.label_key
    counts = {k: int(v) for k, v in held.val.obs[key].astype(str).value_counts().items() if v > 0}
    rows = []
    for sampler, steps in GRID:
        t0 = time.perf_counter()
        gen = model.generate([({key: lab}, n) for lab, n in counts.items()], sampler=sampler, steps=steps, seed=a.seed)
        secs = time.perf_counter() - t0
        rep = evaluate(gen, train=held.train, test=held.val, control=None, label_key=key, seed=a.seed,
                       reference=held.reference, per_label=False)
        s = rep.summary().set_index("set").loc["generated"]
        rows.append({"sampler": sampler, "steps": steps, "seconds": secs, "rf_auroc": float(s["rf_auroc"]),
                     "mmd2": float(s["mmd2"]), "label_fidelity": float(s["label_fidelity"])})
        print(rows[-1], flush=True)
    name = Path(a.checkpoint).name
    save_json(f"samplers_{name}", {"checkpoint": a.checkpoint, "n_cells": sum(counts.values()), "rows": rows,
                                   "machine": machine(), "command": "python benchmarks/samplers.py " + " ".join(sys.argv[1:])})
    print("| sampler | steps | RF AUROC (validation) | MMD² | label fidelity | seconds |\n|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['sampler']} | {r['steps']} | {r['rf_auroc']:.3f} | {r['mmd2']:.4f} | {r['label_fidelity']:.3f} "
              f"| {r['seconds']:.2f} |")


if __name__ == "__main__":
    main()
