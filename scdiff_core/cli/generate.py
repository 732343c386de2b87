"""``scdiff generate``: cells for a combination of conditions, written to an .h5ad file.

Up to 100,000 cells are generated in memory and written at once (``X`` and ``layers['counts']``
dense). Above that, or with ``--stream``, cells are generated and written in chunks of
``--chunk-size`` cells (memory bounded by one chunk): ``layers['counts']`` is CSR, ``X`` CSR, or
dense with ``--dense-x``. The cells are the same either way for the same seed. The file appears
under its name only once complete.
"""
from __future__ import annotations

import argparse

from .. import validate as V
from .args import add_sampling, check_h5ad_out, condition_pairs, count_arg, scale_pairs, tqdm_progress, typed, write_h5ad

HELP = "generate cells for a combination of conditions"


def add_parser(sub) -> None:
    from ..model import MAX_CELLS
    from ..streaming import DEFAULT_CHUNK, MAX_STREAMED_CELLS

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
    gen.add_argument("--cells", type=count_arg("--cells", 1, MAX_STREAMED_CELLS), required=True,
                     help=f"number of cells (more than {MAX_CELLS:,} are streamed to the file in chunks)")
    gen.add_argument("--eta", type=typed(V.eta, "--eta"), default=0.0,
                     help="DDIM η in [0, 1]: 0 deterministic, 1 stochastic (scRDiT)")
    add_sampling(gen, auto=True)
    gen.add_argument("--stream", action="store_true",
                     help=f"write in chunks even for {MAX_CELLS:,} cells or fewer (counts and X as CSR)")
    gen.add_argument("--chunk-size", type=int, default=DEFAULT_CHUNK, help="cells per chunk when streaming")
    gen.add_argument("--dense-x", action="store_true", help="when streaming, write X dense instead of CSR")
    gen.add_argument("--out", required=True, help="output .h5ad (X log-normalized, layers['counts'] for count models)")
    gen.set_defaults(func=run)


def _cells_bar(total: int):
    """A tqdm bar over cells (rate and ETA), as ``progress(done, total)``."""
    from tqdm.auto import tqdm

    bar = tqdm(total=total, desc="cells", unit="cell", unit_scale=True, smoothing=0.1)

    def cb(done: int, _total: int) -> None:
        bar.update(done - bar.n)
        if done >= total:
            bar.close()

    return cb


def run(a) -> int:
    from ..model import MAX_CELLS, SCDiffModel

    check_h5ad_out(a.out)
    conds = condition_pairs(a.condition)
    scales = scale_pairs(a.scale)
    model = SCDiffModel.load(a.checkpoint)
    sampling = dict(guidance=a.guidance, scales=scales or None, sampler=a.sampler, steps=a.steps, eta=a.eta,
                    seed=a.seed)
    if a.stream or a.cells > MAX_CELLS:
        from ..h5stream import write_h5ad_streamed
        from ..streaming import MAX_STREAMED_CELLS, plan_request
        from .args import UsageError

        if a.chunk_size < 1:
            raise UsageError(f"--chunk-size must be a positive whole number, got {a.chunk_size}.")
        req = plan_request(model, conds, a.cells, max_cells=MAX_STREAMED_CELLS, **sampling)
        if req.choice:
            print(req.choice)
        res = write_h5ad_streamed(model, req, a.out, chunk_size=a.chunk_size, dense_x=a.dense_x,
                                  progress=_cells_bar(req.total))
        print(f"wrote {res['n_cells']} cells × {res['n_genes']} genes to {a.out} in chunks of {a.chunk_size} "
              f"(X {res['x_format']}{', counts csr' if res['counts'] else ''}; {res['seconds']:.2f} s)")
        return 0
    adata = model.generate(conds, a.cells, progress=tqdm_progress("denoising"), **sampling)
    if adata.uns["scdiff"].get("guidance_choice"):
        print(adata.uns["scdiff"]["guidance_choice"])
    write_h5ad(adata, a.out)
    print(f"wrote {adata.n_obs} cells × {adata.n_vars} genes to {a.out} "
          f"({adata.uns['scdiff']['seconds']:.2f} s)")
    return 0
