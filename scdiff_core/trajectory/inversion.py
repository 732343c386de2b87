"""**Inversion paths**: trajectories whose every point is a sample of the model.

1. Cells of both ends (real cells, a selected set, or generated cells) are mapped to the
   diffusion's noise at ``t_start``·T by deterministic DDIM inversion (η = 0, the reverse of DDIM
   eq. 12: :func:`~scdiff_core.diffusion.ddim.ddim_invert`), each under its own condition.
2. Start and end cells are paired (at random, or one-to-one by similarity: ``pairing='matched'``,
   a minimum-cost assignment on their diffusion vectors) and each pair's two noises are joined by
   spherical interpolation (slerp of the directions, θ = ∠(z_A, z_B),
   u(λ) = [sin((1 − λ)θ) u_A + sin(λθ) u_B] / sin θ, with the norm interpolated linearly).
3. The condition is interpolated with the same λ — classifier-free weights (1 − λ, λ) or the
   classifier-gradient mix (1 − λ)∇log p(A|x_t) + λ∇log p(B|x_t) — and every point is decoded by
   DDIM (η = 0) on the same grid.

Decoding inverts inversion, so λ = 0 gives back the start cells and λ = 1 the end cells (up to the
inversion's discretisation error), and every intermediate is the model's own decoding of a noise
vector of the usual size, i.e. a cell the model generates, not a blend of two cells.
"""
from __future__ import annotations

import time
from typing import Mapping

import anndata as ad
import numpy as np
import torch

from ..common import ProgressFn
from ..diffusion import ddim_invert, make_sampler
from ..errors import ScdiffError
from ..guidance import GUIDANCE
from .common import check_request, guided_scales, mixed_targets, path_output
from .sets import Endpoint, draw, end_label

PAIRINGS = ("random", "matched")
MAX_MATCHED = 5000  # the assignment is O(M³)


def slerp(a: torch.Tensor, b: torch.Tensor, lambdas: np.ndarray) -> torch.Tensor:
    """Spherical interpolation of directions, linear of norms: (M, D), (M, D), (K,) -> (K·M, D).

    λ = 0 returns ``a`` and λ = 1 returns ``b`` exactly; nearly parallel pairs fall back to a
    normalised linear blend of the directions.
    """
    na, nb = a.norm(dim=1, keepdim=True), b.norm(dim=1, keepdim=True)  # (M, 1)
    ua, ub = a / na.clamp_min(1e-12), b / nb.clamp_min(1e-12)  # (M, D) unit vectors
    theta = torch.acos((ua * ub).sum(1, keepdim=True).clamp(-1.0, 1.0))  # (M, 1)
    s = torch.sin(theta)
    out = []
    for lam in np.asarray(lambdas, dtype=np.float64):
        lam = float(lam)
        if lam == 0.0:
            out.append(a)
            continue
        if lam == 1.0:
            out.append(b)
            continue
        wa = torch.where(s > 1e-6, torch.sin((1 - lam) * theta) / s, torch.full_like(s, 1 - lam))
        wb = torch.where(s > 1e-6, torch.sin(lam * theta) / s, torch.full_like(s, lam))
        u = wa * ua + wb * ub  # (M, D)
        u = u / u.norm(dim=1, keepdim=True).clamp_min(1e-12)
        out.append(u * ((1 - lam) * na + lam * nb))
    return torch.cat(out, 0)


def invert(model, x0: torch.Tensor, targets: list, scales: list, guidance: str, timesteps: np.ndarray,
           refine: int = 0, batch_size: int = 4096) -> torch.Tensor:
    """DDIM-invert (N, D) clean vectors to ``timesteps[0]`` under guidance ``targets``/``scales``."""
    outs = []
    for s in range(0, x0.shape[0], batch_size):
        sl = slice(s, s + batch_size)
        eps_fn = GUIDANCE[guidance].build(model, [None if y is None else y[sl] for y in targets], scales)
        with torch.no_grad():
            outs.append(ddim_invert(eps_fn, model.diffusion, x0[sl], timesteps, refine=refine))
    return torch.cat(outs, 0)


def _match(xa: torch.Tensor, xb: torch.Tensor) -> np.ndarray:
    """The permutation of ``xb`` that minimises the summed squared distance to ``xa`` (one-to-one)."""
    from scipy.optimize import linear_sum_assignment

    cost = torch.cdist(xa, xb).pow(2).numpy()  # (M, M)
    _, cols = linear_sum_assignment(cost)
    return cols


def _check_options(sampler: str, eta: float, refine, pairing: str, M: int) -> None:
    if sampler != "ddim" or float(eta) != 0.0:
        raise ScdiffError("The inversion method decodes with DDIM at η = 0 (the exact reverse of its inversion); "
                          "leave sampler='ddim' and eta=0.")
    if not isinstance(refine, (int, np.integer)) or isinstance(refine, bool) or not 0 <= refine <= 10:
        raise ScdiffError(f"refine (extra network calls per inversion step) must be a whole number from 0 to 10, "
                          f"got {refine!r}.")
    if pairing not in PAIRINGS:
        raise ScdiffError(f"pairing must be one of {', '.join(PAIRINGS)}, got {pairing!r}.")
    if pairing == "matched" and M > MAX_MATCHED:
        raise ScdiffError(f"pairing='matched' takes at most {MAX_MATCHED:,} cells per point; use 'random'.")


def inversion_path(model, column: str, start: Endpoint, end: Endpoint, *, n_points: int = 10,
                   cells_per_point: int = 100, t_start: float = 1.0, scale: float | None = None,
                   guidance: str = "free", start_cells: str = "reference", sampler: str = "ddim", steps: int = 50,
                   eta: float = 0.0, refine: int = 0, pairing: str = "random",
                   fixed: Mapping[str, str | None] | None = None, seed: int = 0,
                   progress: ProgressFn | None = None) -> ad.AnnData:
    """A path from ``start`` to ``end`` through DDIM inversion, slerp and decoding (module docstring).

    Parameters
    ----------
    model, column
        The loaded :class:`~scdiff_core.model.SCDiffModel` and the condition column to move along.
    start, end
        Labels (values of ``column``) or sets of cells (:func:`~scdiff_core.trajectory.sets.cell_set`);
        a set without a label is inverted and decoded without a condition on ``column``.
    n_points, cells_per_point
        λ takes ``n_points`` evenly spaced values in [0, 1]; ``cells_per_point`` pairs each.
    t_start
        How far the cells are inverted, as a fraction of the schedule, in (0, 1] (1: to pure noise).
    scale, guidance
        Guidance strength (default: the checkpoint's trajectory default for the mode) and mode.
    start_cells
        For a label end: ``'reference'`` (stored training cells) or ``'generated'``.
    sampler, steps, eta
        Must be ``'ddim'`` and η = 0; ``steps`` over the full schedule (only those below t_start run).
    refine
        Fixed-point refinements per inversion step (more exact round trip, one network call each).
    pairing
        ``'random'`` or ``'matched'`` (each start cell with a most similar end cell, one-to-one).
    fixed, seed, progress
        Columns held at one value; same seed, same cells; ``progress(step, total)`` while decoding.

    Returns
    -------
    AnnData with ``obs['lambda']``, ``obs['point']``, ``obs['start_cell']`` and ``obs['end_cell']``.
    """
    a, b, fixed, scale, t_start, eta = check_request(model, column, start, end, n_points, cells_per_point, t_start,
                                                     start_cells, sampler, steps, guidance, fixed, scale, eta)
    M, K = int(cells_per_point), int(n_points)
    _check_options(sampler, eta, refine, pairing, M)
    t0 = time.perf_counter()
    g = torch.Generator().manual_seed(int(seed))
    rng = np.random.default_rng(int(seed))
    xa, _ = draw(model, column, a, M, start_cells, guidance, rng, seed)  # (M, D)
    xb, _ = draw(model, column, b, M, start_cells, guidance, rng, seed + 7919)  # (M, D)
    if pairing == "matched":
        xb = xb[torch.from_numpy(_match(xa, xb))]
    t_s = int(round(t_start * (model.diffusion.num_timesteps - 1)))
    grid = make_sampler("ddim", model.diffusion, steps, eta=0.0, t_max=t_s).timesteps
    sc = guided_scales(model, column, fixed, scale)
    la, lb = end_label(a), end_label(b)
    za = invert(model, xa, mixed_targets(model, column, la, lb, torch.zeros(M), fixed), sc, guidance, grid, refine)
    zb = invert(model, xb, mixed_targets(model, column, la, lb, torch.ones(M), fixed), sc, guidance, grid, refine)
    lambdas = np.linspace(0.0, 1.0, K)
    z = slerp(za, zb, lambdas)  # (K·M, D)
    lam = torch.tensor(np.repeat(lambdas, M), dtype=torch.float32)
    targets = mixed_targets(model, column, la, lb, lam, fixed)
    v = model._denoise(z, targets, sc, guidance, "ddim", steps, 0.0, t_s, g, progress)
    cells = model.from_space(v, rng)
    prov = {"method": "inversion", "guidance": guidance, "sampler": "ddim", "steps": int(steps), "eta": 0.0,
            "scale": float(scale), "seed": int(seed), "t_start": float(t_start), "refine": int(refine),
            "pairing": pairing, "start_cells": start_cells if "space" in model.reference else "generated",
            "seconds": time.perf_counter() - t0}
    return path_output(model, cells, column, a, b, lambdas, M, fixed, prov, paired=True)
