"""The sampler contract (diffusers style) and the registry every front end reads.

``sampler.set_timesteps(n, t_max)`` chooses a descending grid of timesteps ending at 0;
``sampler.step(eps, i, x, generator)`` maps x at ``timesteps[i]`` to x at ``timesteps[i+1]``
(or to x_0 after the last step). Guidance never lives here: the ε passed in is already guided
(classifier guidance enters as ε̂ − √(1 − ᾱ_t)·∇log p(y|x_t), Dhariwal & Nichol 2021 eq. 14;
classifier-free guidance as a combination of network outputs).

Starting at ``t_max < T-1`` lets Gradient Interpolation denoise *from* the step it noised to.
A new sampler is one file that subclasses :class:`Sampler` and decorates it with
:func:`register_sampler` (see docs/extending.md).
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from ..common import ProgressFn
from .gaussian import GaussianDiffusion

SAMPLERS: dict[str, type["Sampler"]] = {}


def register_sampler(name: str):
    """Class decorator: make a :class:`Sampler` available by ``name`` to the library, CLI and app."""

    def deco(cls):
        cls.name = name
        SAMPLERS[name] = cls
        return cls

    return deco


class Sampler:
    """Base class: the timestep grid and ᾱ look-ups; subclasses implement :meth:`step`.

    Class attributes a subclass sets: ``description`` (one sentence for help texts),
    ``uses_eta`` (whether the η option means anything to it) and ``default_steps``.
    """

    name = "base"
    description = ""
    uses_eta = False
    default_steps = 50

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

    def predict_x0(self, eps: torch.Tensor, i: int, x: torch.Tensor) -> torch.Tensor:
        """The clean vectors the network sees in ``x`` at ``timesteps[i]``: x̂_0 = (x − √(1 − ᾱ) ε̂) / √ᾱ."""
        ab, _ = self._abar(i)
        return (x - np.sqrt(1 - ab) * eps) / np.sqrt(ab)


def make_sampler(name: str, diffusion: GaussianDiffusion, steps: int, *, eta: float = 0.0,
                 t_max: int | None = None) -> Sampler:
    """Build a registered sampler with its timestep grid set."""
    if name not in SAMPLERS:
        raise ValueError(f"unknown sampler {name!r}; use one of {sorted(SAMPLERS)}")
    s = SAMPLERS[name](diffusion, eta=eta)
    s.set_timesteps(steps, t_max)
    return s


StepFn = Callable[[int, int, torch.Tensor], None]
"""``on_step(i, t, x0_hat)``: step index, its timestep and the (N, D) x̂_0 predicted there."""


def run_sampler(sampler: Sampler, eps_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
                x: torch.Tensor, *, generator: torch.Generator | None = None,
                progress: ProgressFn | None = None, on_step: StepFn | None = None) -> torch.Tensor:
    """Denoise ``x`` (noise at ``sampler.timesteps[0]``) to x_0.

    eps_fn(x_t (N, D), t (N,) long) -> ε̂ (N, D), guidance included.
    progress(step, total) is called after every step; ``on_step`` (for watching the denoising)
    receives each step's x̂_0 before the step is taken.
    """
    total = len(sampler.timesteps)
    for i, t in enumerate(sampler.timesteps):
        tt = torch.full((x.shape[0],), int(t), dtype=torch.long)
        eps = eps_fn(x, tt)
        if on_step is not None:
            on_step(i, int(t), sampler.predict_x0(eps, i, x))
        x = sampler.step(eps, i, x, generator)
        if progress is not None:
            progress(i + 1, total)
    return x
