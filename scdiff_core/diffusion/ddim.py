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


def ddim_invert(eps_fn, diffusion, x0: torch.Tensor, timesteps: np.ndarray, *, refine: int = 0,
                progress=None) -> torch.Tensor:
    """Deterministic DDIM inversion: clean vectors x_0 -> x at ``timesteps[0]``.

    The reverse of eq. 12 with η = 0 (Song et al. 2021 §4.3: the deterministic sampler is an Euler
    step of an ODE, so it can be run backwards). ``timesteps`` is the *decoding* grid, descending
    to its last step (what ``make_sampler('ddim', …).timesteps`` holds); inversion walks it upwards.
    Undoing decoding step i, x_{τ_{i+1}} -> x_{τ_i}, with ᾱ = ᾱ_{τ_i}, ᾱ' = ᾱ_{τ_{i+1}} (1 for x_0):

        x̂_0 = (x_{τ_{i+1}} − √(1 − ᾱ') ε̂) / √ᾱ',   x_{τ_i} = √ᾱ x̂_0 + √(1 − ᾱ) ε̂,

    exact when ε̂ = ε̂(x_{τ_i}, τ_i), the value decoding will use. That point is not known yet, so
    ε̂ is first taken at (x_{τ_{i+1}}, τ_i) (the usual approximation, as in DDIM's encoder), then
    ``refine`` fixed-point iterations re-evaluate it at the new x_{τ_i}.

    Parameters
    ----------
    eps_fn
        ε̂(x_t (N, D), t (N,) long) -> (N, D), guidance included (any registered mode).
    diffusion
        The :class:`~scdiff_core.diffusion.gaussian.GaussianDiffusion` whose ᾱ the grid indexes.
    x0
        (N, D) clean vectors.
    timesteps
        Descending integer grid, as decoding will use it.
    refine
        Extra ε̂ evaluations per step (0: one network call per step).
    progress
        ``progress(step, total)`` after each step.

    Returns
    -------
    (N, D) vectors at ``timesteps[0]``; DDIM decoding on the same grid and ε̂ maps them back.
    """
    acp = diffusion.alphas_cumprod
    ts = [int(t) for t in timesteps]
    x = x0
    n = len(ts)
    for j, i in enumerate(range(n - 1, -1, -1)):
        ab = float(acp[ts[i]])
        ab_prev = float(acp[ts[i + 1]]) if i + 1 < n else 1.0
        tt = torch.full((x.shape[0],), ts[i], dtype=torch.long)
        x_new = x
        for _ in range(int(refine) + 1):
            eps = eps_fn(x_new, tt)  # (N, D)
            x0_hat = (x - np.sqrt(1 - ab_prev) * eps) / np.sqrt(ab_prev)  # (N, D)
            x_new = np.sqrt(ab) * x0_hat + np.sqrt(1 - ab) * eps
        x = x_new
        if progress is not None:
            progress(j + 1, n)
    return x
