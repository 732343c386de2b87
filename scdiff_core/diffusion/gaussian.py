"""Forward process and training loss of DDPM (Ho et al., 2020), ε-parameterisation.

Equation numbers refer to Ho et al. 2020 ("DDPM") and Nichol & Dhariwal 2021 ("IDDPM").
All schedule quantities are computed in float64 once and indexed per batch.
"""
from __future__ import annotations

import math

import numpy as np
import torch


def make_betas(schedule: str = "linear", n_steps: int = 1000) -> np.ndarray:
    """β_1..β_T.

    ``linear``: β from 1e-4 to 0.02 scaled to T (DDPM §4). ``cosine``: ᾱ_t = f(t)/f(0),
    f(t) = cos²((t/T + s)/(1 + s)·π/2), s = 0.008, β clipped at 0.999 (IDDPM eq. 17).
    """
    if schedule == "linear":
        scale = 1000 / n_steps
        return np.linspace(scale * 1e-4, scale * 0.02, n_steps, dtype=np.float64)
    if schedule == "cosine":
        s = 0.008

        def f(t):
            return math.cos((t / n_steps + s) / (1 + s) * math.pi / 2) ** 2

        return np.array([min(1 - f(i + 1) / f(i), 0.999) for i in range(n_steps)], dtype=np.float64)
    raise ValueError(f"unknown noise schedule {schedule!r}; use 'linear' or 'cosine'")


class GaussianDiffusion:
    """q(x_t | x_0) = N(√ᾱ_t x_0, (1 − ᾱ_t) I) and the simple ε-prediction loss.

    Timesteps are integers 0..T-1 (index ``t`` means the (t+1)-th noising step).
    """

    def __init__(self, betas: np.ndarray):
        self.betas = np.asarray(betas, dtype=np.float64)
        self.num_timesteps = len(self.betas)
        self.alphas = 1.0 - self.betas
        self.alphas_cumprod = np.cumprod(self.alphas)  # ᾱ_t
        self.alphas_cumprod_prev = np.append(1.0, self.alphas_cumprod[:-1])
        self._acp = torch.tensor(self.alphas_cumprod, dtype=torch.float32)

    @classmethod
    def from_config(cls, schedule: str = "linear", n_steps: int = 1000) -> "GaussianDiffusion":
        return cls(make_betas(schedule, n_steps))

    def alpha_bar(self, t: torch.Tensor) -> torch.Tensor:
        """ᾱ_t for integer timesteps t (N,) -> (N, 1)."""
        return self._acp.to(t.device)[t.long()][:, None]

    def q_sample(self, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor | None = None) -> torch.Tensor:
        """x_t = √ᾱ_t x_0 + √(1 − ᾱ_t) ε  (DDPM eq. 4)."""
        if noise is None:
            noise = torch.randn_like(x0)
        ab = self.alpha_bar(t)  # (N, 1)
        return ab.sqrt() * x0 + (1 - ab).sqrt() * noise

    def predict_x0(self, x_t: torch.Tensor, t: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
        """x̂_0 = (x_t − √(1 − ᾱ_t) ε̂) / √ᾱ_t  (DDPM eq. 15 rearranged)."""
        ab = self.alpha_bar(t)
        return (x_t - (1 - ab).sqrt() * eps) / ab.sqrt()

    def training_loss(self, model, x0: torch.Tensor, cond: torch.Tensor | None = None,
                      generator: torch.Generator | None = None, t: torch.Tensor | None = None,
                      noise: torch.Tensor | None = None) -> torch.Tensor:
        """L_simple = E_{t, ε} ‖ε − ε_θ(x_t, t)‖²  (DDPM eq. 14), t uniform.

        ``t`` and ``noise`` may be given (drawn for a distributed run's global batch), else drawn here.
        """
        n = x0.shape[0]
        if t is None:
            t = torch.randint(0, self.num_timesteps, (n,), generator=generator)
        if noise is None:
            noise = torch.randn(x0.shape, generator=generator)
        x_t = self.q_sample(x0, t, noise)
        return torch.mean((model(x_t, t, cond) - noise) ** 2)
