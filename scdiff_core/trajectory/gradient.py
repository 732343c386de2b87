"""**Gradient Interpolation** (scDiffusion, Luo et al. 2024).

Real cells of the start state are encoded, noised part-way (to ``t_start``·T) and denoised *from
there* with guidance mixed between the two states, (1 − λ)∇log p(A|x_t) + λ∇log p(B|x_t)
(classifier) or condition weights (1 − λ, λ) (classifier-free), for λ on a grid in [0, 1]. The same
start cells and noise are used for every λ, so the path is continuous: λ = 0 stays near A, λ = 1
arrives in B.
"""
from __future__ import annotations

import time
from typing import Mapping

import anndata as ad
import numpy as np
import torch

from ..common import ProgressFn
from ..errors import ScdiffError
from .common import check_request, guided_scales, mixed_targets, path_output
from .sets import Endpoint, draw, end_label


def gradient_interpolation(model, column: str, start: Endpoint, end: Endpoint, *, n_points: int = 10,
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
        The condition column and the two ends: values of it, or sets of cells
        (:func:`~scdiff_core.trajectory.sets.cell_set`); the end needs a label to steer towards.
    n_points, cells_per_point
        λ takes ``n_points`` evenly spaced values in [0, 1]; ``cells_per_point`` cells each.
    t_start
        Fraction of the schedule the start cells are noised to (lower keeps more of them), in (0, 1].
    scale, guidance
        Guidance strength (default from the checkpoint) and mode.
    start_cells
        For a label start: ``'reference'`` (real training cells stored in the checkpoint) or ``'generated'``.
    fixed
        Other columns held at one value along the path.

    Returns
    -------
    AnnData with ``obs['lambda']``, ``obs['point']`` and ``obs['start_cell']`` per cell.
    """
    a, b, fixed, scale, t_start, eta = check_request(model, column, start, end, n_points, cells_per_point, t_start,
                                                     start_cells, sampler, steps, guidance, fixed, scale, eta)
    if end_label(b) is None:
        raise ScdiffError("Gradient Interpolation steers towards a label: give the end as a value of the column "
                          "(or a labelled set), or use method='inversion' to reach a set of cells.")
    t0 = time.perf_counter()
    M, K = int(cells_per_point), int(n_points)
    g = torch.Generator().manual_seed(int(seed))
    rng = np.random.default_rng(int(seed))
    x0, _ = draw(model, column, a, M, start_cells, guidance, rng, seed)  # (M, D)
    T = model.diffusion.num_timesteps
    t_s = int(round(float(t_start) * (T - 1)))
    noise = torch.randn(M, x0.shape[1], generator=g)
    x_t = model.diffusion.q_sample(x0, torch.full((M,), t_s, dtype=torch.long), noise)  # (M, D)
    lambdas = np.linspace(0.0, 1.0, K)
    x = x_t.repeat(K, 1)  # (K·M, D): the same noised cells for every λ
    lam = torch.tensor(np.repeat(lambdas, M), dtype=torch.float32)
    targets = mixed_targets(model, column, end_label(a), end_label(b), lam, fixed)
    v = model._denoise(x, targets, guided_scales(model, column, fixed, scale), guidance, sampler, steps, eta, t_s, g,
                       progress)
    cells = model.from_space(v, rng)
    prov = {"method": "gradient", "guidance": guidance, "sampler": sampler, "steps": int(steps), "eta": float(eta),
            "scale": float(scale), "seed": int(seed), "t_start": float(t_start),
            # gene-space checkpoints store no cells, so their trajectories start from generated ones
            "start_cells": start_cells if "space" in model.reference else "generated",
            "seconds": time.perf_counter() - t0}
    return path_output(model, cells, column, a, b, lambdas, M, fixed, prov)
