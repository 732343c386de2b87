"""Samplers behind one contract (diffusers style).

``sampler.set_timesteps(n, t_max)`` chooses a descending grid of timesteps ending at 0;
``sampler.step(eps, i, x, generator)`` maps x at ``timesteps[i]`` to x at ``timesteps[i+1]``
(or to x_0 after the last step). Guidance never lives here: the ε passed in is already guided
(classifier guidance enters as ε̂ − √(1 − ᾱ_t)·∇log p(y|x_t), Dhariwal & Nichol 2021 eq. 14;
classifier-free guidance as a combination of network outputs).

Starting at ``t_max < T-1`` lets Gradient Interpolation denoise *from* the step it noised to.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from .gaussian import GaussianDiffusion

ProgressFn = Callable[[int, int], None]


class _Sampler:
    name = "base"

    def __init__(self, diffusion: GaussianDiffusion, eta: float = 0.0):
        self.diffusion = diffusion
        self.eta = float(eta)
        self.timesteps = np.arange(diffusion.num_timesteps)[::-1].copy()

    def set_timesteps(self, n_steps: int, t_max: int | None = None) -> np.ndarray:
        """Evenly spaced integer timesteps from ``t_max`` (default T-1) down to 0."""
        T = self.diffusion.num_timesteps
        t_max = T - 1 if t_max is None else int(t_max)
        if not 0 <= t_max < T:
            raise ValueError(f"t_max must be in [0, {T - 1}], got {t_max}")
        n_steps = int(max(1, min(n_steps, t_max + 1)))
        ts = np.round(np.linspace(t_max, 0, n_steps)).astype(np.int64)
        self.timesteps = np.unique(ts)[::-1].copy()
        return self.timesteps

    def _abar(self, i: int) -> tuple[float, float]:
        """(ᾱ at timesteps[i], ᾱ at the next grid point; 1 after the last)."""
        acp = self.diffusion.alphas_cumprod
        t = self.timesteps[i]
        prev = acp[self.timesteps[i + 1]] if i + 1 < len(self.timesteps) else 1.0
        return float(acp[t]), float(prev)

    def step(self, eps: torch.Tensor, i: int, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        raise NotImplementedError


class DDIMSampler(_Sampler):
    """DDIM (Song et al. 2021, eq. 12): η = 0 deterministic, η = 1 is scRDiT's stochastic variant.

    x_{t-1} = √ᾱ_{t-1} x̂_0 + √(1 − ᾱ_{t-1} − σ_t²) ε̂ + σ_t z,
    σ_t = η √((1 − ᾱ_{t-1})/(1 − ᾱ_t)) √(1 − ᾱ_t/ᾱ_{t-1})   (eq. 16).
    """

    name = "ddim"

    def step(self, eps, i, x, generator=None):
        ab, ab_prev = self._abar(i)
        x0 = (x - np.sqrt(1 - ab) * eps) / np.sqrt(ab)  # x̂_0, (N, D)
        sigma = self.eta * np.sqrt((1 - ab_prev) / (1 - ab)) * np.sqrt(max(0.0, 1 - ab / ab_prev))
        out = np.sqrt(ab_prev) * x0 + np.sqrt(max(0.0, 1 - ab_prev - sigma**2)) * eps
        if sigma > 0 and i + 1 < len(self.timesteps):
            out = out + sigma * torch.randn(x.shape, generator=generator, dtype=x.dtype)
        return out


class DDPMSampler(_Sampler):
    """Ancestral sampling (DDPM eq. 6–7 and Algorithm 2) on any timestep grid.

    On a sub-grid the step uses the respaced β'_t = 1 − ᾱ_t/ᾱ_prev (IDDPM §4), so the full grid
    (1,000 steps) is exactly Ho et al.'s sampler with σ_t² = β̃_t (posterior variance).
    """

    name = "ddpm"

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


SAMPLERS = {"ddim": DDIMSampler, "ddpm": DDPMSampler}


def make_sampler(name: str, diffusion: GaussianDiffusion, steps: int, *, eta: float = 0.0,
                 t_max: int | None = None) -> _Sampler:
    if name not in SAMPLERS:
        raise ValueError(f"unknown sampler {name!r}; use one of {sorted(SAMPLERS)}")
    s = SAMPLERS[name](diffusion, eta=eta) if name == "ddim" else SAMPLERS[name](diffusion)
    s.set_timesteps(steps, t_max)
    return s


def run_sampler(sampler: _Sampler, eps_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
                x: torch.Tensor, *, generator: torch.Generator | None = None,
                progress: ProgressFn | None = None) -> torch.Tensor:
    """Denoise ``x`` (noise at ``sampler.timesteps[0]``) to x_0.

    eps_fn(x_t (N, D), t (N,) long) -> ε̂ (N, D), guidance included.
    progress(step, total) is called after every step.
    """
    total = len(sampler.timesteps)
    for i, t in enumerate(sampler.timesteps):
        tt = torch.full((x.shape[0],), int(t), dtype=torch.long)
        eps = eps_fn(x, tt)
        x = sampler.step(eps, i, x, generator)
        if progress is not None:
            progress(i + 1, total)
    return x
