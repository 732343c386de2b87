"""What a model of new cells can reach: the shipped checkpoints' cells next to the control cells and
their technical replicates (scdiff_core.metrics.replicates), against the held-out test cells.

    python benchmarks/replicates.py --checkpoints checkpoints/paul15 checkpoints/pbmc68k

For each checkpoint: as many cells of every label × phase combination as the test set holds
(classifier-free, the checkpoint's defaults), evaluated with ``replicates=True`` — the generated row, the
control row (validation cells) and the replicates row (the control cells with their counts redrawn as
Poisson(observed)). Nothing is chosen with these figures: the replicates row is a yardstick for the
label and phase fidelity targets, measured on real cells.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.common import machine, save_json, set_threads  # noqa: E402

COLUMNS = ("rf_auroc", "mmd2", "zero_frac_gap", "label_fidelity", "phase_fidelity")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoints", nargs="+", default=["checkpoints/paul15", "checkpoints/pbmc68k"])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--name", default="replicates")
    a = ap.parse_args()
    set_threads(2)
    from scdiff_core.evaluation import HeldOut
    from scdiff_core.model import SCDiffModel

    out = {}
    for ck in a.checkpoints:
        model = SCDiffModel.load(ck)
        held = HeldOut(model)
        combos = held.test.obs[model.conditions].astype(str).value_counts()
        groups = [(dict(zip(model.conditions, c)), int(n)) for c, n in combos.items() if n > 0]
        gen = model.generate(groups, guidance="free", seed=a.seed)
        rep = held.evaluate(gen, seed=a.seed, replicates=True, per_label=False)
        rows = {r["set"]: {c: float(r[c]) for c in COLUMNS} for _, r in rep.summary().iterrows()}
        out[Path(ck).name] = {"rows": rows, "notes": rep.notes, "n_generated": int(gen.n_obs)}
        for s, r in rows.items():
            print(f"{Path(ck).name:10s} {s:11s} " + "  ".join(f"{c} {r[c]:.4f}" for c in COLUMNS), flush=True)
    save_json(a.name, {"checkpoints": a.checkpoints, "seed": a.seed, "results": out, "machine": machine()})


if __name__ == "__main__":
    main()
