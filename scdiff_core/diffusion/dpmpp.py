"""DPM-Solver++(2M) (Lu et al. 2022, "DPM-Solver++: Fast Solver for Guided Sampling of Diffusion
Probabilistic Models"): a second-order multistep solver of the diffusion ODE in the data
prediction form, made for guided sampling with few steps (10–25 network calls)."""
from __future__ import annotations

import numpy as np

from .sampler import Sampler, register_sampler


@register_sampler("dpmpp")
class DPMSolverPP2M(Sampler):
    """With α_t = √ᾱ_t, σ_t = √(1 − ᾱ_t), λ_t = log(α_t/σ_t) and h = λ_{t'} − λ_t (Lu et al. 2022):

    x̂_0 = (x_t − σ_t ε̂) / α_t                                                   (data prediction)
    first step:  x_{t'} = (σ_{t'}/σ_t) x_t − α_{t'} (e^{−h} − 1) x̂_0               (eq. 5, DPM-Solver++(1))
    later steps: D = (1 + 1/(2r)) x̂_0 − 1/(2r) x̂_0^{prev},  r = h_prev / h,
                 x_{t'} = (σ_{t'}/σ_t) x_t − α_{t'} (e^{−h} − 1) D                 (Algorithm 2, 2M)
    The last step, to t = 0, returns x̂_0 (first order at the end, as the reference code does).
    Deterministic: η is ignored.
    """

    description = "DPM-Solver++(2M): deterministic, second order, good with 10–25 steps"
    default_steps = 20

    def set_timesteps(self, n_steps, t_max=None):
        """Steps evenly spaced in λ = log(α/σ) (the paper's "logSNR" grid) from t_max down to 0.

        With a linear β schedule an evenly spaced *t* grid makes the first steps huge in λ, and the
        multistep extrapolation then overshoots (measured on a Gaussian with the exact ε: std 0.39
        instead of 0.30 after 20 steps; 0.307 on the λ grid).
        """
        self._prev = None  # (x̂_0, h) of the previous step
        super().set_timesteps(n_steps, t_max)  # validates t_max, gives the t grid's length
        acp = self.diffusion.alphas_cumprod
        lam = 0.5 * np.log(acp / (1 - acp))  # (T,) decreasing in t
        t_hi = int(self.timesteps[0])
        grid = np.linspace(lam[t_hi], lam[0], len(self.timesteps))
        ts = np.searchsorted(-lam, -grid).clip(0, t_hi)  # first t with λ_t <= grid value
        self.timesteps = np.unique(np.append(ts, [0, t_hi]))[::-1].copy()
        return self.timesteps

    def step(self, eps, i, x, generator=None):
        if i == 0:
            self._prev = None  # a new run (the model runs one sampler over several batches)
        ab, ab_prev = self._abar(i)
        a_t, s_t = np.sqrt(ab), np.sqrt(1 - ab)
        x0 = (x - s_t * eps) / a_t  # (N, D)
        if ab_prev >= 1.0:  # the final step lands on x_0
            return x0
        a_n, s_n = np.sqrt(ab_prev), np.sqrt(1 - ab_prev)
        h = np.log(a_n / s_n) - np.log(a_t / s_t)
        d = x0
        if self._prev is not None:
            x0_prev, h_prev = self._prev
            r = h_prev / h
            d = (1 + 1 / (2 * r)) * x0 - (1 / (2 * r)) * x0_prev
        self._prev = (x0, h)
        return (s_n / s_t) * x - a_n * np.expm1(-h) * d
