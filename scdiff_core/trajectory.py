"""Trajectories: continuous paths of generated cells between two cell states.

**Gradient Interpolation** (scDiffusion, Luo et al. 2024): real cells of the start state are
encoded, noised part-way (to ``t_start``·T) and denoised *from there* with guidance mixed between
the two states, (1 − λ)∇log p(A|x_t) + λ∇log p(B|x_t) (classifier) or condition weights
(1 − λ, λ) (classifier-free), for λ on a grid in [0, 1]. The same start cells and noise are used
for every λ, so the path is continuous: λ = 0 stays near A, λ = 1 arrives in B.
"""
from __future__ import annotations

from typing import Mapping

import anndata as ad
import numpy as np
import pandas as pd
import torch

from .common import ANY, ProgressFn
from .errors import ScdiffError

START_CELLS = ("reference", "generated")


def _check_request(model, column: str, start: str, end: str, n_points, cells_per_point, t_start,
                   start_cells: str, sampler: str, steps: int, guidance: str, fixed) -> dict:
    if column not in model.conditions:
        raise ScdiffError(f"This model has no condition column {column!r}. Its columns are: "
                          f"{', '.join(model.conditions)}.")
    vocab = model.config["vocab"][column]
    for v_ in (start, end):
        if v_ not in vocab:
            raise ScdiffError(f"{v_!r} is not a value of {column!r}. Choose from: {', '.join(vocab)}.")
    if start == end:
        raise ScdiffError("Start and end states are the same; pick two different values.")
    if not isinstance(n_points, (int, np.integer)) or not 2 <= n_points <= 100:
        raise ScdiffError(f"Number of points must be between 2 and 100, got {n_points!r}.")
    if not isinstance(cells_per_point, (int, np.integer)) or cells_per_point < 1:
        raise ScdiffError(f"Cells per point must be a positive whole number, got {cells_per_point!r}.")
    model._check_sampling(int(n_points * cells_per_point), sampler, steps, guidance)
    if not 0.0 < float(t_start) <= 1.0:
        raise ScdiffError(f"t_start is the fraction of the noise schedule to go back to, in (0, 1]; got {t_start}.")
    if start_cells not in START_CELLS:
        raise ScdiffError("start_cells must be 'reference' (real training cells) or 'generated'.")
    fixed = model._check_conditions(fixed or {})
    if fixed.get(column) is not None:
        raise ScdiffError(f"{column!r} is the interpolated column; do not also fix it.")
    return fixed


def start_cells_of(model, column: str, value: str, n: int, how: str, guidance: str,
                   rng: np.random.Generator, seed: int) -> torch.Tensor:
    """(n, D) diffusion vectors of cells in state ``value``: stored training cells, or generated ones."""
    if how == "reference" and "space" in model.reference:
        codes = model.reference[f"label_{column}"]
        idx = np.flatnonzero(codes == model.config["vocab"][column].index(value))
        if len(idx) == 0:
            raise ScdiffError(f"No training cells of {column}={value!r} are stored in this checkpoint; "
                              f"use start_cells='generated'.")
        pick = rng.choice(idx, size=n, replace=n > len(idx))
        return torch.from_numpy(model.reference["space"][pick].astype(np.float32))
    g = torch.Generator().manual_seed(int(seed) + 1)
    x = torch.randn(n, model.config["space_dim"], generator=g)
    targets = [model._one_hot(c, [value if c == column else None] * n) for c in model.conditions]
    sc = model._scales(None, guidance)
    return model._denoise(x, targets, [sc[c] for c in model.conditions], guidance, "ddim", 50, 0.0, None, g, None)


def _mixed_targets(model, column: str, a: int, b: int, lam: torch.Tensor, fixed: dict) -> list:
    """Per column, (K·M, C) class weights: (1 − λ, λ) on the two states, one-hot for fixed columns."""
    n = len(lam)
    targets = []
    for c in model.conditions:
        if c == column:
            y = torch.zeros(n, len(model.config["vocab"][column]))
            y[:, a] = 1 - lam
            y[:, b] += lam
            targets.append(y)
        else:
            targets.append(model._one_hot(c, [fixed[c]] * n))
    return targets


def gradient_interpolation(model, column: str, start: str, end: str, *, n_points: int = 10,
                           cells_per_point: int = 100, t_start: float = 0.6, scale: float | None = None,
                           guidance: str = "classifier", start_cells: str = "reference", sampler: str = "ddim",
                           steps: int = 50, eta: float = 0.0, fixed: Mapping[str, str | None] | None = None,
                           seed: int = 0, progress: ProgressFn | None = None) -> ad.AnnData:
    """Gradient Interpolation from ``start`` to ``end`` (module docstring).

    Parameters
    ----------
    model
        A loaded :class:`~scdiff_core.model.SCDiffModel`.
    column, start, end
        The condition column and its two values.
    n_points, cells_per_point
        λ takes ``n_points`` evenly spaced values in [0, 1]; ``cells_per_point`` cells each.
    t_start
        Fraction of the schedule the start cells are noised to (lower keeps more of them).
    scale, guidance
        Guidance strength (default from the checkpoint) and mode.
    start_cells
        ``'reference'`` (real training cells stored in the checkpoint) or ``'generated'``.
    fixed
        Other columns held at one value along the path.

    Returns
    -------
    AnnData with ``obs['lambda']``, ``obs['point']`` and ``obs['start_cell']`` per cell.
    """
    fixed = _check_request(model, column, start, end, n_points, cells_per_point, t_start, start_cells,
                           sampler, steps, guidance, fixed)
    if scale is None:
        scale = model.config["guidance_defaults"]["trajectory_" + guidance]
    import time

    t0 = time.perf_counter()
    M, K = int(cells_per_point), int(n_points)
    g = torch.Generator().manual_seed(int(seed))
    rng = np.random.default_rng(int(seed))
    x0 = start_cells_of(model, column, start, M, start_cells, guidance, rng, seed)  # (M, D)
    T = model.diffusion.num_timesteps
    t_s = int(round(float(t_start) * (T - 1)))
    noise = torch.randn(M, x0.shape[1], generator=g)
    x_t = model.diffusion.q_sample(x0, torch.full((M,), t_s, dtype=torch.long), noise)  # (M, D)
    lambdas = np.linspace(0.0, 1.0, K)
    x = x_t.repeat(K, 1)  # (K·M, D): the same noised cells for every λ
    lam = torch.tensor(np.repeat(lambdas, M), dtype=torch.float32)
    vocab = model.config["vocab"][column]
    targets = _mixed_targets(model, column, vocab.index(start), vocab.index(end), lam, fixed)
    sc = [float(scale) if (c == column or fixed.get(c) is not None) else 0.0 for c in model.conditions]
    v = model._denoise(x, targets, sc, guidance, sampler, steps, eta, t_s, g, progress)
    cells = model.from_space(v, rng)
    obs = pd.DataFrame({"lambda": np.repeat(lambdas, M).astype(np.float32),
                        "point": np.repeat(np.arange(K), M), "start_cell": np.tile(np.arange(M), K)})
    obs[column] = [f"{start}→{end}"] * (K * M)
    for c in model.conditions:
        if c != column:
            obs[c] = fixed[c] or ANY
    prov = {"guidance": guidance, "sampler": sampler, "steps": int(steps), "eta": float(eta),
            "scale": float(scale), "seed": int(seed), "column": column, "start": start, "end": end,
            "n_points": K, "cells_per_point": M, "t_start": float(t_start),
            # gene-space checkpoints store no cells, so their trajectories start from generated ones
            "start_cells": start_cells if "space" in model.reference else "generated",
            "seconds": time.perf_counter() - t0}
    return model._to_anndata(cells, obs, prov, kind="trajectory")
