"""Fitting a model: split → autoencoder → diffusion denoiser → noise-aware classifiers → reference map.

Each stage writes its state (weights, optimizer moments, RNG, step) to ``<out>/.train_state``
as safetensors + JSON every ``save_every`` steps, atomically, so a run that is killed resumes
where it stopped when the same command is run again. The finished checkpoint is written
atomically by :meth:`SCDiffModel.save`; the state folder is removed afterwards.
"""
from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from safetensors.torch import load_file

from . import __version__
from .autoencoder import Autoencoder
from .backbones import build_backbone
from .checkpoint import save_tensors_atomic, write_json_atomic
from .data import PreparedData, split_cells
from .diffusion import GaussianDiffusion
from .embedding import fit_pca, fit_umap, pca_transform
from .errors import ScdiffError
from .guidance import NoiseClassifier
from .model import SCDiffModel

StageProgress = Callable[[str, int, int, dict], None]


@dataclass
class TrainConfig:
    """Hyper-parameters of a training run (all recorded in the checkpoint)."""

    seed: int = 0
    split: tuple[float, float, float] = (0.6, 0.2, 0.2)
    # combinations kept out of training entirely (moved to the test set), e.g.
    # [{"paul15_clusters": "7MEP", "phase": "G2M"}] to test generation of unseen combinations
    exclude: list = field(default_factory=list)
    space: str = "latent"               # 'latent' (autoencoder) or 'gene'
    # autoencoder
    latent_dim: int = 16
    ae_hidden: tuple[int, ...] = (512, 256)
    likelihood: str | None = None       # None: 'nb' for counts, 'hurdle' for log-normalized data
    ae_epochs: int = 200
    ae_lr: float = 1e-3
    ae_batch: int = 128
    ae_dropout: float = 0.3
    ae_latent_noise: float = 0.05       # noise on the code while training: a smoother decoder
    ae_kl_weight: float = 0.0           # > 0: variational encoder with this weight on KL(q(z|x) ‖ N(0, I))
    autoencoder_from: str | None = None  # reuse the autoencoder of this checkpoint (same genes, same split)
    # diffusion
    backbone: str = "mlp"
    backbone_hparams: dict = field(default_factory=dict)  # e.g. {"widths": [256, 256, 128]} for the MLP
    schedule: str = "linear"
    timesteps: int = 1000
    diffusion_iters: int = 15000
    diffusion_lr: float = 1e-3
    diffusion_batch: int = 256
    ema_decay: float = 0.999
    p_uncond: float = 0.3               # per-column condition dropout (classifier-free guidance)
    # classifiers
    classifier_iters: int = 4000
    classifier_lr: float = 1e-3
    classifier_batch: int = 256
    classifier_hidden: tuple[int, ...] = (256, 256)
    # guidance defaults written into the checkpoint
    free_scale: float = 1.0
    classifier_scale: float = 2.0
    trajectory_classifier_scale: float = 4.0
    trajectory_free_scale: float = 1.0
    # bookkeeping
    save_every: int = 1000
    threads: int | None = None

    def validate(self) -> "TrainConfig":
        """Raise :class:`ScdiffError` with a clear message for an impossible setting."""
        from .autoencoder import LIKELIHOODS
        from .backbones import BACKBONES
        from .backbones import available  # noqa: F401  (registers the backbones)

        def bad(msg):
            raise ScdiffError(f"Invalid training option: {msg}")

        for name in ("latent_dim", "ae_epochs", "ae_batch", "timesteps", "diffusion_iters", "diffusion_batch",
                     "classifier_iters", "classifier_batch", "save_every"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                bad(f"{name} must be a positive whole number, got {v!r}.")
        if self.latent_dim < 2:
            bad("latent_dim must be at least 2.")
        if len(self.split) != 3 or min(self.split) <= 0 or abs(sum(self.split) - 1) > 1e-6:
            bad(f"split must be three positive fractions summing to 1 (train, validation, test), got {self.split}.")
        if not 0 <= self.p_uncond < 1:
            bad(f"p_uncond must be in [0, 1), got {self.p_uncond}.")
        if self.space not in ("latent", "gene"):
            bad(f"space must be 'latent' or 'gene', got {self.space!r}.")
        if self.schedule not in ("linear", "cosine"):
            bad(f"schedule must be 'linear' or 'cosine', got {self.schedule!r}.")
        if self.likelihood is not None and self.likelihood not in LIKELIHOODS:
            bad(f"likelihood must be one of {', '.join(LIKELIHOODS)}, got {self.likelihood!r}.")
        if self.backbone not in BACKBONES:
            bad(f"backbone must be one of {', '.join(sorted(BACKBONES))}, got {self.backbone!r}.")
        for name in ("ae_lr", "diffusion_lr", "classifier_lr"):
            if not getattr(self, name) > 0:
                bad(f"{name} must be positive.")
        return self

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in d.items()}

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ScdiffError(f"Unknown training option(s): {', '.join(sorted(unknown))}.")
        return cls(**{k: tuple(v) if isinstance(v, list) and k in ("split", "ae_hidden", "classifier_hidden") else v
                      for k, v in d.items()})


# ---------------------------------------------------------------------- resumable state
class _State:
    """Per-stage resumable state under ``<out>/.train_state`` (safetensors + JSON only)."""

    def __init__(self, out: Path, fingerprint: str, resume: bool):
        self.dir = out / ".train_state"
        if self.dir.exists():
            meta = self.dir / "fingerprint.json"
            same = meta.exists() and json.loads(meta.read_text()).get("fingerprint") == fingerprint
            if not resume or not same:
                shutil.rmtree(self.dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        write_json_atomic(self.dir / "fingerprint.json", {"fingerprint": fingerprint})

    def load(self, stage: str):
        meta, wts = self.dir / f"{stage}.json", self.dir / f"{stage}.safetensors"
        if meta.exists() and wts.exists():
            return json.loads(meta.read_text()), load_file(str(wts))
        return None, None

    def save(self, stage: str, meta: dict, tensors: dict) -> None:
        save_tensors_atomic(self.dir / f"{stage}.safetensors", tensors)
        write_json_atomic(self.dir / f"{stage}.json", meta)

    def remove(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


def _opt_tensors(opt: torch.optim.Optimizer, prefix: str) -> dict[str, torch.Tensor]:
    out = {}
    for i, st in opt.state_dict()["state"].items():
        for k, v in st.items():
            out[f"{prefix}.{i}.{k}"] = v if isinstance(v, torch.Tensor) else torch.tensor(v)
    return out


def _load_opt(opt: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], prefix: str) -> None:
    sd = opt.state_dict()
    state: dict[int, dict] = {}
    for k, v in tensors.items():
        if k.startswith(prefix + "."):
            _, i, name = k.rsplit(".", 2)
            state.setdefault(int(i), {})[name] = v
    sd["state"] = state
    opt.load_state_dict(sd)


def _prefixed(module: torch.nn.Module, prefix: str) -> dict[str, torch.Tensor]:
    return {f"{prefix}.{k}": v.detach().clone() for k, v in module.state_dict().items()}


def _unprefixed(tensors: dict, prefix: str) -> dict[str, torch.Tensor]:
    return {k[len(prefix) + 1:]: v for k, v in tensors.items() if k.startswith(prefix + ".")}


# ---------------------------------------------------------------------- training
def _loop(stage: str, n_iters: int, step_fn, state: _State, modules: dict[str, torch.nn.Module],
          opt: torch.optim.Optimizer, gen: torch.Generator, save_every: int,
          progress: StageProgress | None, log_every: int = 50) -> list[float]:
    """Run ``step_fn(it) -> loss`` for n_iters, saving resumable state every save_every steps."""
    meta, tens = state.load(stage)
    start, history = 0, []
    if meta is not None:
        for name, m in modules.items():
            m.load_state_dict(_unprefixed(tens, name))
        _load_opt(opt, tens, "opt")
        gen.set_state(tens["rng"])
        if "torch_rng" in tens:  # dropout draws from the global generator (older states lack it)
            torch.set_rng_state(tens["torch_rng"])
        start, history = int(meta["iter"]), list(meta["history"])
    running = []
    for it in range(start, n_iters):
        running.append(step_fn(it))
        logged = (it + 1) % log_every == 0 or it + 1 == n_iters
        if logged:
            history.append([it + 1, float(np.mean(running))])
            running = []
        # Save before reporting progress, so a run stopped from the progress callback (Ctrl-C in
        # the CLI, a closed app session) resumes from the step it last reported.
        if (it + 1) % save_every == 0 or it + 1 == n_iters:
            tensors = {k: v for name, m in modules.items() for k, v in _prefixed(m, name).items()}
            tensors.update(_opt_tensors(opt, "opt"))
            tensors["rng"] = gen.get_state()
            tensors["torch_rng"] = torch.get_rng_state()
            state.save(stage, {"iter": it + 1, "history": history}, tensors)
        if logged and progress is not None:
            progress(stage, it + 1, n_iters, {"loss": history[-1][1]})
    return history


def _set_lr(opt: torch.optim.Optimizer, lr: float) -> None:
    for g in opt.param_groups:
        g["lr"] = lr


def _split(prep: PreparedData, cfg: TrainConfig) -> dict[str, list[str]]:
    obs = prep.adata.obs
    strata = obs[prep.conditions].astype(str).agg("|".join, axis=1).to_numpy()
    split = split_cells(prep.adata.obs_names, strata, fractions=tuple(cfg.split), seed=cfg.seed)
    if not cfg.exclude:
        return split
    held = np.zeros(len(obs), dtype=bool)
    for combo in cfg.exclude:
        if not isinstance(combo, dict) or not combo:
            raise ScdiffError("exclude takes combinations like {'paul15_clusters': '7MEP', 'phase': 'G2M'}.")
        m = np.ones(len(obs), dtype=bool)
        for col, val in combo.items():
            if col not in prep.conditions:
                raise ScdiffError(f"Cannot exclude on {col!r}: it is not a condition ({', '.join(prep.conditions)}).")
            if str(val) not in prep.vocab[col]:
                raise ScdiffError(f"Cannot exclude {col}={val!r}: not a value of {col} ({', '.join(prep.vocab[col])}).")
            m &= obs[col].astype(str).to_numpy() == str(val)
        if not m.any():
            raise ScdiffError(f"No cells match the excluded combination {combo}.")
        held |= m
    out_ids = set(obs.index[held])
    moved = [c for c in split["train"] + split["val"] if c in out_ids]
    split = {"train": [c for c in split["train"] if c not in out_ids],
             "val": [c for c in split["val"] if c not in out_ids],
             "test": split["test"] + moved}
    for col in prep.conditions:  # every value must still be trainable
        left = set(obs.loc[split["train"], col].astype(str))
        lost = [v for v in prep.vocab[col] if v not in left]
        if lost:
            raise ScdiffError(f"Excluding {cfg.exclude} leaves no training cells with {col} = {', '.join(lost)}; "
                              f"exclude a combination, not a whole value.")
    return split


def train(prep: PreparedData, out: str | Path, cfg: TrainConfig | None = None, *,
          progress: StageProgress | None = None, resume: bool = True, command: str | None = None) -> SCDiffModel:
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
        ``classifier:<column>``, ``reference``.
    resume
        Continue from ``<out>/.train_state`` if it was left by the same command.
    command
        The command line that produced the run, recorded in config.json.
    """
    cfg = (cfg or TrainConfig()).validate()
    if cfg.threads:
        torch.set_num_threads(int(cfg.threads))
    t_start = time.time()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    split = _split(prep, cfg)
    ad_ = prep.adata
    fp = hashlib.sha256(json.dumps([cfg.to_dict(), prep.genes, prep.preprocessing, split], sort_keys=True,
                                   default=str).encode()).hexdigest()
    state = _State(out, fp, resume)
    gen = torch.Generator().manual_seed(cfg.seed)
    torch.manual_seed(cfg.seed)  # parameter initialisation

    tr = ad_[split["train"]]
    val = ad_[split["val"]]
    X_tr = torch.from_numpy(np.asarray(tr.X, dtype=np.float32))
    X_val = torch.from_numpy(np.asarray(val.X, dtype=np.float32))
    counts = prep.kind == "counts"
    C_tr = torch.from_numpy(np.asarray(tr.layers["counts"], dtype=np.float32)) if counts else None
    C_val = torch.from_numpy(np.asarray(val.layers["counts"], dtype=np.float32)) if counts else None
    codes = torch.stack([torch.as_tensor(np.asarray(
        tr.obs[c].astype(str).map({v: i for i, v in enumerate(prep.vocab[c])})), dtype=torch.long)
        for c in prep.conditions], 1)  # (N, K)
    n_classes = [len(prep.vocab[c]) for c in prep.conditions]
    summary: dict = {}

    # ---- 1. autoencoder ---------------------------------------------------------------
    ae = None
    stats: dict[str, np.ndarray] = {}
    if cfg.space == "latent" and cfg.autoencoder_from:
        src = SCDiffModel.load(cfg.autoencoder_from)
        if src.autoencoder is None or src.genes != list(prep.genes) or src.config["split"] != split:
            raise ScdiffError(f"autoencoder_from={cfg.autoencoder_from!r} must be a latent-space checkpoint trained "
                              f"on the same genes with the same split (same data, conditions and seed).")
        ae = src.autoencoder
        stats = {k: v for k, v in src.stats.items() if k.startswith(("latent_", "loglib_"))}
        summary["autoencoder"] = dict(src.config["training"]["autoencoder"], reused_from=str(cfg.autoencoder_from))
        with torch.no_grad():
            v_tr = src.to_space(X_tr.numpy(), C_tr.sum(1).numpy() if counts else None)
    elif cfg.space == "latent":
        lik = cfg.likelihood or ("nb" if counts else "hurdle")
        if lik in ("nb", "zinb") and not counts:
            raise ScdiffError(f"likelihood {lik!r} needs raw counts, but this data is log-normalized; "
                              f"use 'hurdle' (the default for log-normalized data).")
        ae = Autoencoder(len(prep.genes), cfg.latent_dim, cfg.ae_hidden, lik, cfg.ae_dropout,
                         variational=cfg.ae_kl_weight > 0)
        if not ae.is_count_model:
            Xn = X_tr.numpy()
            floor = np.where((Xn > 0).any(0), np.where(Xn > 0, Xn, np.inf).min(0), 0.0)
            ae.floor.copy_(torch.from_numpy(floor.astype(np.float32)))
        lib_tr = C_tr.sum(1) if counts else None
        opt = torch.optim.AdamW(ae.parameters(), lr=cfg.ae_lr, weight_decay=1e-4)
        n = X_tr.shape[0]
        per_epoch = max(1, int(np.ceil(n / cfg.ae_batch)))
        iters = cfg.ae_epochs * per_epoch
        # The learning rate is a pure function of the step, so a resumed run follows the same schedule.
        ae_lr = lambda i: cfg.ae_lr * (1.0 if i < 0.7 * iters else 0.2)  # noqa: E731
        perm_holder: dict[int, torch.Tensor] = {}

        def ae_step(it):
            ep, b = divmod(it, per_epoch)
            if ep not in perm_holder:
                perm_holder.clear()
                perm_holder[ep] = torch.randperm(n, generator=gen)
            idx = perm_holder[ep][b * cfg.ae_batch:(b + 1) * cfg.ae_batch]
            _set_lr(opt, ae_lr(it))
            ae.train()
            z, logvar = ae.encode_posterior(X_tr[idx])
            kl = 0.0
            if logvar is not None:  # reparameterised sample and KL to N(0, I) (Kingma & Welling eq. 10)
                kl = 0.5 * (z.pow(2) + logvar.exp() - 1 - logvar).sum(-1).mean()
                z = z + (0.5 * logvar).exp() * torch.randn(z.shape, generator=gen)
            elif cfg.ae_latent_noise > 0:
                z = z + cfg.ae_latent_noise * z.detach().std(0, keepdim=True) * torch.randn(z.shape, generator=gen)
            params = ae.decode(z, lib_tr[idx] if counts else None)
            loss = ae.nll(params, C_tr[idx] if counts else X_tr[idx]).mean() + cfg.ae_kl_weight * kl
            opt.zero_grad()
            loss.backward()
            opt.step()
            return loss.item()

        # Save on epoch boundaries: the epoch's shuffle is drawn at its first batch.
        ae_save = per_epoch * max(10, int(np.ceil(cfg.save_every / per_epoch)))
        hist = _loop("autoencoder", iters, ae_step, state, {"ae": ae}, opt, gen,
                     ae_save, progress, log_every=per_epoch)
        ae.eval()
        with torch.no_grad():
            val_nll = float(ae.nll(ae.decode(ae.encode(X_val), C_val.sum(1) if counts else None),
                                   C_val if counts else X_val).mean()) if len(X_val) else float("nan")
            z_tr = ae.encode(X_tr).numpy()
        summary["autoencoder"] = {"loss_curve": hist, "final_train_nll": hist[-1][1], "val_nll": val_nll,
                                  "iterations": iters}
        stats["latent_mean"] = z_tr.mean(0)
        stats["latent_std"] = z_tr.std(0) + 1e-6
        v_tr = (z_tr - stats["latent_mean"]) / stats["latent_std"]
        if counts:
            ll = np.log(lib_tr.numpy())
            stats["loglib_mean"] = np.array([ll.mean()])
            stats["loglib_std"] = np.array([ll.std() + 1e-6])
            stats["loglib_range"] = np.array([ll.min() - 0.5, ll.max() + 0.5])
            v_tr = np.concatenate([v_tr, ((ll - ll.mean()) / stats["loglib_std"])[:, None]], 1)
    else:
        Xn = X_tr.numpy()
        stats["gene_mean"] = Xn.mean(0)
        stats["gene_std"] = Xn.std(0) + 1e-3
        stats["gene_floor"] = np.where((Xn > 0).any(0), np.where(Xn > 0, Xn, np.inf).min(0), 0.0)
        v_tr = (Xn - stats["gene_mean"]) / stats["gene_std"]
    V = torch.from_numpy(v_tr.astype(np.float32))  # (N, D) standardised diffusion data
    D = V.shape[1]

    # ---- 2. diffusion denoiser with condition dropout (classifier-free guidance) --------
    diffusion = GaussianDiffusion.from_config(cfg.schedule, cfg.timesteps)
    hp = dict(build_backbone(cfg.backbone, D, n_classes).default_hparams)
    if cfg.backbone in ("dit", "crate") and cfg.space == "latent":
        hp["patch_size"] = 2  # a 16–64-d code: tokens of 2 coordinates
    hp.update(cfg.backbone_hparams)
    den = build_backbone(cfg.backbone, D, n_classes, **hp)
    ema = copy.deepcopy(den)
    for p in ema.parameters():
        p.requires_grad_(False)
    opt = torch.optim.AdamW(den.parameters(), lr=cfg.diffusion_lr, weight_decay=0.0)
    warm = 500

    def diff_lr(i: int) -> float:  # linear warm-up, then cosine decay to 10 %
        return cfg.diffusion_lr * min(1.0, (i + 1) / warm) * (
            0.1 + 0.9 * 0.5 * (1 + np.cos(np.pi * min(1.0, i / cfg.diffusion_iters))))
    null = torch.tensor(n_classes, dtype=torch.long)

    def diff_step(it):
        idx = torch.randint(0, V.shape[0], (cfg.diffusion_batch,), generator=gen)
        c = codes[idx].clone()
        if c.shape[1]:
            drop = torch.rand(c.shape, generator=gen) < cfg.p_uncond
            c = torch.where(drop, null.expand_as(c), c)
        _set_lr(opt, diff_lr(it))
        den.train()
        loss = diffusion.training_loss(den, V[idx], c, generator=gen)
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
    hist = _loop("diffusion", cfg.diffusion_iters, diff_step, state, {"den": den, "ema": ema}, opt, gen,
                 cfg.save_every, progress, log_every=100)
    summary["diffusion"] = {"loss_curve": hist, "iterations": cfg.diffusion_iters,
                            "seconds_this_run": time.time() - t0}

    # ---- 3. noise-aware classifiers, one per condition column ----------------------------
    classifiers: dict[str, NoiseClassifier] = {}
    for k, col in enumerate(prep.conditions):
        clf = NoiseClassifier(D, n_classes[k], cfg.classifier_hidden)
        opt = torch.optim.AdamW(clf.parameters(), lr=cfg.classifier_lr, weight_decay=1e-4)
        y_all = codes[:, k]

        def clf_step(it, clf=clf, opt=opt, y_all=y_all):
            idx = torch.randint(0, V.shape[0], (cfg.classifier_batch,), generator=gen)
            t = torch.randint(0, diffusion.num_timesteps, (len(idx),), generator=gen)
            x_t = diffusion.q_sample(V[idx], t, torch.randn(V[idx].shape, generator=gen))
            clf.train()
            loss = torch.nn.functional.cross_entropy(clf(x_t, t), y_all[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            return loss.item()

        hist = _loop(f"classifier_{col}", cfg.classifier_iters, clf_step, state, {"clf": clf}, opt, gen,
                     cfg.save_every, progress, log_every=100)
        clf.eval()
        classifiers[col] = clf
        summary[f"classifier_{col}"] = {"loss_curve": hist, "iterations": cfg.classifier_iters}

    # ---- 4. reference map for plotting ----------------------------------------------------
    if progress is not None:
        progress("reference", 0, 1, {})
    Xn = X_tr.numpy()
    ref = fit_pca(Xn, 50, cfg.seed)
    pcs = pca_transform(Xn, ref["pca_mean"], ref["pca_components"])
    ref["pcs"] = pcs
    ref["umap"] = fit_umap(pcs, seed=cfg.seed)
    if cfg.space == "latent":
        ref["space"] = V.numpy()
    for k, col in enumerate(prep.conditions):
        ref[f"label_{col}"] = codes[:, k].numpy().astype(np.int64)
    if progress is not None:
        progress("reference", 1, 1, {})

    combos = sorted({tuple(r) for r in tr.obs[prep.conditions].astype(str).itertuples(index=False)})
    summary["seconds_total"] = time.time() - t_start
    config = {
        "scdiff_version": __version__,
        "command": command or "",
        "conditions": list(prep.conditions),
        "vocab": prep.vocab,
        "counts": prep.counts_per_value,
        "combinations": [list(c) for c in combos],
        "excluded_combinations": list(cfg.exclude),
        "genes": list(prep.genes),
        "data": {"kind": prep.kind, "source": prep.preprocessing.get("source"), "preprocessing": prep.preprocessing},
        "split": split,
        "space": cfg.space,
        "space_dim": D,
        "backbone": {"name": cfg.backbone, "hparams": den.hparams,
                     "parameters": sum(p.numel() for p in den.parameters())},
        "diffusion": {"schedule": cfg.schedule, "timesteps": cfg.timesteps, "prediction": "epsilon",
                      "ema_decay": cfg.ema_decay, "p_uncond": cfg.p_uncond},
        "classifiers": {c: m.hparams() for c, m in classifiers.items()},
        "guidance_defaults": {"free": cfg.free_scale, "classifier": cfg.classifier_scale,
                              "trajectory_classifier": cfg.trajectory_classifier_scale,
                              "trajectory_free": cfg.trajectory_free_scale, "classifier_t_max": None},
        "train_config": cfg.to_dict(),
        "training": summary,
    }
    if ae is not None:
        config["autoencoder"] = ae.hparams()
    model = SCDiffModel(config, ae, ema, classifiers, stats, ref)
    model.save(out)
    state.remove()
    return model
