"""``scdiff``: train, generate, trace trajectories, evaluate and inspect models from the shell.

Every subcommand only calls the library. Problems with the user's input are printed as one
``error:`` line that says what to do (exit code 2), never as a traceback.
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from pathlib import Path

EPILOG = """\
examples:
  # train on the built-in PBMC data, conditioned on cell type and cell-cycle phase (~10 min on 2 cores)
  scdiff train --data pbmc68k --use-raw --conditions bulk_labels,phase --out checkpoints/my_pbmc

  # 500 CD14+ monocytes in S phase, classifier-free guidance, DDIM with 50 steps
  scdiff generate --checkpoint checkpoints/pbmc68k --condition bulk_labels="CD14+ Monocyte" \\
      --condition phase=S --cells 500 --out mono_S.h5ad

  # a trajectory from 7MEP to 2Ery in 10 steps of lambda, 100 cells each
  scdiff trajectory --checkpoint checkpoints/paul15 --column paul15_clusters --from 7MEP --to 2Ery \\
      --points 10 --cells-per-point 100 --out mep_to_ery.h5ad

  # how real are they? (against the checkpoint's held-out test cells, with a real-vs-real control row)
  scdiff evaluate --checkpoint checkpoints/pbmc68k --generated mono_S.h5ad --out report.json
"""


def _kv(items: list[str] | None, what: str) -> dict[str, str]:
    out = {}
    for it in items or []:
        if "=" not in it:
            raise _UsageError(f"{what} must look like column=value, got {it!r}.")
        k, v = it.split("=", 1)
        out[k.strip()] = v.strip()
    return out


class _UsageError(Exception):
    pass


def _tqdm_progress(desc: str):
    from tqdm.auto import tqdm

    bar = {"b": None}

    def cb(step: int, total: int) -> None:
        if bar["b"] is None:
            bar["b"] = tqdm(total=total, desc=desc, unit="step", leave=False)
        bar["b"].n = step
        bar["b"].refresh()
        if step >= total:
            bar["b"].close()

    return cb


def _check_out(out: str) -> Path:
    """Check the output name before any work is done."""
    if Path(out).suffix != ".h5ad":
        raise _UsageError(f"--out must end in .h5ad, got {out!r}.")
    return Path(out)


def _write_h5ad(adata, out: str) -> None:
    """Write atomically: a temporary file next to the target, then rename."""
    import tempfile

    out_p = _check_out(out)
    out_p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out_p.name}.", suffix=".h5ad", dir=out_p.parent)
    os.close(fd)
    try:
        adata.write_h5ad(tmp)
        os.replace(tmp, out_p)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


# ---------------------------------------------------------------------- subcommands
def cmd_train(a) -> int:
    from .data import load_prepared
    from .errors import ScdiffError
    from .training import TrainConfig, train

    conds = [c.strip() for c in a.conditions.split(",") if c.strip()]
    if not conds:
        raise _UsageError("--conditions needs at least one obs column, e.g. --conditions cell_type,phase.")
    cfg = TrainConfig(seed=a.seed, backbone=a.backbone, space=a.space, threads=a.threads, split=tuple(a.split))
    if a.config:
        try:
            overrides = json.loads(Path(a.config).read_text()) if Path(a.config).exists() else json.loads(a.config)
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise _UsageError(f"--config must be a JSON object or a file holding one ({e}).") from None
        if not isinstance(overrides, dict):
            raise _UsageError('--config must be a JSON object, e.g. \'{"latent_dim": 32}\'.')
        cfg = TrainConfig.from_dict({**cfg.to_dict(), **overrides})
    if a.exclude:
        cfg.exclude = [_kv(x.split(","), "--exclude") for x in a.exclude]
    for name in ("ae_epochs", "diffusion_iters", "classifier_iters", "latent_dim"):
        if getattr(a, name, None) is not None:
            setattr(cfg, name, getattr(a, name))
    prep = load_prepared(a.data, conds, layer=a.layer, use_raw=True if a.use_raw else None, paul15_path=a.paul15_path,
                         n_top_genes=a.n_top_genes)
    from tqdm.auto import tqdm

    bars: dict[str, tqdm] = {}
    state = {"stages": {}, "current": None, "done": False, "error": None}
    last = [0.0]

    def write_progress(force=False):
        import time

        if a.progress_file and (force or time.time() - last[0] > 0.5):
            from .checkpoint import write_json_atomic

            write_json_atomic(a.progress_file, state)
            last[0] = time.time()

    def progress(stage, step, total, info):
        state["stages"][stage] = {"step": step, "total": total, **({"loss": info["loss"]} if "loss" in info else {})}
        state["current"] = stage
        write_progress(step >= total)
        if stage not in bars:
            bars[stage] = tqdm(total=total, desc=stage, unit="it")
        b = bars[stage]
        b.n = step
        if "loss" in info:
            b.set_postfix(loss=f"{info['loss']:.4g}", refresh=False)
        b.refresh()
        if step >= total:
            b.close()

    print(f"data: {prep.adata.n_obs} cells × {len(prep.genes)} genes ({prep.kind}); conditions: "
          + "; ".join(f"{c} ({len(prep.vocab[c])} values)" for c in conds), file=sys.stderr)
    command = "scdiff " + " ".join(shlex.quote(x) for x in sys.argv[1:]) if a._argv is None else a._argv
    try:
        model = train(prep, a.out, cfg, progress=progress, resume=not a.restart, command=command)
    except Exception as e:
        state["error"] = str(e) if isinstance(e, ScdiffError) else f"{type(e).__name__}: {e}"
        write_progress(True)
        raise
    state["done"] = True
    write_progress(True)
    s = model.config["training"]
    print(f"saved {a.out} (trained in {s['seconds_total'] / 60:.1f} min)")
    return 0


def cmd_generate(a) -> int:
    from .model import SCDiffModel

    _check_out(a.out)
    model = SCDiffModel.load(a.checkpoint)
    conds = _kv(a.condition, "--condition")
    scales = {k: _float(v, "--scale") for k, v in _kv(a.scale, "--scale").items()}
    adata = model.generate(conds, a.cells, guidance=a.guidance, scales=scales or None, sampler=a.sampler,
                           steps=a.steps, eta=a.eta, seed=a.seed, progress=_tqdm_progress("denoising"))
    _write_h5ad(adata, a.out)
    print(f"wrote {adata.n_obs} cells × {adata.n_vars} genes to {a.out} "
          f"({adata.uns['scdiff']['seconds']:.2f} s)")
    return 0


def cmd_trajectory(a) -> int:
    from .model import SCDiffModel

    _check_out(a.out)
    model = SCDiffModel.load(a.checkpoint)
    fixed = _kv(a.condition, "--condition")
    adata = model.trajectory(a.column, getattr(a, "from"), a.to, n_points=a.points, cells_per_point=a.cells_per_point,
                             t_start=a.t_start, scale=a.scale, guidance=a.guidance, start_cells=a.start_cells,
                             sampler=a.sampler, steps=a.steps, fixed=fixed, seed=a.seed,
                             progress=_tqdm_progress("denoising"))
    _write_h5ad(adata, a.out)
    print(f"wrote {adata.n_obs} cells ({a.points} points × {a.cells_per_point}) to {a.out}")
    return 0


def cmd_evaluate(a) -> int:
    import anndata as ad

    from .errors import ScdiffError
    from .evaluation import HeldOut
    from .model import SCDiffModel

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
    import pandas as pd

    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(report.table.round(4).to_string(index=False))
    for n in report.notes:
        print("note:", n)
    if a.out:
        from .checkpoint import write_json_atomic

        write_json_atomic(a.out, report.to_dict())
        print(f"wrote {a.out}")
    return 0


def cmd_info(a) -> int:
    from .model import SCDiffModel

    model = SCDiffModel.load(a.checkpoint)
    c = model.config
    s = model.summary()
    print(f"checkpoint: {a.checkpoint}")
    src = c["data"].get("source") or {}
    where = f" ({src['path']})" if isinstance(src, dict) and src.get("path") else ""
    print(f"dataset:    {src.get('source') if isinstance(src, dict) else src}{where}")
    print(f"data kind:  {s['kind']} → decoder likelihood {s['likelihood']}; diffusion space: {s['space']}")
    print(f"genes:      {s['genes']}; training cells: {s['cells_train']} (val {len(c['split']['val'])}, "
          f"test {len(c['split']['test'])})")
    print(f"backbone:   {s['backbone']} ({s['backbone_parameters']:,} parameters) {c['backbone']['hparams']}")
    print(f"trained by: {c.get('command') or '(not recorded)'} in {c['training']['seconds_total'] / 60:.1f} min")
    for col in model.conditions:
        vals = ", ".join(f"{v} ({n})" for v, n in c["counts"][col].items())
        print(f"condition {col}: {vals}")
    print(f"guidance defaults: {c['guidance_defaults']}")
    return 0


def _float(v: str, what: str) -> float:
    try:
        return float(v)
    except ValueError:
        raise _UsageError(f"{what} expects a number, got {v!r}.") from None


# ---------------------------------------------------------------------- parser
def _choices(registry: dict) -> str:
    return "; ".join(f"{k}: {getattr(v, 'description', '')}" for k, v in sorted(registry.items()))


def _split_arg(v: str) -> tuple[float, float, float]:
    """``TRAIN,VAL,TEST`` as fractions (0.6,0.2,0.2) or percentages (60,20,20); TEST may be 0."""
    parts = [x.strip() for x in v.split(",")]
    if len(parts) != 3:
        raise argparse.ArgumentTypeError(f"--split takes three numbers TRAIN,VAL,TEST, e.g. 0.6,0.2,0.2; got {v!r}")
    try:
        f = [float(x) for x in parts]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--split takes three numbers TRAIN,VAL,TEST, e.g. 0.6,0.2,0.2; got {v!r}") from None
    total = sum(f)
    if not all(x == x and x >= 0 for x in f) or total <= 0:
        raise argparse.ArgumentTypeError(f"--split parts must be non-negative numbers, got {v!r}")
    if abs(total - 100) < 1e-6:
        f = [x / 100 for x in f]
    elif abs(total - 1) > 1e-6:
        raise argparse.ArgumentTypeError(f"--split parts must add up to 1 (or 100), got {v!r} (sum {total:g})")
    return f[0], f[1], f[2]


def _threads_arg(v: str) -> int:
    try:
        n = int(v)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--threads takes a whole number, got {v!r}") from None
    if not 1 <= n <= 256:
        raise argparse.ArgumentTypeError(f"--threads must be between 1 and 256, got {n}")
    return n


def default_threads() -> int:
    """Half the cores (at least 1): leaves room for the app or another run, no oversubscription."""
    return max(1, (os.cpu_count() or 2) // 2)


def _add_threads(sp) -> None:
    sp.add_argument("--threads", type=_threads_arg, default=default_threads(),
                    help="CPU threads for torch (default: half the cores, so another job still runs)")


def build_parser() -> argparse.ArgumentParser:
    from .backbones import BACKBONES
    from .diffusion import SAMPLERS
    from .guidance import GUIDANCE
    from .space import SPACES
    from .train_config import default

    p = argparse.ArgumentParser(
        prog="scdiff",
        description="Generate realistic single-cell RNA-seq profiles under chosen conditions with latent "
                    "diffusion (scDiffusion-style autoencoder + diffusion + guidance), trace trajectories "
                    "between cell states, and measure how real the generated cells are.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    t = sub.add_parser("train", help="train a model on an .h5ad file or a built-in dataset",
                       description="Train the autoencoder, the diffusion model and one noise-aware classifier per "
                                   "condition column, then write a checkpoint folder. Re-running the same command "
                                   "after an interruption resumes where it stopped.",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    t.add_argument("--data", required=True, help="path to .h5ad (or .h5ad.gz), or a built-in name: pbmc68k, paul15")
    t.add_argument("--conditions", required=True,
                   help="comma-separated obs columns to condition on; 'phase' is computed by cell-cycle scoring if missing")
    t.add_argument("--out", required=True, help="checkpoint folder to write")
    g = t.add_mutually_exclusive_group()
    g.add_argument("--layer", help="use this layer of the AnnData instead of .X")
    g.add_argument("--use-raw", action="store_true", help="use .raw (the default when .X looks scaled and .raw exists, as in pbmc68k)")
    t.add_argument("--paul15-path", help="local copy of paul15 (.h5ad or .h5ad.gz) instead of downloading")
    t.add_argument("--backbone", default=default("backbone"), choices=sorted(BACKBONES),
                   help="denoising network (" + _choices(BACKBONES) + ")")
    t.add_argument("--space", default=default("space"), choices=list(SPACES),
                   help="diffuse in the autoencoder's latent space or directly on the gene vector")
    t.add_argument("--split", type=_split_arg, default=default("split"), metavar="TRAIN,VAL,TEST",
                   help="fractions of cells for training, validation (the control row) and test; TEST may be 0, "
                        "then evaluation uses half the validation cells as the held-out set")
    t.add_argument("--n-top-genes", type=int, default=2000, help="highly variable genes kept when there are > 3000 genes")
    t.add_argument("--seed", type=int, default=0, help="seed of the split and of training")
    t.add_argument("--ae-epochs", type=int, default=argparse.SUPPRESS, help=f"autoencoder epochs (default {default('ae_epochs')})")
    t.add_argument("--diffusion-iters", type=int, default=argparse.SUPPRESS,
                   help=f"denoiser training steps (default {default('diffusion_iters'):,})")
    t.add_argument("--classifier-iters", type=int, default=argparse.SUPPRESS, help=f"steps per classifier (default {default('classifier_iters'):,})")
    t.add_argument("--latent-dim", type=int, default=argparse.SUPPRESS, help=f"size of the latent code (default {default('latent_dim')})")
    t.add_argument("--exclude", action="append", metavar="COL=V[,COL2=V2]",
                   help="keep a combination out of training (its cells go to the test set), e.g. "
                        "paul15_clusters=7MEP,phase=G2M to test generating an unseen combination; repeatable")
    t.add_argument("--config", help="JSON file or string of further TrainConfig options")
    t.add_argument("--threads", type=_threads_arg, help="torch threads (default: all cores; training is the one job)")
    t.add_argument("--restart", action="store_true", help="ignore any interrupted run in --out and start over")
    t.add_argument("--progress-file", help="keep a JSON file with each stage's step/total/loss (for front ends)")
    t.set_defaults(func=cmd_train, _argv=None)

    def sampling(sp, guidance_default="free"):
        sp.add_argument("--guidance", default=guidance_default, choices=sorted(GUIDANCE),
                        help=_choices(GUIDANCE))
        sp.add_argument("--sampler", default="ddim", choices=sorted(SAMPLERS), help=_choices(SAMPLERS))
        sp.add_argument("--steps", type=int, default=50, help="denoising steps (ddpm uses up to 1000)")
        sp.add_argument("--seed", type=int, default=0, help="same seed, same cells")
        _add_threads(sp)

    gen = sub.add_parser("generate", help="generate cells for a combination of conditions",
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
    sampling(gen)
    gen.add_argument("--out", required=True, help="output .h5ad (X log-normalized, layers['counts'] for count models)")
    gen.set_defaults(func=cmd_generate)

    tr = sub.add_parser("trajectory", help="a continuous path between two cell states (Gradient Interpolation)",
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
    sampling(tr, guidance_default="classifier")
    tr.add_argument("--out", required=True, help="output .h5ad (obs['lambda'] per cell)")
    tr.set_defaults(func=cmd_trajectory)

    ev = sub.add_parser("evaluate", help="compare generated cells with the held-out real test cells",
                        description="MMD², energy distance, random-forest AUROC, Spearman of gene means, zeros, "
                                    "label (and phase) fidelity, globally and per label, with a real-vs-real control row.",
                        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ev.add_argument("--checkpoint", required=True)
    ev.add_argument("--generated", required=True, help=".h5ad from scdiff generate")
    ev.add_argument("--data", help="where the training data is, if not where the checkpoint recorded it")
    ev.add_argument("--label-key", help="obs column to compare per label (default: the first condition)")
    ev.add_argument("--seed", type=int, default=0)
    _add_threads(ev)
    ev.add_argument("--out", help="write the report as JSON")
    ev.set_defaults(func=cmd_evaluate)

    inf = sub.add_parser("info", help="describe a checkpoint")
    inf.add_argument("checkpoint")
    inf.set_defaults(func=cmd_info)
    return p


def main(argv: list[str] | None = None) -> int:
    from .errors import ScdiffError

    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 0
    if args.command == "train":
        args._argv = None if argv is None else "scdiff " + " ".join(shlex.quote(x) for x in argv)
    if args.command != "train" and getattr(args, "threads", None):
        import torch

        torch.set_num_threads(args.threads)
    try:
        return args.func(args)
    except (ScdiffError, _UsageError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
