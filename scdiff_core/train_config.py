"""Hyper-parameters of a training run: one dataclass, its checks, and nothing else.

The CLI's help texts and the app's training form read their defaults from :class:`TrainConfig`,
so a default is written once, here.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from .errors import ScdiffError


def default(name: str):
    """The default value of a :class:`TrainConfig` field (for help texts and forms)."""
    f = TrainConfig.__dataclass_fields__[name]
    return f.default_factory() if f.default is dataclasses.MISSING else f.default


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
    encoder_init: str | None = None     # start the encoder from a pretrained one (encoder_init.py); sets widths
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
    calibrate: bool = True              # per-column defaults matched to validation cells' fidelity (calibration.py)
    # bookkeeping
    save_every: int = 1000
    threads: int | None = None

    def validate(self) -> "TrainConfig":
        """Raise :class:`ScdiffError` with a clear message for an impossible setting."""
        from .backbones import BACKBONES
        from .likelihoods import LIKELIHOODS
        from .space import SPACES

        def bad(msg):
            raise ScdiffError(f"Invalid training option: {msg}")

        for name in ("latent_dim", "ae_epochs", "ae_batch", "timesteps", "diffusion_iters", "diffusion_batch",
                     "classifier_iters", "classifier_batch", "save_every"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                bad(f"{name} must be a positive whole number, got {v!r}.")
        if self.latent_dim < 2:
            bad("latent_dim must be at least 2.")
        if (len(self.split) != 3 or min(self.split) < 0 or self.split[0] <= 0 or self.split[1] <= 0
                or abs(sum(self.split) - 1) > 1e-6):
            bad(f"split must be three fractions summing to 1 (train, validation, test), train and validation "
                f"above 0, test 0 or more; got {tuple(self.split)}.")
        if not 0 <= self.p_uncond < 1:
            bad(f"p_uncond must be in [0, 1), got {self.p_uncond}.")
        if self.space not in SPACES:
            bad(f"space must be one of {', '.join(SPACES)}, got {self.space!r}.")
        if self.schedule not in ("linear", "cosine"):
            bad(f"schedule must be 'linear' or 'cosine', got {self.schedule!r}.")
        if self.likelihood is not None and self.likelihood not in LIKELIHOODS:
            bad(f"likelihood must be one of {', '.join(sorted(LIKELIHOODS))}, got {self.likelihood!r}.")
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
