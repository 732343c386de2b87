"""How long a generation will take on this machine, said before it runs.

Transformer denoisers (DiT, CRATE) sample several times slower than the MLP, so a front end should
say "about 12 s" before the click. :func:`estimate_seconds` times four tiny runs of the real
sampler (64 and 256 cells, 2 and 6 steps) and fits

    seconds ≈ c₀ + c₁·n + steps·(a + b·n)

(fixed cost, per-cell decoding, and each step's fixed and per-cell cost), then predicts any
``n`` and ``steps``. The probes cost about as much as generating a few hundred cells once and are
cached per model, guidance mode and sampler; the current thread setting is what is measured.
"""
from __future__ import annotations

import time

import numpy as np

PROBES = ((64, 2), (256, 2), (64, 6), (256, 6))


def _fit(model, guidance: str, sampler: str) -> np.ndarray:
    cond = {c: model.vocab[c][0] for c in model.conditions[:1]}
    rows, ts = [], []
    model.generate(cond, 16, guidance=guidance, sampler=sampler, steps=2)  # warm-up (first-call costs)
    for n, s in PROBES:
        t = time.perf_counter()
        model.generate(cond, n, guidance=guidance, sampler=sampler, steps=s)
        ts.append(time.perf_counter() - t)
        rows.append([1.0, n, s, s * n])
    coef, *_ = np.linalg.lstsq(np.array(rows), np.array(ts), rcond=None)
    return np.maximum(coef, 0.0)  # timing noise must not make a cost negative


def estimate_seconds(model, n_cells: int, *, guidance: str = "free", sampler: str = "ddim", steps: int = 50) -> float:
    """Predicted wall time of ``model.generate(..., n_cells, guidance=…, sampler=…, steps=…)``.

    The first call for a (guidance, sampler) pair runs the probes (about a second for the MLP,
    a few for the transformers); later calls are instant.
    """
    cache = model.__dict__.setdefault("_timing_fits", {})
    key = (guidance, sampler)
    if key not in cache:
        cache[key] = _fit(model, guidance, sampler)
    c0, c1, a, b = cache[key]
    n_steps = min(int(steps), model.diffusion.num_timesteps)  # what the sampler's grid holds
    return float(c0 + c1 * n_cells + n_steps * (a + b * n_cells))
