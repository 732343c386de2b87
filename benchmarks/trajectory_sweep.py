"""Settings of the trajectory methods on paul15, measured on validation cells (one load, many runs).

    python benchmarks/trajectory_sweep.py --checkpoint checkpoints/paul15 --name trajsweep_inversion_val \\
        --config inversion,free,1.0,,50,0,random --config gradient,classifier,0.6,,50,0,random

Each ``--config`` is METHOD,GUIDANCE,T_START,SCALE,STEPS,REFINE,PAIRING,NEIGHBORS,LOCAL_WEIGHT (SCALE
empty: the checkpoint's default; NEIGHBORS: k of the manifold method's graph; LOCAL_WEIGHT: its weight of
the local labels, default 0.5). Every row holds the figures of ``benchmarks/trajectory.py`` that depend on
the settings (pseudotime order, Spearman, RF AUROC of the intermediates against real intermediate
validation cells, seconds) for both paths; all results go to one JSON under benchmarks/results/.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.common import machine, save_json, set_threads  # noqa: E402
from benchmarks.trajectory import PATHS, evaluate_path, pseudotime_reference  # noqa: E402


def parse_config(s: str, points: int, cells: int, split: str) -> SimpleNamespace:
    m, g, t, sc, st, rf, pa, nb, lw = (s.split(",") + [""] * 9)[:9]
    return SimpleNamespace(method=m, guidance=g, t_start=float(t), scale=float(sc) if sc else None,
                           steps=int(st or 50), refine=int(rf or 0), pairing=pa or "random",
                           neighbors=int(nb or 15), local_weight=float(lw or 0.5), points=points,
                           cells=cells, split=split, repeats=1, full=False)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", default="checkpoints/paul15")
    ap.add_argument("--config", action="append", required=True)
    ap.add_argument("--points", type=int, default=10)
    ap.add_argument("--cells", type=int, default=100)
    ap.add_argument("--split", default="val", choices=["val", "test"])
    ap.add_argument("--name", required=True)
    a = ap.parse_args()
    set_threads(2)
    from scdiff_core.evaluation import HeldOut
    from scdiff_core.model import SCDiffModel

    model = SCDiffModel.load(a.checkpoint)
    held = HeldOut(model)
    _, place = pseudotime_reference(held)
    out = []
    for c in a.config:
        cfg = parse_config(c, a.points, a.cells, a.split)
        rows = [evaluate_path(model, held, place, k, *v, cfg) for k, v in PATHS.items()]
        for r in rows:
            print(c, r["path"], {k: (round(v, 3) if isinstance(v, float) else v) for k, v in r.items()
                                 if k in ("seconds", "strictly_increasing", "spearman_cells", "rf_auroc_intermediates")},
                  "means", [round(x, 2) for x in r["mean_pseudotime"]], flush=True)
        out.append({"config": vars(cfg), "paths": rows})
        save_json(a.name, {"checkpoint": a.checkpoint, "runs": out, "machine": machine()})


if __name__ == "__main__":
    main()
