"""Quality of DDP training: 2 CPU processes against 1, with a second 1-process seed as the noise band.

    python benchmarks/ddp_quality.py --workdir /tmp/ddp_quality

paul15 models with a reduced budget (stated in the result): one process with training seed 0, one
with training seed 1 (the run-to-run noise), and two processes (``--devices 2``, gloo) with seed 0,
once with the same per-process batch (a global batch twice as large, so an autoencoder epoch has
half the steps) and once with the per-process batch halved (the same global batch and steps as one
process). The split is the same for all three (``split_seed`` is fixed; only the training seed
changes). Each is scored on the *validation* cells, as a choice would be: as many cells per cluster
as the validation split holds, classifier-free guidance at the checkpoint's defaults, DDIM-50,
RF AUROC / MMD² / label fidelity with PCA fitted on training cells. Results:
``benchmarks/results/ddp_quality.json``.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.common import ROOT, machine, save_json, set_threads  # noqa: E402

BUDGET = {"ae_epochs": 100, "diffusion_iters": 6000, "classifier_iters": 1500, "calibrate": False}
HALF = {"ae_batch": 64, "diffusion_batch": 128, "classifier_batch": 128}  # per process: the 1-process global batch
RUNS = (("1 process, seed 0", 1, 0, {}), ("1 process, seed 1", 1, 1, {}),
        ("2 processes (gloo), seed 0, same per-process batch (global batch ×2)", 2, 0, {}),
        ("2 processes (gloo), seed 0, per-process batch halved (same global batch)", 2, 0, HALF))


def score(path: str, seed: int = 0) -> dict:
    from scdiff_core.evaluation import HeldOut
    from scdiff_core.metrics import evaluate
    from scdiff_core.model import SCDiffModel

    model = SCDiffModel.load(path)
    held = HeldOut(model, paul15_path=str(ROOT.parent / "shared" / "data" / "paul15.h5ad.gz"))
    key = held.label_key
    counts = {k: int(v) for k, v in held.val.obs[key].astype(str).value_counts().items() if v > 0}
    gen = model.generate([({key: lab}, n) for lab, n in counts.items()], seed=seed)
    rep = evaluate(gen, train=held.train, test=held.val, control=None, label_key=key, seed=seed,
                   reference=held.reference, per_label=False)
    s = rep.summary().set_index("set").loc["generated"]
    return {"rf_auroc": float(s["rf_auroc"]), "mmd2": float(s["mmd2"]), "label_fidelity": float(s["label_fidelity"]),
            "n_cells": int(sum(counts.values()))}


def _previous() -> list[dict]:
    from benchmarks.common import RESULTS

    p = RESULTS / "ddp_quality.json"
    return json.loads(p.read_text())["rows"] if p.exists() else []


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workdir", default="/tmp/ddp_quality")
    ap.add_argument("--rerun", action="store_true", help="train every run again (default: keep runs already in the results)")
    a = ap.parse_args()
    set_threads(2)
    work = Path(a.workdir)
    rows = []
    ap_rows = {r["run"]: r for r in _previous()}
    for i, (name, world, seed, extra) in enumerate(RUNS):
        if name in ap_rows and not a.rerun:  # already measured with this command
            rows.append(ap_rows[name])
            continue
        out = work / f"run{i}"
        cfg = json.dumps({**BUDGET, **extra, "seed": seed, "split_seed": 0})
        cmd = [sys.executable, "-m", "scdiff_core.cli", "train", "--data", "paul15", "--paul15-path",
               str(ROOT.parent / "shared" / "data" / "paul15.h5ad.gz"), "--conditions", "paul15_clusters,phase",
               "--out", str(out), "--restart", "--devices", str(world), "--config", cfg]
        if world == 1:
            cmd += ["--threads", "2"]
        t0 = time.perf_counter()
        subprocess.run(cmd, cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        row = {"run": name, "processes": world, "seed": seed, "train_seconds": time.perf_counter() - t0, **score(str(out))}
        rows.append(row)
        print(row, flush=True)
        save_json("ddp_quality", {"machine": machine(), "budget": BUDGET, "rows": rows,
                                  "command": "python benchmarks/ddp_quality.py " + " ".join(sys.argv[1:])})


if __name__ == "__main__":
    main()
