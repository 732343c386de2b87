"""``scdiff train``: fit a model on an .h5ad file or a built-in dataset and write a checkpoint."""
from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path

from .. import validate as V
from .args import UsageError, count_arg, kv_pairs, modes_arg, seed_arg, split_arg, threads_arg

HELP = "train a model on an .h5ad file or a built-in dataset"


def add_parser(sub) -> None:
    from ..backbones import BACKBONES
    from ..distributed import DEVICES
    from ..space import SPACES
    from ..train_config import INT_RANGES, default
    from .args import choices_help

    t = sub.add_parser("train", help=HELP,
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
    g.add_argument("--use-raw", action="store_true",
                   help="use .raw (the default when .X looks scaled and .raw exists, as in pbmc68k)")
    t.add_argument("--paul15-path", help="local copy of paul15 (.h5ad or .h5ad.gz) instead of downloading")
    t.add_argument("--backbone", default=default("backbone"), choices=sorted(BACKBONES),
                   help="denoising network (" + choices_help(BACKBONES) + ")")
    t.add_argument("--per-label", action="store_true",
                   help="one denoiser per value of the first condition column (as scRDiT trains one model per cell "
                        "type), plus a shared one for 'any' and classifier-free guidance")
    t.add_argument("--space", default=default("space"), choices=list(SPACES),
                   help="diffuse in the autoencoder's latent space or directly on the gene vector")
    t.add_argument("--split", type=split_arg, default=default("split"), metavar="TRAIN,VAL,TEST",
                   help="fractions of cells for training, validation (the control row) and test; TEST may be 0, "
                        "then evaluation uses half the validation cells as the held-out set")
    t.add_argument("--data-mode", choices=("auto", "memory", "chunked"), default="auto",
                   help="memory: load the data; chunked: read an uncompressed .h5ad from disk in chunks (sparse, "
                        "memory roughly flat in the number of cells; latent space only); auto: chunked when the "
                        "prepared matrix would pass 2 GiB")
    t.add_argument("--n-top-genes", type=count_arg("--n-top-genes", 1, 100_000), default=2000,
                   help="highly variable genes kept when there are > 3000 genes")
    t.add_argument("--seed", type=seed_arg, default=0, help="seed of the split and of training")
    for flag, name, what in (("--ae-epochs", "ae_epochs", "autoencoder epochs"),
                             ("--diffusion-iters", "diffusion_iters", "denoiser training steps"),
                             ("--classifier-iters", "classifier_iters", "steps per classifier"),
                             ("--latent-dim", "latent_dim", "size of the latent code")):
        lo, hi = INT_RANGES[name]
        t.add_argument(flag, type=count_arg(flag, lo, hi), default=argparse.SUPPRESS,
                       help=f"{what}, {lo:,} to {hi:,} (default {default(name):,})")
    t.add_argument("--exclude", action="append", metavar="COL=V[,COL2=V2]",
                   help="keep a combination out of training (its cells go to the test set), e.g. "
                        "paul15_clusters=7MEP,phase=G2M to test generating an unseen combination; repeatable")
    t.add_argument("--calibrate", type=modes_arg("--calibrate", allow_none=True), default=argparse.SUPPRESS,
                   metavar="MODES",
                   help="guidance modes whose per-column default strengths are calibrated on validation cells when "
                        "training ends (free, chained, classifier, comma-separated; default all): each mode is a sweep "
                        "of generations, which takes long for gene-space transformers on a CPU; 'none' skips it and "
                        "keeps the single default strengths (`scdiff calibrate` can do it later)")
    t.add_argument("--encoder-init", metavar="PATH",
                   help="start the encoder from a pretrained one: an scdiff checkpoint folder, or a foundation "
                        "model's encoder converted by `scdiff convert-encoder` (genes aligned by name)")
    t.add_argument("--config", help="JSON object, or a file holding one, of further TrainConfig options "
                                    '(e.g. \'{"latent_dim": 32}\')')
    t.add_argument("--threads", type=threads_arg, help="torch threads per process (default: all cores, shared "
                                                       "among the processes of a distributed run)")
    t.add_argument("--device", default="auto", choices=list(DEVICES),
                   help="auto: CUDA when torch sees a GPU (one per process), else the CPU")
    t.add_argument("--devices", type=count_arg("--devices", 1, 1024), default=1,
                   help="train with this many processes on this machine (DistributedDataParallel; one per GPU, "
                        "gloo on the CPU) by starting torchrun; for several machines run torchrun yourself, "
                        "see docs/scaling.md")
    t.add_argument("--restart", action="store_true", help="ignore any interrupted run in --out and start over")
    t.add_argument("--progress-file", help="keep a JSON file with each stage's step/total/loss (for front ends)")
    t.set_defaults(func=run, _argv=None)


def _config(a):
    """TrainConfig from the options and ``--config`` (checked before any data is read)."""
    from ..training import TrainConfig

    cfg = TrainConfig(seed=a.seed, backbone=a.backbone, space=a.space, threads=a.threads, split=tuple(a.split))
    if a.config:
        text = a.config.strip()
        if text.startswith(("{", "[")) or not Path(a.config).exists():
            overrides = V.parse_json(a.config, "--config")
        else:
            overrides = V.read_json(a.config, f"--config file {a.config}")
        V.json_object(overrides, "--config")
        cfg = TrainConfig.from_dict({**cfg.to_dict(), **overrides})
    if a.per_label:
        cfg.backbone_hparams = {**cfg.backbone_hparams, "per_label": True}
        cfg.validate()
    if a.exclude:
        cfg.exclude = [kv_pairs(x.split(","), "--exclude") for x in a.exclude]
    if a.encoder_init:
        cfg.encoder_init = a.encoder_init
    modes = getattr(a, "calibrate", None)
    if modes is not None:
        cfg.calibrate = bool(modes)
        if modes:
            cfg.calibration_modes = modes
    for name in ("ae_epochs", "diffusion_iters", "classifier_iters", "latent_dim"):
        if getattr(a, name, None) is not None:
            setattr(cfg, name, getattr(a, name))
    return cfg


class _Reporter:
    """Training progress as tqdm bars, and (``--progress-file``) as a JSON file front ends read."""

    def __init__(self, progress_file: str | None):
        self.file = progress_file
        self.bars: dict = {}
        self.state = {"stages": {}, "current": None, "done": False, "error": None}
        self._last = 0.0

    def write(self, force: bool = False) -> None:
        if self.file and (force or time.time() - self._last > 0.5):
            from ..checkpoint import write_json_atomic

            write_json_atomic(self.file, self.state)
            self._last = time.time()

    def __call__(self, stage: str, step: int, total: int, info: dict) -> None:
        from tqdm.auto import tqdm

        self.state["stages"][stage] = {"step": step, "total": total,
                                       **({"loss": info["loss"]} if "loss" in info else {})}
        self.state["current"] = stage
        self.write(step >= total)
        if stage not in self.bars:
            self.bars[stage] = tqdm(total=total, desc=stage, unit="it")
        b = self.bars[stage]
        b.n = step
        if "loss" in info:
            b.set_postfix(loss=f"{info['loss']:.4g}", refresh=False)
        b.refresh()
        if step >= total:
            b.close()


def _argv(a) -> list[str]:
    """The command line after ``scdiff`` (``train …``), as given."""
    return sys.argv[1:] if a._argv is None else shlex.split(a._argv)[1:]


def _launch(a, dist) -> int:
    """``--devices N``: start N copies of this command under torchrun (rendezvous on this machine)."""
    import subprocess

    import torch

    if dist.device.type == "cuda" and a.devices > torch.cuda.device_count():
        raise UsageError(f"--devices {a.devices}: torch sees {torch.cuda.device_count()} GPU(s) here; ask for at "
                         f"most that many, or use --device cpu.")
    argv, rest = _argv(a), []
    it = iter(argv)
    for x in it:  # drop --devices N: the copies are the N processes
        if x == "--devices":
            next(it, None)
        elif not x.startswith("--devices="):
            rest.append(x)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={a.devices}",
           "-m", "scdiff_core.cli", *rest]
    print(f"starting {a.devices} training processes ({'GPU' if dist.device.type == 'cuda' else 'CPU, gloo'}): "
          + " ".join(shlex.quote(x) for x in cmd), file=sys.stderr)
    return subprocess.call(cmd)


def run(a) -> int:
    from ..distributed import Dist
    from ..outdir import check_out_dir

    conds = [c.strip() for c in a.conditions.split(",") if c.strip()]
    if not conds:
        raise UsageError("--conditions needs at least one obs column, e.g. --conditions cell_type,phase.")
    cfg = _config(a).validate()
    dist = Dist.from_env(a.device)
    if dist.active and a.devices not in (1, dist.world):
        raise UsageError(f"--devices {a.devices} under torchrun, which started {dist.world} processes; leave "
                         f"--devices out (torchrun's --nproc-per-node and --nnodes set the processes).")
    if dist.is_main:
        check_out_dir(a.out)
        if a.progress_file:
            V.output_file(a.progress_file, "--progress-file")
    if a.devices > 1 and not dist.active:
        return _launch(a, dist)
    if dist.active and cfg.threads is None and dist.device.type == "cpu":
        import torch

        torch.set_num_threads(dist.default_threads())
    dist.init()
    try:
        rc = _train(a, cfg, conds, dist)
        # The other ranks are done after the classifiers, while rank 0 still fits the reference map
        # and writes. They wait here for it: a rank that tore its process group down while rank 0
        # was still connected was aborted by gloo ("terminate called without an active exception").
        dist.barrier()
        return rc
    finally:
        dist.close()


AUTO_CHUNKED_BYTES = 2 << 30
"""``--data-mode auto`` reads from disk when the prepared matrix (values + counts, float32) would pass 2 GiB."""


def _data_mode(a) -> str:
    """'memory' or 'chunked' for ``--data-mode`` (auto: by the size of the uncompressed .h5ad's matrix)."""
    if a.data_mode != "auto":
        return a.data_mode
    from ..data.backed import h5ad_size

    src = Path(a.data).expanduser()
    # only a regular file is opened here (a FIFO or a device would block): the in-memory path refuses the rest
    shape = h5ad_size(src) if src.suffix == ".h5ad" and src.is_file() else None
    if shape is None:  # a built-in name, a .gz, or not readable without loading: the in-memory path says why
        return "memory"
    cells, genes = shape
    return "chunked" if cells * min(genes, a.n_top_genes) * 8 > AUTO_CHUNKED_BYTES else "memory"


def _prepare(a, conds, dist, rep):
    """The prepared data: in memory, or (``chunked``) written once by rank 0 under ``--out``'s state folder."""
    from ..data import load_prepared

    mode = _data_mode(a)
    if mode == "memory":
        return load_prepared(a.data, conds, layer=a.layer, use_raw=True if a.use_raw else None,
                             paul15_path=a.paul15_path, n_top_genes=a.n_top_genes)
    from ..data.chunked import prepare_chunked
    from ..outdir import STATE_DIR
    from ..resume import DATA_DIR

    src = Path(a.data).expanduser()
    if not src.is_file():  # also a FIFO, a device or a folder: never opened
        raise UsageError(f"--data-mode chunked reads an .h5ad file from disk, and {a.data!r} is not a regular file"
                         + (" (a built-in dataset is small: leave --data-mode out)." if a.data in ("pbmc68k", "paul15")
                            else "; give the path of an uncompressed .h5ad."))
    if a.paul15_path:
        raise UsageError("--paul15-path is for --data paul15 in memory; with --data-mode chunked give the .h5ad as --data.")

    def prepare(progress):
        return prepare_chunked(a.data, conds, workdir=Path(a.out).expanduser().resolve() / STATE_DIR / DATA_DIR,
                               layer=a.layer, use_raw=True if a.use_raw else None, n_top_genes=a.n_top_genes,
                               progress=progress)

    if dist.is_main:
        print(f"reading {a.data} from disk in chunks (--data-mode chunked); the prepared matrix is kept in "
              f"{a.out}/{STATE_DIR}/{DATA_DIR} until training ends", file=sys.stderr)
        prep = prepare(rep)
    dist.barrier()  # rank 0 has written the prepared file; the other ranks open it
    return prep if dist.is_main else prepare(None)


def _train(a, cfg, conds, dist) -> int:
    from ..errors import ScdiffError
    from ..training import train

    rep = _Reporter(a.progress_file if dist.is_main else None)
    prep = _prepare(a, conds, dist, rep)
    if dist.is_main:
        print(f"data: {prep.adata.n_obs} cells × {len(prep.genes)} genes ({prep.kind}); conditions: "
              + "; ".join(f"{c} ({len(prep.vocab[c])} values)" for c in conds), file=sys.stderr)
    command = "scdiff " + " ".join(shlex.quote(x) for x in sys.argv[1:]) if a._argv is None else a._argv
    try:
        model = train(prep, a.out, cfg, progress=rep if dist.is_main else None, resume=not a.restart,
                      command=command, dist=dist)
    except Exception as e:
        rep.state["error"] = str(e) if isinstance(e, ScdiffError) else f"{type(e).__name__}: {e}"
        rep.write(True)
        raise
    if model is None:  # not rank 0: rank 0 writes the checkpoint
        return 0
    rep.state["done"] = True
    rep.write(True)
    print(f"saved {a.out} (trained in {model.config['training']['seconds_total'] / 60:.1f} min)")
    return 0
