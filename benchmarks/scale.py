"""Training and generation at 10⁴–10⁶ cells: peak memory and time, on count atlases made by the shipped model.

    python benchmarks/scale.py --sizes 10000,100000,1000000 --workdir /tmp/scale

For each size N:

1. ``scdiff generate --checkpoint checkpoints/paul15 --cells N`` writes the atlas (streamed, sparse
   counts); its wall time and peak RSS are the generation figures. The cells are then labelled with
   the checkpoint's label predictor (``paul15_clusters``, written into the file's obs) so that the
   atlas has a condition to train on.
2. ``scdiff train --layer counts --conditions paul15_clusters --data-mode chunked`` (and, up to
   ``--memory-max`` cells, ``--data-mode memory`` for comparison) with one autoencoder epoch, a short
   denoiser and classifier, no calibration; the progress file is polled to time each stage.

Every command runs in its own process; peak RSS is that process's ``ru_maxrss`` from ``wait4``
(one process, ``--threads`` torch threads). Results: ``benchmarks/results/scale.json``.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.common import RESULTS, ROOT, machine, save_json  # noqa: E402

PY = sys.executable


def measured(cmd: list[str], progress_file: Path | None = None) -> dict:
    """Run ``cmd`` in a child; wall seconds, its peak RSS (MB) and, from the progress file, each stage's seconds."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    done: dict[str, float] = {}
    while True:
        pid, status, usage = os.wait4(p.pid, os.WNOHANG)  # this child's own rusage (its peak RSS)
        if pid:
            break
        time.sleep(0.5)
        if progress_file is not None and progress_file.exists():
            try:
                state = json.loads(progress_file.read_text())
            except (OSError, ValueError):
                continue
            now = time.perf_counter() - t0
            for stage, s in state.get("stages", {}).items():
                if s["step"] >= s["total"] and stage not in done:
                    done[stage] = now  # when the stage was first seen finished
    wall = time.perf_counter() - t0
    err = p.stderr.read()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({status}):\n{err[-3000:]}")
    # a stage's seconds: from the end of the stage before it (or the start) to its own end, so the work
    # between stages (the split, encoding all cells) counts with the stage after it; ±0.5 s polling
    ends = sorted(done.items(), key=lambda kv: kv[1])
    stages = {k: t - (ends[i - 1][1] if i else 0.0) for i, (k, t) in enumerate(ends)}
    return {"seconds": wall, "peak_rss_mb": usage.ru_maxrss / 1024, "stages": stages}


LABEL = """
import sys, h5py, numpy as np, anndata as ad
from anndata.io import read_elem, write_elem
from scdiff_core.model import SCDiffModel
from scdiff_core.data.backed import CellMatrix
m = SCDiffModel.load(sys.argv[1])
with h5py.File(sys.argv[2], "r+") as f:
    X = CellMatrix(f["X"])
    labels = [m.predict_labels(x.toarray())["predicted_paul15_clusters"].to_numpy() for _, x in X.chunks(50000)]
    obs = read_elem(f["obs"])
    obs["paul15_clusters"] = np.concatenate(labels).astype(str)
    obs["paul15_clusters"] = obs["paul15_clusters"].astype("category")
    del f["obs"]
    write_elem(f, "obs", obs)
"""


def run_size(n: int, work: Path, threads: int, memory_max: int, ckpt: str) -> dict:
    atlas = work / f"atlas_{n}.h5ad"
    res: dict = {"n_cells": n}
    if not atlas.exists():
        res["generate"] = measured([PY, "-m", "scdiff_core.cli", "generate", "--checkpoint", ckpt, "--cells", str(n),
                                    "--stream", "--threads", str(threads), "--seed", "1", "--out", str(atlas)])
        subprocess.run([PY, "-c", LABEL, ckpt, str(atlas)], cwd=ROOT, check=True)
        print(f"{n:,} cells generated: {res['generate']['seconds']:.0f} s, {res['generate']['peak_rss_mb']:.0f} MB",
              flush=True)
    res["atlas_mb"] = atlas.stat().st_size / 2**20
    modes = ["chunked"] + (["memory"] if n <= memory_max else [])
    for mode in modes:
        out, prog = work / f"model_{n}_{mode}", work / f"progress_{n}_{mode}.json"
        prog.unlink(missing_ok=True)
        cmd = [PY, "-m", "scdiff_core.cli", "train", "--data", str(atlas), "--layer", "counts",
               "--conditions", "paul15_clusters", "--out", str(out), "--restart", "--data-mode", mode,
               "--ae-epochs", "1", "--diffusion-iters", "300", "--classifier-iters", "100", "--threads", str(threads),
               "--config", '{"calibrate": false}', "--progress-file", str(prog)]
        r = measured(cmd, prog)
        r["seconds_per_ae_epoch"] = r["stages"].get("autoencoder")
        res[f"train_{mode}"] = r
        print(f"{n:,} cells, train {mode}: {r['seconds']:.0f} s, {r['peak_rss_mb']:.0f} MB, AE epoch "
              f"{r['seconds_per_ae_epoch'] or float('nan'):.0f} s", flush=True)
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--workdir", default="/tmp/scdiff_scale")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--memory-max", type=int, default=100_000, help="largest size also trained in memory")
    ap.add_argument("--checkpoint", default="checkpoints/paul15")
    a = ap.parse_args()
    work = Path(a.workdir)
    work.mkdir(parents=True, exist_ok=True)
    old = RESULTS / "scale.json"  # rows of other sizes, and the generation of an atlas that already exists, are kept
    rows = json.loads(old.read_text())["rows"] if old.exists() else []
    for n in (int(s) for s in a.sizes.split(",")):
        # one child per measurement, so each peak RSS is that job's alone
        code = ("import json,sys; sys.path.insert(0, '.'); from benchmarks.scale import run_size; "
                f"print('RESULT' + json.dumps(run_size({n}, __import__('pathlib').Path({str(work)!r}), {a.threads}, "
                f"{a.memory_max}, {a.checkpoint!r})))")
        p = subprocess.run([PY, "-c", code], cwd=ROOT, capture_output=True, text=True)
        sys.stdout.write("".join(ln + "\n" for ln in p.stdout.splitlines() if not ln.startswith("RESULT")))
        if p.returncode != 0:
            raise SystemExit(p.stderr[-3000:])
        row = json.loads(next(ln for ln in p.stdout.splitlines() if ln.startswith("RESULT"))[6:])
        prev = next((r for r in rows if r["n_cells"] == n), {})
        if "generate" not in row and "generate" in prev:
            row["generate"] = prev["generate"]
        rows = sorted([r for r in rows if r["n_cells"] != n] + [row], key=lambda r: r["n_cells"])
        save_json("scale", {"machine": machine(), "command": "python benchmarks/scale.py " + " ".join(sys.argv[1:]),
                            "rows": rows})


if __name__ == "__main__":
    main()
