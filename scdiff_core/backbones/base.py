"""The backbone contract: every denoiser is an ε-prediction network with one signature.

Samplers and guidance only ever call ``backbone(x, t, cond)``; they know nothing about what is
inside. A new backbone registers itself with :func:`register` and is built by name from the
hyper-parameters stored in a checkpoint.

Conditions are integer codes, one column per condition (cell type, phase, ...). Column ``k``
has ``n_classes[k]`` values ``0 .. n_classes[k]-1``; the extra code ``n_classes[k]`` is the
*null* value ("this column is not given"), which classifier-free guidance trains by dropout and
asks for at sampling time.
"""
from __future__ import annotations

import math
from typing import Callable, Sequence

import torch
from torch import nn

BACKBONES: dict[str, type["Backbone"]] = {}


def register(name: str) -> Callable[[type["Backbone"]], type["Backbone"]]:
    def deco(cls):
        cls.name = name
        BACKBONES[name] = cls
        return cls

    return deco


def build_backbone(name: str, dim: int, n_classes: Sequence[int], **hparams) -> "Backbone":
    """Build a registered backbone by name (``mlp``, ``dit``, ``crate``); ``per_label=True`` among the
    hyper-parameters builds one of them per value of the first condition column (:mod:`.per_label`)."""
    if name not in BACKBONES:
        from ..errors import ScdiffError

        raise ScdiffError(
            f"Unknown backbone {name!r}. Choose one of: {', '.join(sorted(BACKBONES))}."
        )
    if hparams.get("per_label"):  # one network per value of the first column (scRDiT); per_label.py
        from .per_label import PerLabel

        return PerLabel(name, dim, list(n_classes), **{k: v for k, v in hparams.items() if k != "per_label"})
    hparams.pop("per_label", None)
    return BACKBONES[name](dim=dim, n_classes=list(n_classes), **hparams)


def timestep_embedding(t: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
    """Sinusoidal embedding of (possibly fractional) timesteps, as in DDPM / guided-diffusion.

    t: (N,) -> (N, dim)
    """
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
    args = t.float()[:, None] * freqs[None]  # (N, half)
    emb = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)
    if dim % 2:
        emb = torch.cat([emb, torch.zeros_like(emb[:, :1])], dim=-1)
    return emb


class ConditionEmbedding(nn.Module):
    """Sum of one learned embedding per condition column (the null code included)."""

    def __init__(self, n_classes: Sequence[int], dim: int):
        super().__init__()
        self.n_classes = list(n_classes)
        self.tables = nn.ModuleList(nn.Embedding(n + 1, dim) for n in self.n_classes)
        for tab in self.tables:
            nn.init.normal_(tab.weight, std=0.02)

    def null(self, n: int, device=None) -> torch.Tensor:
        """All-null condition codes for ``n`` cells: (n, K)."""
        return torch.tensor(self.n_classes, dtype=torch.long, device=device).expand(n, -1).clone()

    def forward(self, cond: torch.Tensor | None, n: int, device) -> torch.Tensor | None:
        if not self.n_classes:
            return None
        if cond is None:
            cond = self.null(n, device)
        out = 0
        for k, tab in enumerate(self.tables):
            out = out + tab(cond[:, k])  # (N, dim)
        return out


class Backbone(nn.Module):
    """Base class of ε-prediction networks.

    Parameters
    ----------
    dim
        Size of the vector being denoised (latent size, or number of genes in gene space).
    n_classes
        Number of values of each condition column; empty for an unconditional model.
    """

    name = "base"
    description = ""
    default_hparams: dict = {}

    @classmethod
    def hparams_for(cls, space: str) -> dict:
        """Default hyper-parameters for a diffusion space (``'latent'`` or ``'gene'``)."""
        return dict(cls.default_hparams)

    def __init__(self, dim: int, n_classes: Sequence[int]):
        super().__init__()
        self.dim = dim
        self.n_classes = list(n_classes)

    def forward(self, x: torch.Tensor, t: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        """x: (N, dim) noisy sample, t: (N,) timesteps, cond: (N, K) codes or None -> ε̂ (N, dim)."""
        raise NotImplementedError

    def null_condition(self, n: int, device=None) -> torch.Tensor:
        return torch.tensor(self.n_classes, dtype=torch.long, device=device).expand(n, -1).clone()

    @property
    def hparams(self) -> dict:
        return dict(self._hparams)

    def n_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())
