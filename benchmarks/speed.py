"""Sampling speed on this machine's CPU (threads set explicitly), and DDPM-1000 vs DDIM-50 quality.

    python benchmarks/speed.py --checkpoint checkpoints/paul15 [--quality]

Times 1,000 guided cells (DDIM-50, both guidance modes, decoding included) as the median of
repeats after a warm-up, then DDPM-1000; with --quality also evaluates both samplers' cells
against the held-out test cells (as many per label as the test set holds).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.common import machine, save_json, set_threads  # noqa: E402


def timed(fn, repeats):
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts), ts


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--quality", action="store_true")
    a = ap.parse_args()
    set_threads(a.threads)
    from scdiff_core.model import SCDiffModel

    m = SCDiffModel.load(a.checkpoint)
    col = m.conditions[0]
    vals = m.vocab[col]
    # the most frequent value of the first column, combined with the second column's first value
    top = max(vals, key=lambda v: m.config["counts"][col][v])
    cond = {col: top}
    if len(m.conditions) > 1:
        cond[m.conditions[1]] = m.vocab[m.conditions[1]][0]
    m.generate(cond, 50, steps=5)  # warm-up
    rows = []
    for guidance in ("free", "classifier"):
        for sampler, steps, reps in (("ddim", 50, a.repeats), ("ddpm", 1000, 1)):
            med, ts = timed(lambda: m.generate(cond, 1000, guidance=guidance, sampler=sampler, steps=steps), reps)
            rows.append({"guidance": guidance, "sampler": sampler, "steps": steps, "cells": 1000,
                         "conditions": cond, "seconds_median": med, "seconds_all": ts})
            print(rows[-1])
    out = {"checkpoint": a.checkpoint, "rows": rows, "machine": machine(), "threads": a.threads,
           "train_minutes": m.config["training"]["seconds_total"] / 60, "train_command": m.config.get("command")}
    if a.quality:
        from benchmarks.quality import run

        q = {}
        for sampler, steps in (("ddim", 50), ("ddpm", 1000)):
            r = run(a.checkpoint, "free", sampler, steps, baseline=False, name=f"quality_{Path(a.checkpoint).name}_{sampler}{steps}")
            q[f"{sampler}{steps}"] = {"summary": r["report"], "generate_seconds": r["generate_seconds"]}
        out["quality"] = q
    save_json(f"speed_{Path(a.checkpoint).name}", out)


if __name__ == "__main__":
    main()
