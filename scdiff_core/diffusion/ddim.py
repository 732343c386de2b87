"""DDIM (Song et al. 2021): few steps; η = 0 deterministic, η = 1 scRDiT's stochastic variant."""
from __future__ import annotations

import numpy as np
import torch

from .sampler import Sampler, register_sampler


@register_sampler("ddim")
class DDIMSampler(Sampler):
    """x_{t-1} = √ᾱ_{t-1} x̂_0 + √(1 − ᾱ_{t-1} − σ_t²) ε̂ + σ_t z                 (eq. 12),
    σ_t = η √((1 − ᾱ_{t-1})/(1 − ᾱ_t)) √(1 − ᾱ_t/ᾱ_{t-1})                       (eq. 16).
    """

    description = "20–100 steps; η = 0 is deterministic, η = 1 stochastic (scRDiT)"
    uses_eta = True

    def step(self, eps, i, x, generator=None):
        ab, ab_prev = self._abar(i)
        x0 = (x - np.sqrt(1 - ab) * eps) / np.sqrt(ab)  # x̂_0, (N, D)
        sigma = self.eta * np.sqrt((1 - ab_prev) / (1 - ab)) * np.sqrt(max(0.0, 1 - ab / ab_prev))
        out = np.sqrt(ab_prev) * x0 + np.sqrt(max(0.0, 1 - ab_prev - sigma**2)) * eps
        if sigma > 0 and i + 1 < len(self.timesteps):
            out = out + sigma * torch.randn(x.shape, generator=generator, dtype=x.dtype)
        return out
