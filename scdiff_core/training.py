"""Fitting a model, as a pipeline of named stages:

split → autoencoder → diffusion space → denoiser → classifiers → reference map → checkpoint.

Each stage is resumable (:mod:`.resume`): a run that is killed goes on where it stopped when the
same command is run again. The finished checkpoint is written atomically by
:meth:`SCDiffModel.save`; the state folder is removed afterwards.
"""
from __future__ import annotations

import copy
import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from . import __version__
from .autoencoder import Autoencoder, AutoencoderLoss, refit_decoder
from .backbones import BACKBONES, build_backbone
from .cells import CellRows, MemoryRows, StoreRows
from .data import PreparedData
from .data.split import split_with_exclusions
from .distributed import SINGLE, Dist
from .diffusion import GaussianDiffusion
from .embedding import fit_pca, fit_umap, pca_transform
from .errors import ScdiffError
from .guidance import NoiseClassifier
from .model import SCDiffModel
from .resume import StageProgress, TrainState, run_stage, set_lr
from .space import DiffusionSpace
from .train_config import TrainConfig

__all__ = ["TrainConfig", "StageProgress", "train"]

REFERENCE_MAX_CELLS = 50_000
"""Training cells in the stored reference map (PCA, UMAP, labels); a seeded sample above it."""
CALIBRATION_MAX_CELLS = 20_000
"""Training and validation cells the guidance calibration reads; a seeded sample above it."""


@dataclass
class _Run:
    """What every stage reads: the configuration, the training tensors and the shared RNG."""

    cfg: TrainConfig
    prep: PreparedData
    state: TrainState
    gen: torch.Generator
    progress: StageProgress | None
    train: CellRows               # training cells: log-normalized X, counts and library (in memory or on disk)
    val: CellRows                 # validation cells
    codes: torch.Tensor           # (N, K) condition codes of the training cells
    n_classes: list[int]
    dist: Dist = SINGLE           # this process's rank, world size and device

    @property
    def counts(self) -> bool:
        return self.train.counts


# ---------------------------------------------------------------------- stage 1: autoencoder
def _reuse_autoencoder(run: _Run, split: dict) -> tuple[Autoencoder, DiffusionSpace, dict]:
    cfg, prep = run.cfg, run.prep
    src = SCDiffModel.load(cfg.autoencoder_from)
    if src.autoencoder is None or src.genes != list(prep.genes) or src.config["split"] != split:
        raise ScdiffError(f"autoencoder_from={cfg.autoencoder_from!r} must be a latent-space checkpoint trained "
                          f"on the same genes with the same split (same data, conditions and seed).")
    summary = dict(src.config["training"]["autoencoder"], reused_from=str(cfg.autoencoder_from))
    return src.autoencoder, src.diffusion_space, summary


def _train_autoencoder(run: _Run) -> tuple[Autoencoder, dict]:
    """Fit the encoder and the likelihood decoder by maximum likelihood on training cells."""
    cfg, gen = run.cfg, run.gen
    lik = cfg.likelihood or ("nb" if run.counts else "hurdle")
    if lik in ("nb", "zinb") and not run.counts:
        raise ScdiffError(f"likelihood {lik!r} needs raw counts, but this data is log-normalized; "
                          f"use 'hurdle' (the default for log-normalized data).")
    hidden, latent = cfg.ae_hidden, cfg.latent_dim
    if cfg.encoder_init:  # the pretrained encoder fixes the widths and the code size
        from .encoder_init import pretrained_shape

        hidden, latent = pretrained_shape(cfg.encoder_init)
    ae = Autoencoder(len(run.prep.genes), latent, hidden, lik, cfg.ae_dropout, variational=cfg.ae_kl_weight > 0)
    init = None
    if cfg.encoder_init:
        from .encoder_init import init_encoder

        init = init_encoder(ae, cfg.encoder_init, run.prep.genes)
    if not ae.is_count_model:
        ae.floor.copy_(torch.from_numpy(run.train.positive_floor()))
    dist, dev = run.dist, run.dist.device
    objective = AutoencoderLoss(ae, cfg.ae_kl_weight, cfg.ae_latent_noise).to(dev)
    model = dist.wrap(objective)
    opt = torch.optim.AdamW(ae.parameters(), lr=cfg.ae_lr, weight_decay=1e-4)
    n = run.train.n
    batch = cfg.ae_batch * dist.world  # the global batch; each rank takes its slice
    per_epoch = max(1, int(np.ceil(n / batch)))
    iters = cfg.ae_epochs * per_epoch
    perm: dict[int, torch.Tensor] = {}

    def step(it):
        ep, b = divmod(it, per_epoch)
        if ep not in perm:
            perm.clear()
            perm[ep] = torch.randperm(n, generator=gen)
        g = perm[ep][b * batch:(b + 1) * batch]
        if dist.active and len(g) < 2 * dist.world:  # a short last batch still gives every rank two cells
            g = torch.cat([g, perm[ep][:2 * dist.world - len(g)]])
        eps = torch.randn((len(g), ae.latent_dim), generator=gen) if objective.needs_noise else None
        idx = dist.shard(g)
        # the learning rate is a pure function of the step, so a resumed run follows the same schedule
        set_lr(opt, cfg.ae_lr * (1.0 if it < 0.7 * iters else 0.2))
        model.train()
        b = run.train.rows(idx)
        lib = b.library.to(dev) if run.counts else None
        target = b.counts if run.counts else b.X
        loss = model(b.X.to(dev), target.to(dev), lib, None if eps is None else dist.shard(eps).to(dev))
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss.item()

    # save on epoch boundaries: the epoch's shuffle is drawn at its first batch
    every = per_epoch * max(10, int(np.ceil(cfg.save_every / per_epoch)))
    hist = run_stage("autoencoder", iters, step, run.state, {"ae": ae}, opt, gen, every, run.progress,
                     log_every=per_epoch)
    ae.cpu().eval()

    def val_nll() -> float:
        if not run.val.n:
            return float("nan")
        with torch.no_grad():
            nll = [ae.nll(ae.decode(ae.encode(b.X), b.library), b.counts if run.counts else b.X, b.library)
                   for b in run.val.chunks()]
        return float(torch.cat(nll).mean())

    before = val_nll()
    # per-gene noise and levels re-fitted in eval mode, the network frozen (autoencoder.refit_decoder says why)
    refit = refit_decoder(ae, run.train, cfg.ae_decoder_refit, seed=cfg.seed)
    refit["val_nll_before"] = before
    return ae, {"loss_curve": hist, "final_train_nll": hist[-1][1], "val_nll": val_nll(), "iterations": iters,
                "encoder_init": init, "decoder_refit": refit}


def _fit_space(run: _Run, split: dict) -> tuple[DiffusionSpace, dict]:
    """Stage 1 + 2: the autoencoder (trained or reused) and the standardised diffusion space."""
    cfg = run.cfg
    if cfg.space == "latent" and cfg.autoencoder_from:
        _, space, summary = _reuse_autoencoder(run, split)
        return space, summary
    if cfg.space == "latent":
        ae, summary = _train_autoencoder(run)
        with torch.no_grad():
            z = torch.cat([ae.encode(b.X) for b in run.train.chunks()]).numpy()
        lib = run.train.library.numpy() if run.counts else None
        return DiffusionSpace.from_codes(z, lib, ae), summary
    if isinstance(run.train, StoreRows):
        raise ScdiffError("--space gene diffuses the whole expression matrix, so it needs the data in memory; "
                          "use --space latent for data read from disk in chunks, or --data-mode memory.")
    return DiffusionSpace.fit("gene", run.train.X.numpy()), {}


def _encode_all(space: DiffusionSpace, cells: CellRows) -> torch.Tensor:
    """(N, D) standardised diffusion vectors of all cells, encoded chunk by chunk."""
    return torch.from_numpy(np.concatenate([
        space.encode(b.X.numpy(), b.library.numpy() if b.library is not None else None)
        for b in cells.chunks()]))


# ---------------------------------------------------------------------- stage 3: denoiser
def _train_denoiser(run: _Run, V: torch.Tensor) -> tuple[torch.nn.Module, dict]:
    """ε-prediction with per-column condition dropout (classifier-free guidance); EMA weights kept."""
    cfg, gen = run.cfg, run.gen
    diffusion = GaussianDiffusion.from_config(cfg.schedule, cfg.timesteps)
    hp = {**BACKBONES[cfg.backbone].hparams_for(cfg.space), **cfg.backbone_hparams}
    dist, dev = run.dist, run.dist.device
    den = build_backbone(cfg.backbone, V.shape[1], run.n_classes, **hp).to(dev)
    model = dist.wrap(den)  # rank 0's initial weights on every rank, before the EMA copies them
    ema = copy.deepcopy(den)
    for p in ema.parameters():
        p.requires_grad_(False)
    opt = torch.optim.AdamW(den.parameters(), lr=cfg.diffusion_lr, weight_decay=0.0)
    warm = 500
    null = torch.tensor(run.n_classes, dtype=torch.long)
    batch = cfg.diffusion_batch * dist.world  # the global batch; each rank takes its slice

    def lr_at(i: int) -> float:  # linear warm-up, then cosine decay to 10 %
        return cfg.diffusion_lr * min(1.0, (i + 1) / warm) * (
            0.1 + 0.9 * 0.5 * (1 + np.cos(np.pi * min(1.0, i / cfg.diffusion_iters))))

    def step(it):
        idx = torch.randint(0, V.shape[0], (batch,), generator=gen)
        c = run.codes[idx].clone()
        if c.shape[1]:
            drop = torch.rand(c.shape, generator=gen) < cfg.p_uncond
            c = torch.where(drop, null.expand_as(c), c)
        t = torch.randint(0, diffusion.num_timesteps, (batch,), generator=gen)
        noise = torch.randn((batch, V.shape[1]), generator=gen)
        idx, c, t, noise = (dist.shard(x) for x in (idx, c, t, noise))
        set_lr(opt, lr_at(it))
        model.train()
        loss = diffusion.training_loss(model, V[idx].to(dev), c.to(dev), t=t.to(dev), noise=noise.to(dev))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(den.parameters(), 1.0)
        opt.step()
        with torch.no_grad():
            d = min(cfg.ema_decay, (1 + it) / (10 + it))
            for pe, p in zip(ema.parameters(), den.parameters()):
                pe.mul_(d).add_(p.detach(), alpha=1 - d)
        return loss.item()

    t0 = time.time()
    hist = run_stage("diffusion", cfg.diffusion_iters, step, run.state, {"den": den, "ema": ema}, opt, gen,
                     cfg.save_every, run.progress, log_every=100)
    return ema.cpu(), {"loss_curve": hist, "iterations": cfg.diffusion_iters, "seconds_this_run": time.time() - t0}


# ---------------------------------------------------------------------- stage 4: classifiers
def _train_classifier(run: _Run, V: torch.Tensor, k: int, col: str) -> tuple[NoiseClassifier, dict]:
    """p(y_k | x_t, t) on noised training vectors at uniformly drawn timesteps."""
    cfg, gen = run.cfg, run.gen
    diffusion = GaussianDiffusion.from_config(cfg.schedule, cfg.timesteps)
    dist, dev = run.dist, run.dist.device
    clf = NoiseClassifier(V.shape[1], run.n_classes[k], cfg.classifier_hidden).to(dev)
    model = dist.wrap(clf)
    opt = torch.optim.AdamW(clf.parameters(), lr=cfg.classifier_lr, weight_decay=1e-4)
    y_all = run.codes[:, k]
    batch = cfg.classifier_batch * dist.world  # the global batch; each rank takes its slice

    def step(it):
        idx = torch.randint(0, V.shape[0], (batch,), generator=gen)
        t = torch.randint(0, diffusion.num_timesteps, (batch,), generator=gen)
        noise = torch.randn((batch, V.shape[1]), generator=gen)
        idx, t, noise = dist.shard(idx), dist.shard(t), dist.shard(noise)
        x_t = diffusion.q_sample(V[idx], t, noise)
        model.train()
        loss = torch.nn.functional.cross_entropy(model(x_t.to(dev), t.to(dev)), y_all[idx].to(dev))
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss.item()

    hist = run_stage(f"classifier_{col}", cfg.classifier_iters, step, run.state, {"clf": clf}, opt, gen,
                     cfg.save_every, run.progress, log_every=100)
    clf.cpu().eval()
    return clf, {"loss_curve": hist, "iterations": cfg.classifier_iters}


# ---------------------------------------------------------------------- stage 5: reference map
def _fit_reference(run: _Run, V: torch.Tensor) -> dict[str, np.ndarray]:
    """PCA (training cells only) and UMAP of the training cells, stored for plotting."""
    if run.progress is not None:
        run.progress("reference", 0, 1, {})
    rows = run.train.sample(REFERENCE_MAX_CELLS, run.cfg.seed)  # all training cells up to the cap
    Xn = run.train.rows(rows).X.numpy()
    ref = fit_pca(Xn, 50, run.cfg.seed)
    ref["pcs"] = pca_transform(Xn, ref["pca_mean"], ref["pca_components"])
    ref["umap"] = fit_umap(ref["pcs"], seed=run.cfg.seed)
    if run.cfg.space == "latent":
        ref["space"] = V[rows].numpy()
    for k, col in enumerate(run.prep.conditions):
        ref[f"label_{col}"] = run.codes[rows, k].numpy().astype(np.int64)
    if len(rows) < run.train.n:  # a sample: which training cells it holds (SCDiffModel.reference_ids)
        ref["train_rows"] = rows.astype(np.int64)
    if run.progress is not None:
        run.progress("reference", 1, 1, {})
    return ref


# ---------------------------------------------------------------------- the pipeline
def _start(prep: PreparedData, out: Path, cfg: TrainConfig, split: dict, progress, resume: bool,
           dist: Dist) -> _Run:
    key = [cfg.to_dict(), prep.genes, prep.preprocessing, split]
    if dist.active:  # a state left by another world size took other batches: not resumable
        key.append({"world_size": dist.world})
    fp = hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()
    state = TrainState(out, fp, resume, dist)
    dist.barrier()  # rank 0 has checked --out and kept or cleared the state the others read
    gen = torch.Generator().manual_seed(cfg.seed)  # the same on every rank: the same global batches
    # parameter initialisation (DDP gives every rank rank 0's) and dropout, which differs per rank
    torch.manual_seed(cfg.seed + dist.rank)
    counts = prep.kind == "counts"
    store = getattr(prep, "store", None)  # chunked preparation: the matrix stays on disk
    if store is not None:
        names = prep.adata.obs_names
        parts = [StoreRows(store, names.get_indexer(split[s])) for s in ("train", "val")]
    else:
        parts = [MemoryRows.from_adata(prep.adata[split[s]], counts) for s in ("train", "val")]
    obs = prep.adata.obs.loc[split["train"]]
    codes = torch.stack([torch.as_tensor(np.asarray(
        obs[c].astype(str).map({v: i for i, v in enumerate(prep.vocab[c])})), dtype=torch.long)
        for c in prep.conditions], 1)  # (N, K)
    return _Run(cfg, prep, state, gen, progress if dist.is_main else None, *parts, codes,
                [len(prep.vocab[c]) for c in prep.conditions], dist)


# ---------------------------------------------------------------------- stage 6: guidance defaults
def _calibrate(run: _Run, model: SCDiffModel, split: dict) -> dict:
    """Per-column guidance defaults matched to the validation cells' fidelity (calibration.py)."""
    import anndata as ad
    import pandas as pd

    from .calibration import calibrate_guidance

    obs = run.prep.adata.obs[list(run.prep.conditions)]
    var = pd.DataFrame(index=pd.Index(list(run.prep.genes)))
    cells = {}
    for s, part in (("train", run.train), ("val", run.val)):  # all cells up to the cap, as for the map
        rows = part.sample(CALIBRATION_MAX_CELLS, run.cfg.seed)
        cells[s] = ad.AnnData(part.rows(rows).X.numpy(), obs=obs.loc[np.asarray(split[s])[rows]].copy(), var=var)
    prog = None if run.progress is None else (lambda i, n: run.progress("calibration", i, n, {}))
    return calibrate_guidance(model, cells["train"], cells["val"], modes=tuple(run.cfg.calibration_modes),
                              seed=run.cfg.seed, progress=prog)


def _config(run: _Run, split: dict, space: DiffusionSpace, den, classifiers, summary: dict, command) -> dict:
    cfg, prep = run.cfg, run.prep
    n_combo = prep.adata.obs.loc[split["train"], prep.conditions].astype(str).value_counts()
    combos = sorted(tuple(c) for c in n_combo.index)
    config = {
        "scdiff_version": __version__, "command": command or "", "conditions": list(prep.conditions),
        "vocab": prep.vocab, "counts": prep.counts_per_value, "combinations": [list(c) for c in combos],
        "combination_counts": [[*c, int(n_combo[c])] for c in combos],
        "excluded_combinations": list(cfg.exclude), "genes": list(prep.genes),
        "data": {"kind": prep.kind, "source": prep.preprocessing.get("source"), "preprocessing": prep.preprocessing},
        "split": split, "space": cfg.space, "space_dim": space.dim,
        "backbone": {"name": cfg.backbone, "hparams": den.hparams,
                     "parameters": sum(p.numel() for p in den.parameters())},
        "diffusion": {"schedule": cfg.schedule, "timesteps": cfg.timesteps, "prediction": "epsilon",
                      "ema_decay": cfg.ema_decay, "p_uncond": cfg.p_uncond},
        "classifiers": {c: m.hparams() for c, m in classifiers.items()},
        "guidance_defaults": {"free": cfg.free_scale, "classifier": cfg.classifier_scale,
                              "trajectory_classifier": cfg.trajectory_classifier_scale,
                              "trajectory_free": cfg.trajectory_free_scale, "classifier_t_max": None},
        "train_config": cfg.to_dict(), "training": summary,
    }
    if space.autoencoder is not None:
        config["autoencoder"] = space.autoencoder.hparams()
    return config


def train(prep: PreparedData, out: str | Path, cfg: TrainConfig | None = None, *,
          progress: StageProgress | None = None, resume: bool = True, command: str | None = None,
          dist: Dist = SINGLE) -> SCDiffModel | None:
    """Train a model on prepared data and write the checkpoint folder ``out``.

    Parameters
    ----------
    prep
        Output of :func:`scdiff_core.data.prepare`.
    out
        Checkpoint folder (created; replaced atomically at the end).
    cfg
        Hyper-parameters; defaults suit a few thousand cells on 2 CPU cores.
    progress
        ``progress(stage, step, total, info)``; stages are ``autoencoder``, ``diffusion``,
        ``classifier_<column>``, ``reference``, ``calibration``.
    resume
        Continue from ``<out>/.train_state`` if it was left by the same command.
    command
        The command line that produced the run, recorded in config.json.
    dist
        This process's place in a distributed run (:class:`~scdiff_core.distributed.Dist`, process
        group initialised): every rank trains its share of each batch; rank 0 alone reports progress,
        fits the reference map, calibrates and writes; the other ranks return None after the classifiers.
    """
    cfg = (cfg or TrainConfig()).validate()
    if cfg.threads:
        torch.set_num_threads(int(cfg.threads))
    t_start = time.time()
    out = Path(out)
    if dist.is_main:
        out.mkdir(parents=True, exist_ok=True)
    split = split_with_exclusions(prep, cfg)
    run = _start(prep, out, cfg, split, progress, resume, dist)
    summary: dict = {}
    space, ae_summary = _fit_space(run, split)
    if ae_summary:
        summary["autoencoder"] = ae_summary
    V = _encode_all(space, run.train)  # (N, D) standardised diffusion data
    den, summary["diffusion"] = _train_denoiser(run, V)
    classifiers = {}
    for k, col in enumerate(prep.conditions):
        classifiers[col], summary[f"classifier_{col}"] = _train_classifier(run, V, k, col)
    if not dist.is_main:
        return None
    if dist.active:
        summary["distributed"] = {"world_size": dist.world, "device": dist.device.type}
    ref = _fit_reference(run, V)
    summary["seconds_total"] = time.time() - t_start
    config = _config(run, split, space, den, classifiers, summary, command)
    model = SCDiffModel(config, space.autoencoder, den, classifiers, space.stats, ref)
    if cfg.calibrate and cfg.split[1] > 0:
        model.config["guidance_defaults"]["calibrated"] = _calibrate(run, model, split)
    model.save(out)
    run.state.remove()
    return model
