"""``scdiff trajectory``: a continuous path of cells between two cell states or two sets of cells."""
from __future__ import annotations

import argparse

from .args import UsageError, add_sampling, check_h5ad_out, kv_pairs, tqdm_progress, write_h5ad

HELP = "a continuous path between two cell states or two sets of cells"


def _methods_help() -> str:
    from ..trajectory import METHODS

    return " ".join(f"{k}: {m.description}" for k, m in METHODS.items())


def add_parser(sub) -> None:
    from ..trajectory import DEFAULT_METHOD, METHODS

    tr = sub.add_parser("trajectory", help=HELP,
                        description="Generate cells along a path from a start state (λ=0) to an end state (λ=1). "
                                    "Ends are values of --column (--from/--to) or files of cells "
                                    "(--from-cells/--to-cells, optionally labelled by --from/--to). "
                                    "Methods: " + _methods_help(),
                        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    tr.add_argument("--checkpoint", required=True)
    tr.add_argument("--column", required=True, help="condition column to interpolate along")
    tr.add_argument("--method", default=DEFAULT_METHOD, choices=sorted(METHODS), help="how the path is drawn")
    tr.add_argument("--from", help="start state (a value of --column); with --from-cells, that set's label")
    tr.add_argument("--to", help="end state; with --to-cells, that set's label")
    tr.add_argument("--from-cells", metavar="FILE", help="start set: .h5ad of cells over the model's genes "
                                                          "(e.g. generated ones), or a text file of training cell ids")
    tr.add_argument("--to-cells", metavar="FILE", help="end set, as --from-cells")
    tr.add_argument("--points", type=int, default=10, help="number of λ values")
    tr.add_argument("--cells-per-point", type=int, default=100)
    tr.add_argument("--t-start", type=float,
                    help="how far back into the noise schedule (fraction of T, in (0, 1]); default: the method's "
                         "(gradient 0.6: lower keeps more of the start cells; inversion 1.0; manifold 0.3: lower keeps "
                         "more of the real cells the path walks through)")
    tr.add_argument("--scale", type=float, help="guidance strength (default from the checkpoint)")
    tr.add_argument("--start-cells", default="reference", choices=["reference", "generated"],
                    help="for a label end: real training cells of that state, or generated ones")
    tr.add_argument("--refine", type=int, default=0, help="inversion: extra network calls per inversion step")
    tr.add_argument("--pairing", default="random", choices=["random", "matched"],
                    help="inversion: pair start and end cells at random or one-to-one by similarity")
    tr.add_argument("--neighbors", type=int, default=15,
                    help="manifold: k of the neighbour graph of training cells the path walks through")
    tr.add_argument("--local-weight", type=float, default=None, metavar="W",
                    help="manifold: from 0 to 1, how much each point is drawn as the real cells around it are "
                         "labelled rather than as the λ-mix of the two ends (default 0.5; 1: the most realistic "
                         "intermediates, 0: pseudotime follows λ most tightly)")
    tr.add_argument("--condition", action="append", metavar="COL=VALUE", help="hold another column fixed")
    add_sampling(tr, guidance_default=None)
    tr.set_defaults(steps=None)  # None: the method's own number of steps
    tr.add_argument("--out", required=True, help="output .h5ad (obs['lambda'] per cell)")
    tr.set_defaults(func=run)


def _end(model, column: str, label, cells, which: str):
    from ..trajectory.sets import read_cell_set

    if cells:
        return read_cell_set(model, cells, label=label, column=column)
    if label is None:
        raise UsageError(f"Give --{which} (a value of --column) or --{which}-cells FILE.")
    return label


def run(a) -> int:
    from ..model import SCDiffModel

    check_h5ad_out(a.out)
    model = SCDiffModel.load(a.checkpoint)
    fixed = kv_pairs(a.condition, "--condition")
    if a.column not in model.conditions:
        raise UsageError(f"This model has no condition column {a.column!r}; its columns: {', '.join(model.conditions)}.")
    start = _end(model, a.column, getattr(a, "from"), a.from_cells, "from")
    end = _end(model, a.column, a.to, a.to_cells, "to")
    opts = dict(n_points=a.points, cells_per_point=a.cells_per_point, t_start=a.t_start, scale=a.scale,
                guidance=a.guidance, start_cells=a.start_cells, sampler=a.sampler, steps=a.steps, fixed=fixed,
                seed=a.seed, progress=tqdm_progress("denoising"))
    if a.method == "inversion":
        opts.update(refine=a.refine, pairing=a.pairing)
    elif a.refine or a.pairing != "random":
        raise UsageError("--refine and --pairing belong to --method inversion.")
    if a.method == "manifold":
        opts.update(neighbors=a.neighbors)
        if a.local_weight is not None:
            opts.update(local_weight=a.local_weight)
    elif a.neighbors != 15 or a.local_weight is not None:
        raise UsageError("--neighbors and --local-weight belong to --method manifold.")
    adata = model.trajectory(a.column, start, end, method=a.method, **opts)
    write_h5ad(adata, a.out)
    print(f"wrote {adata.n_obs} cells ({a.points} points × {a.cells_per_point}, {a.method}) to {a.out}")
    return 0
