"""Hyper-parameters of a training run: one dataclass, its checks, and nothing else.

The CLI's help texts and the app's training form read their defaults from :class:`TrainConfig`,
so a default is written once, here.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from . import validate as V
from .errors import ScdiffError

#: whole-number options and their ranges (a bigger network or run than these is a typo, not a plan)
INT_RANGES = {"seed": (0, V.SEED_MAX), "latent_dim": (2, 4096), "ae_epochs": (1, 100_000), "ae_batch": (1, 65_536),
              "timesteps": (2, 100_000), "ae_decoder_refit": (0, 100_000), "diffusion_iters": (1, 10**7), "diffusion_batch": (1, 65_536),
              "classifier_iters": (1, 10**7), "classifier_batch": (1, 65_536), "save_every": (1, 10**7)}
#: real-valued options and their ranges
REAL_RANGES = {"ae_lr": (0.0, 10.0), "diffusion_lr": (0.0, 10.0), "classifier_lr": (0.0, 10.0),
               "ae_dropout": (0.0, 0.99), "ae_latent_noise": (0.0, 10.0), "ae_kl_weight": (0.0, 1000.0),
               "ema_decay": (0.0, 1.0), "p_uncond": (0.0, 1.0), "free_scale": (-V.MAX_SCALE, V.MAX_SCALE),
               "classifier_scale": (-V.MAX_SCALE, V.MAX_SCALE), "trajectory_classifier_scale": (-V.MAX_SCALE, V.MAX_SCALE),
               "trajectory_free_scale": (-V.MAX_SCALE, V.MAX_SCALE)}
MAX_WIDTH = 16_384
MAX_LAYERS = 16


def default(name: str):
    """The default value of a :class:`TrainConfig` field (for help texts and forms)."""
    f = TrainConfig.__dataclass_fields__[name]
    return f.default_factory() if f.default is dataclasses.MISSING else f.default


@dataclass
class TrainConfig:
    """Hyper-parameters of a training run (all recorded in the checkpoint)."""

    seed: int = 0
    split_seed: int | None = None       # the train/val/test split's seed (None: seed); retrain on one split
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
    ae_decoder_refit: int = 400         # steps re-fitting the decoder's per-gene noise and levels in eval mode (0: off)
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
    # which guidance modes calibrate: each costs a sweep of generations (fewer modes, a shorter calibration)
    calibration_modes: tuple[str, ...] = ("free", "chained", "classifier")
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

        try:
            self._check_types()
        except ScdiffError as e:
            bad(str(e))
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
        from .guidance import GUIDANCE

        modes = self.calibration_modes
        if (not isinstance(modes, (list, tuple)) or not modes
                or not all(isinstance(m, str) and m in GUIDANCE for m in modes) or len(set(modes)) != len(modes)):
            bad(f"calibration_modes must name one or more of {', '.join(GUIDANCE)} once each (to skip calibration "
                f"set calibrate to false), got {modes!r}.")
        for name in ("ae_lr", "diffusion_lr", "classifier_lr"):
            if not getattr(self, name) > 0:
                bad(f"{name} must be positive.")
        return self

    def _check_types(self) -> None:
        """Each field has its type and a sane size (before anything is allocated)."""
        for name, (lo, hi) in INT_RANGES.items():
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool):
                raise ScdiffError(f"{name} must be a whole number from {lo:,} to {hi:,}, got {v!r}.")
            V.integer(v, name, lo, hi)
        if self.split_seed is not None:
            if not isinstance(self.split_seed, int) or isinstance(self.split_seed, bool):
                raise ScdiffError(f"split_seed must be a whole number or null, got {self.split_seed!r}.")
            V.integer(self.split_seed, "split_seed", *INT_RANGES["seed"])
        for name, (lo, hi) in REAL_RANGES.items():
            v = getattr(self, name)
            if isinstance(v, (str, bool)) or v is None:
                raise ScdiffError(f"{name} must be a number from {lo:g} to {hi:g}, got {v!r}.")
            V.real(v, name, lo, hi)
        for name in ("ae_hidden", "classifier_hidden"):
            v = getattr(self, name)
            if not isinstance(v, (list, tuple)) or len(v) > MAX_LAYERS or not all(
                    isinstance(w, int) and not isinstance(w, bool) and 1 <= w <= MAX_WIDTH for w in v):
                raise ScdiffError(f"{name} must be a list of at most {MAX_LAYERS} widths from 1 to {MAX_WIDTH:,}, "
                                  f"got {v!r}.")
        for name in ("space", "backbone", "schedule"):
            if not isinstance(getattr(self, name), str):
                raise ScdiffError(f"{name} must be text, got {getattr(self, name)!r}.")
        for name in ("likelihood", "autoencoder_from"):
            if getattr(self, name) is not None and not isinstance(getattr(self, name), str):
                raise ScdiffError(f"{name} must be text or null, got {getattr(self, name)!r}.")
        if self.threads is not None:
            V.integer(self.threads, "threads", 1, V.MAX_THREADS)
        if not isinstance(self.split, (list, tuple)) or not all(isinstance(x, (int, float)) and not isinstance(x, bool)
                                                              for x in self.split):
            raise ScdiffError(f"split must be three numbers (train, validation, test), got {self.split!r}.")
        if not isinstance(self.exclude, list) or not all(
                isinstance(c, dict) and all(isinstance(k, str) and isinstance(x, str) for k, x in c.items())
                for c in self.exclude):
            raise ScdiffError("exclude must be a list of combinations like {\"paul15_clusters\": \"7MEP\"}.")
        self._check_backbone_hparams()

    def _check_backbone_hparams(self) -> None:
        import inspect

        from .backbones import BACKBONES

        hp = self.backbone_hparams
        if not isinstance(hp, dict):
            raise ScdiffError(f"backbone_hparams must be an object, e.g. {{\"widths\": [256, 256]}}, got {hp!r}.")
        V.small_tree(hp, "backbone_hparams", MAX_WIDTH, MAX_LAYERS)
        if self.backbone in BACKBONES:
            params = set(inspect.signature(BACKBONES[self.backbone].__init__).parameters) - {"self", "dim", "n_classes"}
            params.add("per_label")  # any backbone, one network per value of the first column (backbones/per_label.py)
            if not isinstance(hp.get("per_label", False), bool):
                raise ScdiffError(f"backbone_hparams.per_label must be true or false, got {hp['per_label']!r}.")
            unknown = sorted(set(hp) - params)
            if unknown:
                raise ScdiffError(f"backbone_hparams has {V.listing(unknown)}, which the {self.backbone} backbone does "
                                  f"not take (it takes {V.listing(sorted(params))}).")

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in d.items()}

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        """A config from a JSON object (unknown names and wrong types refused; see :meth:`validate`)."""
        V.json_object(d, "A training config")
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ScdiffError(f"Unknown training option(s): {', '.join(sorted(unknown))}.")
        tuples = ("split", "ae_hidden", "classifier_hidden", "calibration_modes")
        return cls(**{k: tuple(v) if isinstance(v, list) and k in tuples else v for k, v in d.items()})
