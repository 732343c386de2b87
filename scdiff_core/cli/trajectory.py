"""``scdiff trajectory``: a continuous path of cells between two cell states."""
from __future__ import annotations

import argparse

from .args import add_sampling, check_h5ad_out, kv_pairs, tqdm_progress, write_h5ad

HELP = "a continuous path between two cell states (Gradient Interpolation)"


def add_parser(sub) -> None:
    tr = sub.add_parser("trajectory", help=HELP,
                        description="Noise real cells of state A part-way (--t-start), then denoise them guided "
                                    "towards (1-λ)·A + λ·B for λ from 0 to 1.",
                        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    tr.add_argument("--checkpoint", required=True)
    tr.add_argument("--column", required=True, help="condition column to interpolate along")
    tr.add_argument("--from", required=True, help="start state (a value of --column)")
    tr.add_argument("--to", required=True, help="end state")
    tr.add_argument("--points", type=int, default=10, help="number of λ values")
    tr.add_argument("--cells-per-point", type=int, default=100)
    tr.add_argument("--t-start", type=float, default=0.6,
                    help="how far to noise the start cells (fraction of T): lower keeps more of them")
    tr.add_argument("--scale", type=float, help="guidance strength (default from the checkpoint)")
    tr.add_argument("--start-cells", default="reference", choices=["reference", "generated"],
                    help="real training cells of the start state, or generated ones")
    tr.add_argument("--condition", action="append", metavar="COL=VALUE", help="hold another column fixed")
    add_sampling(tr, guidance_default="classifier")
    tr.add_argument("--out", required=True, help="output .h5ad (obs['lambda'] per cell)")
    tr.set_defaults(func=run)


def run(a) -> int:
    from ..model import SCDiffModel

    check_h5ad_out(a.out)
    model = SCDiffModel.load(a.checkpoint)
    fixed = kv_pairs(a.condition, "--condition")
    adata = model.trajectory(a.column, getattr(a, "from"), a.to, n_points=a.points, cells_per_point=a.cells_per_point,
                             t_start=a.t_start, scale=a.scale, guidance=a.guidance, start_cells=a.start_cells,
                             sampler=a.sampler, steps=a.steps, fixed=fixed, seed=a.seed,
                             progress=tqdm_progress("denoising"))
    write_h5ad(adata, a.out)
    print(f"wrote {adata.n_obs} cells ({a.points} points × {a.cells_per_point}) to {a.out}")
    return 0
