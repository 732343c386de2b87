"""Ancestral DDPM sampling (Ho et al. 2020) on any timestep grid."""
from __future__ import annotations

import numpy as np
import torch

from .sampler import Sampler, register_sampler


@register_sampler("ddpm")
class DDPMSampler(Sampler):
    """DDPM eq. 6–7 and Algorithm 2 on any timestep grid.

    On a sub-grid the step uses the respaced β'_t = 1 − ᾱ_t/ᾱ_prev (IDDPM §4), so the full grid
    (1,000 steps) is exactly Ho et al.'s sampler with σ_t² = β̃_t (posterior variance).
    """

    description = "ancestral sampling, up to 1,000 steps (slow)"
    default_steps = 1000

    def step(self, eps, i, x, generator=None):
        ab, ab_prev = self._abar(i)
        beta = 1 - ab / ab_prev  # β'_t
        x0 = (x - np.sqrt(1 - ab) * eps) / np.sqrt(ab)
        # posterior mean μ̃_t(x_t, x̂_0) (DDPM eq. 7)
        mean = (np.sqrt(ab_prev) * beta / (1 - ab)) * x0 + (np.sqrt(1 - beta) * (1 - ab_prev) / (1 - ab)) * x
        if i + 1 >= len(self.timesteps):
            return mean
        var = beta * (1 - ab_prev) / (1 - ab)  # β̃_t
        return mean + np.sqrt(var) * torch.randn(x.shape, generator=generator, dtype=x.dtype)
