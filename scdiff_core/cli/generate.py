"""``scdiff generate``: cells for a combination of conditions, written to an .h5ad file."""
from __future__ import annotations

import argparse

from .args import add_sampling, check_h5ad_out, kv_pairs, number, tqdm_progress, write_h5ad

HELP = "generate cells for a combination of conditions"


def add_parser(sub) -> None:
    gen = sub.add_parser("generate", help=HELP,
                         description="Generate cells for any combination of condition values, including combinations "
                                     "never seen in training. Columns not given are left free ('any').",
                         formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    gen.add_argument("--checkpoint", required=True, help="checkpoint folder")
    gen.add_argument("--condition", action="append", metavar="COL=VALUE",
                     help="a condition value (repeat for several columns); omit a column or give 'any' to leave it free")
    gen.add_argument("--scale", action="append", metavar="COL=S",
                     help="guidance strength for a column (repeatable); defaults from the checkpoint")
    gen.add_argument("--cells", type=int, required=True, help="number of cells")
    gen.add_argument("--eta", type=float, default=0.0, help="DDIM η: 0 deterministic, 1 stochastic (scRDiT)")
    add_sampling(gen)
    gen.add_argument("--out", required=True, help="output .h5ad (X log-normalized, layers['counts'] for count models)")
    gen.set_defaults(func=run)


def run(a) -> int:
    from ..model import SCDiffModel

    check_h5ad_out(a.out)
    model = SCDiffModel.load(a.checkpoint)
    conds = kv_pairs(a.condition, "--condition")
    scales = {k: number(v, "--scale") for k, v in kv_pairs(a.scale, "--scale").items()}
    adata = model.generate(conds, a.cells, guidance=a.guidance, scales=scales or None, sampler=a.sampler,
                           steps=a.steps, eta=a.eta, seed=a.seed, progress=tqdm_progress("denoising"))
    write_h5ad(adata, a.out)
    print(f"wrote {adata.n_obs} cells × {adata.n_vars} genes to {a.out} "
          f"({adata.uns['scdiff']['seconds']:.2f} s)")
    return 0
