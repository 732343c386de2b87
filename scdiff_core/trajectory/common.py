"""What every trajectory method shares: checking a request, the λ-mixed condition, the output."""
from __future__ import annotations

import math

import anndata as ad
import numpy as np
import pandas as pd
import torch

from ..common import ANY
from ..errors import ScdiffError
from .sets import CellSet, end_label, end_name, resolve_end


def finite(value, what: str, lo: float, hi: float, *, lo_open: bool = False) -> float:
    """``value`` as a float in [lo, hi] (or (lo, hi] with ``lo_open``), else a ScdiffError naming ``what``."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ScdiffError(f"{what} must be a number, got {value!r}.") from None
    ok = math.isfinite(v) and (lo < v if lo_open else lo <= v) and v <= hi
    if not ok:
        rng = f"{'(' if lo_open else '['}{lo:g}, {hi:g}]"
        raise ScdiffError(f"{what} must be a finite number in {rng}, got {value!r}.")
    return v


def check_request(model, column: str, start, end, n_points, cells_per_point, t_start, start_cells: str,
                  sampler: str, steps: int, guidance: str, fixed, scale, eta) -> tuple:
    """Validate a trajectory request; returns (start, end, fixed, scale, t_start, eta) checked.

    ``start``/``end`` come back as a label (str) or a :class:`~.sets.CellSet`.
    """
    from .sets import START_CELLS

    if column not in model.conditions:
        raise ScdiffError(f"This model has no condition column {column!r}. Its columns are: "
                          f"{', '.join(model.conditions)}.")
    a, b = resolve_end(model, column, start, "start"), resolve_end(model, column, end, "end")
    if isinstance(a, str) and isinstance(b, str) and a == b:
        raise ScdiffError("Start and end states are the same; pick two different values.")
    if not isinstance(n_points, (int, np.integer)) or isinstance(n_points, bool) or not 2 <= n_points <= 100:
        raise ScdiffError(f"Number of points must be a whole number from 2 to 100, got {n_points!r}.")
    if not isinstance(cells_per_point, (int, np.integer)) or isinstance(cells_per_point, bool) or cells_per_point < 1:
        raise ScdiffError(f"Cells per point must be a positive whole number, got {cells_per_point!r}.")
    model._check_sampling(int(n_points * cells_per_point), sampler, steps, guidance)
    t_start = finite(t_start, "t_start (the fraction of the noise schedule to go back to)", 0.0, 1.0, lo_open=True)
    eta = finite(eta, "eta", 0.0, 1.0)
    if scale is None:
        g = model.config["guidance_defaults"]
        scale = g.get("trajectory_" + guidance, g["trajectory_free"])  # chained: one column, same as free
    scale = finite(scale, "The guidance strength (scale)", -50.0, 50.0)
    if start_cells not in START_CELLS:
        raise ScdiffError("start_cells must be 'reference' (real training cells) or 'generated'.")
    fixed = model._check_conditions(fixed or {})
    if fixed.get(column) is not None:
        raise ScdiffError(f"{column!r} is the interpolated column; do not also fix it.")
    return a, b, fixed, scale, t_start, eta


def mixed_targets(model, column: str, a: str | None, b: str | None, lam: torch.Tensor, fixed: dict) -> list:
    """Per column, (N, C) class weights: (1 − λ) on ``a``, λ on ``b`` (none for an unlabelled end),
    one-hot for fixed columns, None for free ones."""
    n = len(lam)
    vocab = model.config["vocab"][column]
    targets = []
    for c in model.conditions:
        if c == column:
            y = torch.zeros(n, len(vocab))
            if a is not None:
                y[:, vocab.index(a)] = 1 - lam
            if b is not None:
                y[:, vocab.index(b)] += lam
            targets.append(y)
        else:
            targets.append(model._one_hot(c, [fixed[c]] * n))
    return targets


def guided_scales(model, column: str, fixed: dict, scale: float) -> list[float]:
    """The strength per column: ``scale`` on the interpolated and the fixed columns, 0 elsewhere."""
    return [float(scale) if (c == column or fixed.get(c) is not None) else 0.0 for c in model.conditions]


def path_output(model, cells, column: str, a, b, lambdas: np.ndarray, M: int, fixed: dict, prov: dict,
                paired: bool = False) -> ad.AnnData:
    """The AnnData every method returns: ``obs['lambda']``, ``obs['point']``, ``obs['start_cell']`` (and
    ``obs['end_cell']`` where a method pairs start and end cells), provenance in ``uns['scdiff']``."""
    K = len(lambdas)
    obs = pd.DataFrame({"lambda": np.repeat(lambdas, M).astype(np.float32),
                        "point": np.repeat(np.arange(K), M), "start_cell": np.tile(np.arange(M), K)})
    if paired:
        obs["end_cell"] = np.tile(np.arange(M), K)
    obs[column] = [f"{end_name(a)}→{end_name(b)}"] * (K * M)
    for c in model.conditions:
        if c != column:
            obs[c] = fixed[c] or ANY
    prov = dict(prov, column=column, start=end_name(a), end=end_name(b), n_points=K, cells_per_point=M,
                start_label=end_label(a) or ANY, end_label=end_label(b) or ANY,
                start_set_size=len(a.vectors) if isinstance(a, CellSet) else 0,
                end_set_size=len(b.vectors) if isinstance(b, CellSet) else 0)
    return model._to_anndata(cells, obs, prov, kind="trajectory")
