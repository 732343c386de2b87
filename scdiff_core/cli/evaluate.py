"""``scdiff evaluate``: generated cells against the checkpoint's held-out real cells."""
from __future__ import annotations

import argparse
from pathlib import Path

from .args import add_threads

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
    ev.add_argument("--seed", type=int, default=0)
    add_threads(ev)
    ev.add_argument("--out", help="write the report as JSON")
    ev.set_defaults(func=run)


def run(a) -> int:
    import anndata as ad
    import pandas as pd

    from ..errors import ScdiffError
    from ..evaluation import HeldOut
    from ..model import SCDiffModel

    model = SCDiffModel.load(a.checkpoint)
    p = Path(a.generated)
    if not p.exists():
        raise ScdiffError(f"No file at {p}. Pass the .h5ad written by `scdiff generate`.")
    try:
        gen = ad.read_h5ad(p)
    except Exception as e:  # h5py/anndata raise many types for a bad file
        raise ScdiffError(f"{p} could not be read as .h5ad ({type(e).__name__}). Pass a file written by "
                          f"`scdiff generate`.") from e
    held = HeldOut(model, data=a.data)
    report = held.evaluate(gen, label_key=a.label_key, seed=a.seed)
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(report.table.round(4).to_string(index=False))
    for n in report.notes:
        print("note:", n)
    if a.out:
        from ..checkpoint import write_json_atomic

        write_json_atomic(a.out, report.to_dict())
        print(f"wrote {a.out}")
    return 0
