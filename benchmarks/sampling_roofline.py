"""How close sampling runs to this machine's limit, and how it scales with the number of cells.

    python benchmarks/sampling_roofline.py --checkpoint checkpoints/paul15 [--threads 2] [--max-cells 100000]

In one run, on the same threads:
1. torch's own matmul GFLOP/s for the denoiser's layer shapes (the ceiling a sampler can reach);
2. the achieved GFLOP/s of guided sampling (1,000 cells, DDIM-50; classifier-free — the FLOP
   counter cannot follow classifier guidance's autograd.grad, which is timed only): the network's FLOPs counted with ``torch.utils.flop_counter.FlopCounterMode`` over one whole run,
   divided by the run's median wall time (decoding included, so it is a lower bound on the
   network's own rate); the wall time itself is the issue's target (≤ 0.75 s);
3. a scaling curve: wall time and peak resident memory of ``SCDiffModel.generate`` for 10³ … max
   cells, each size in its own process (so peak memory is that size's alone).
Writes benchmarks/results/sampling_roofline_<checkpoint>.json.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.common import ROOT, machine, save_json, set_threads  # noqa: E402

CHILD = """
import json, resource, sys, time, torch
torch.set_num_threads({threads})
from scdiff_core.model import SCDiffModel
m = SCDiffModel.load({ckpt!r})
m.generate({{}}, 200, steps=5)  # warm-up
t = time.perf_counter()
a = m.generate({cond}, {n}, guidance="free", steps=50)
dt = time.perf_counter() - t
print(json.dumps({{"n": {n}, "seconds": dt, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""


def matmul_gflops(shapes: list[tuple[int, int]], batch: int, repeats: int = 20) -> float:
    """torch's GFLOP/s for ``batch × in`` @ ``in × out`` over the given layer shapes (median)."""
    import torch

    rates = []
    for n_in, n_out in shapes:
        a, w = torch.randn(batch, n_in), torch.randn(n_in, n_out)
        for _ in range(3):
            a @ w
        ts = []
        for _ in range(repeats):
            t = time.perf_counter()
            a @ w
            ts.append(time.perf_counter() - t)
        rates.append(2 * batch * n_in * n_out / statistics.median(ts) / 1e9)
    return float(statistics.median(rates))


def sampling_rate(m, cond: dict, guidance: str, repeats: int) -> dict:
    """FLOPs of one guided run of 1,000 cells, its median wall time, GFLOP/s."""
    from torch.utils.flop_counter import FlopCounterMode

    m.generate(cond, 1000, guidance=guidance, steps=50)  # warm-up
    try:
        with FlopCounterMode(display=False) as fc:
            m.generate(cond, 1000, guidance=guidance, steps=50)
        flops = fc.get_total_flops()
    except RuntimeError:  # its module hooks do not support torch.autograd.grad (classifier guidance)
        flops = None
    ts = []
    for _ in range(repeats):
        t = time.perf_counter()
        m.generate(cond, 1000, guidance=guidance, steps=50)
        ts.append(time.perf_counter() - t)
    sec = statistics.median(ts)
    from scdiff_core.timing import estimate_seconds

    est = estimate_seconds(m, 1000, guidance=guidance, steps=50, columns=len(cond))  # what the app says before the click
    return {"estimate_before_click": est, "flops": flops, "seconds_median": sec, "seconds": ts, "gflops": None if flops is None else flops / sec / 1e9}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", default="checkpoints/paul15")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--max-cells", type=int, default=100_000)
    a = ap.parse_args()
    set_threads(a.threads)
    import torch

    from scdiff_core.model import SCDiffModel

    m = SCDiffModel.load(a.checkpoint)
    col = m.conditions[0]
    counts = m.config.get("counts", {}).get(col, {})
    cond = {col: max(counts, key=counts.get) if counts else m.vocab[col][0]}
    shapes = [(mod.in_features, mod.out_features) for mod in m.denoiser.modules() if isinstance(mod, torch.nn.Linear)]
    res = {"checkpoint": a.checkpoint, "threads": a.threads, "condition": cond, "layer_shapes": shapes,
           "matmul_gflops_batch2000": matmul_gflops(shapes, 2000), "matmul_gflops_batch1000": matmul_gflops(shapes, 1000)}
    for g in ("free", "classifier"):
        res[g] = sampling_rate(m, cond, g, a.repeats)
        if res[g]["gflops"] is not None:
            res[g]["share_of_matmul"] = res[g]["gflops"] / res["matmul_gflops_batch2000"]
        print(g, {k: v for k, v in res[g].items() if k != "seconds"}, flush=True)
    curve = []
    n = 1000
    while n <= a.max_cells:
        code = CHILD.format(threads=a.threads, ckpt=str(Path(a.checkpoint).resolve()), cond=repr(cond), n=n)
        out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
        curve.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(curve[-1], flush=True)
        n *= 10
    res["scaling"] = curve
    res["machine"] = machine()
    res["command"] = "python benchmarks/sampling_roofline.py " + " ".join(sys.argv[1:])
    name = f"sampling_roofline_{Path(a.checkpoint).name}"
    print("wrote", save_json(name, res))


if __name__ == "__main__":
    main()
