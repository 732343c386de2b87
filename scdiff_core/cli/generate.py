"""``scdiff generate``: cells for a combination of conditions, written to an .h5ad file."""
from __future__ import annotations

import argparse

from .. import validate as V
from .args import add_sampling, check_h5ad_out, condition_pairs, count_arg, scale_pairs, tqdm_progress, typed, write_h5ad

HELP = "generate cells for a combination of conditions"


def add_parser(sub) -> None:
    from ..model import MAX_CELLS

    gen = sub.add_parser("generate", help=HELP,
                         description="Generate cells for any combination of condition values, including combinations "
                                     "never seen in training. Columns not given are left free ('any').",
                         formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    gen.add_argument("--checkpoint", required=True, help="checkpoint folder")
    gen.add_argument("--condition", action="append", metavar="COL=VALUE",
                     help="a condition value (repeat for several columns); omit a column or give 'any' to leave it "
                          "free; COL==VALUE takes VALUE literally (a label that is itself named 'any')")
    gen.add_argument("--scale", action="append", metavar="COL=S",
                     help="guidance strength for a column, -50 to 50 (repeatable); defaults from the checkpoint")
    gen.add_argument("--cells", type=count_arg("--cells", 1, MAX_CELLS), required=True,
                     help=f"number of cells (1 to {MAX_CELLS:,})")
    gen.add_argument("--eta", type=typed(V.eta, "--eta"), default=0.0,
                     help="DDIM η in [0, 1]: 0 deterministic, 1 stochastic (scRDiT)")
    add_sampling(gen)
    gen.add_argument("--out", required=True, help="output .h5ad (X log-normalized, layers['counts'] for count models)")
    gen.set_defaults(func=run)


def run(a) -> int:
    from ..model import SCDiffModel

    check_h5ad_out(a.out)
    conds = condition_pairs(a.condition)
    scales = scale_pairs(a.scale)
    model = SCDiffModel.load(a.checkpoint)
    adata = model.generate(conds, a.cells, guidance=a.guidance, scales=scales or None, sampler=a.sampler,
                           steps=a.steps, eta=a.eta, seed=a.seed, progress=tqdm_progress("denoising"))
    write_h5ad(adata, a.out)
    print(f"wrote {adata.n_obs} cells × {adata.n_vars} genes to {a.out} "
          f"({adata.uns['scdiff']['seconds']:.2f} s)")
    return 0
