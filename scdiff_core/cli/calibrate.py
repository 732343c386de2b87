"""``scdiff calibrate``: set a checkpoint's per-column guidance defaults from its validation cells."""
from __future__ import annotations

import argparse

from .args import UsageError, add_threads, modes_arg, tqdm_progress

HELP = "calibrate a checkpoint's default guidance strengths on its validation cells"


def add_parser(sub) -> None:
    c = sub.add_parser("calibrate", help=HELP,
                       description="For each guidance mode and condition column, pick the default strength whose "
                                   "fidelity (cell-cycle scoring for phase, the label predictor otherwise) is closest "
                                   "to the validation cells' own. Training does this at its end; this command does it "
                                   "for an existing checkpoint and rewrites its config.json (weights unchanged).",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    c.add_argument("--checkpoint", required=True, help="checkpoint folder (rewritten in place, atomically)")
    c.add_argument("--data", help="where the training data is, if not where the checkpoint recorded it")
    c.add_argument("--seed", type=int, default=0)
    c.add_argument("--modes", type=modes_arg("--modes", allow_none=False), default="all", metavar="MODES",
                   help="guidance modes to calibrate (free, chained, classifier, comma-separated, or all); the "
                        "checkpoint keeps its earlier calibration of the other modes")
    add_threads(c)
    c.set_defaults(func=run)


def run(a) -> int:
    from ..calibration import calibrate_guidance
    from ..evaluation import HeldOut
    from ..model import SCDiffModel

    model = SCDiffModel.load(a.checkpoint)
    if "chained" in a.modes and a.modes != ("free", "chained", "classifier") and len(model.conditions) < 2:
        raise UsageError("--modes: chained cannot be calibrated for this model: it has one condition column, where "
                         "the chained mode is the classifier-free one (calibrate free).")
    held = HeldOut(model, data=a.data)
    if held.note:  # no test split: the validation cells were halved; calibrate on all of them
        import anndata as ad

        val = ad.concat([held.val, held.test])
    else:
        val = held.val
    cal = calibrate_guidance(model, held.train, val, modes=a.modes, seed=a.seed, progress=tqdm_progress("calibrating"))
    import shlex
    import sys

    new = [m for m in cal if m not in ("report", "command")]
    old = model.config["guidance_defaults"].get("calibrated") or {}
    kept = {m: old[m] for m in old if m not in ("report", "command") and m not in new}
    merged = {**kept, **{m: cal[m] for m in new},
              "report": {**{m: r for m, r in (old.get("report") or {}).items() if m in kept}, **cal["report"]},
              "command": a._argv or "scdiff " + " ".join(shlex.quote(x) for x in sys.argv[1:])}
    model.config["guidance_defaults"]["calibrated"] = merged
    model.save(a.checkpoint)
    for mode in new:
        for col, s in cal[mode].items():
            r = cal["report"][mode][col]
            print(f"{mode:10s} {col}: strength {s:g} (validation cells' fidelity {r['control']:.3f}; generated: "
                  + ", ".join(f"{g:g} → {f:.3f}" for g, f in _around(r["fidelity"], s)) + ")"
                  + ("; the weakest and strongest strengths do not bracket it, so none between was tried"
                     if r.get("ends_only") else ""))
    print(f"saved {a.checkpoint}")
    return 0


def _around(fidelity: dict, s: float) -> list[tuple[float, float]]:
    """The tried strengths next to the chosen one ``s`` (both neighbours when it was interpolated)."""
    g = sorted(fidelity)
    if s in fidelity:
        return [(s, fidelity[s])]
    lo = [x for x in g if x < s]
    hi = [x for x in g if x > s]
    return [(x, fidelity[x]) for x in (lo[-1:] + hi[:1])]
