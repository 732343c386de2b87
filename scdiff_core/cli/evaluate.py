"""``scdiff evaluate``: generated cells against the checkpoint's held-out real cells."""
from __future__ import annotations

import argparse
from pathlib import Path

from .. import validate as V
from .args import add_fingerprint, add_threads, seed_arg

HELP = "compare generated cells with the held-out real test cells"


def add_parser(sub) -> None:
    ev = sub.add_parser("evaluate", help=HELP,
                        description="MMD², energy distance, random-forest AUROC, Spearman of gene means, zeros, "
                                    "label (and phase) fidelity, globally and per label, with a real-vs-real control row.",
                        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ev.add_argument("--checkpoint", required=True)
    ev.add_argument("--generated", required=True, help=".h5ad from scdiff generate")
    ev.add_argument("--data", help="where the training data is, if not where the checkpoint recorded it")
    ev.add_argument("--label-key", help="obs column to compare per label (default: the first condition)")
    ev.add_argument("--seed", type=seed_arg, default=0)
    add_threads(ev)
    add_fingerprint(ev)
    ev.add_argument("--out", help="write the report as JSON")
    ev.set_defaults(func=run)


def run(a) -> int:
    import pandas as pd

    from ..data import load_anndata
    from ..evaluation import HeldOut
    from ..model import SCDiffModel
    from ..uploads import check_generated

    out = V.output_file(a.out, "--out", ".json") if a.out else None
    model = SCDiffModel.load(a.checkpoint)
    gen_path = V.regular_file(a.generated, "--generated, the .h5ad written by `scdiff generate`").resolve()
    gen, _ = load_anndata(gen_path)  # an absolute path: never taken for a built-in dataset's name
    check_generated(gen, model, a.label_key)
    held = HeldOut(model, data=a.data)
    report = held.evaluate(gen, label_key=a.label_key, seed=a.seed)
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(report.table.round(4).to_string(index=False))
    for n in report.notes:
        print("note:", n)
    if out is not None:
        from ..checkpoint import write_json_atomic

        Path(out).parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(out, report.to_dict())
        print(f"wrote {out}")
    return 0
