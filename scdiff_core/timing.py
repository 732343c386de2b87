"""How long a generation will take on this machine, said before it runs.

Transformer denoisers (DiT, CRATE) sample several times slower than the MLP, so a front end should
say "about 12 s" before the click. :func:`estimate_seconds` times the real sampler on 256 cells with
2 and with 8 steps (each twice, the faster kept): the difference is the cost of a step, the rest the
fixed cost (noise, decoding, placement); both are scaled linearly with the number of cells. The
probe asks for as many condition columns as the request guides: classifier-free guidance evaluates
the network once per guided column and once without a condition, so "Dendritic in G1" costs up to
1.5x "Dendritic" (shipped pbmc68k_dit, 1 thread, 1,000 cells, another job on the cores: a one-column
probe said 4.5 s, the two-column probe 7.8 s, the run took 8.1 s). Batches
of 256 carry more per-call overhead than large ones, so the estimate errs on the slow side for
thousands of cells. The probes are cached per model, guidance mode, sampler and number of guided
columns; the current thread setting is what is measured.

A probe taken while the machine is busy (a server starting, a browser drawing) can be several
times too slow, and it would stay so. :func:`record_run` corrects that: after a real run, the
probes keep giving the *shape* (how time grows with cells and steps) and the last real run gives
the *scale*, so later estimates are what this machine did a moment ago.
"""
from __future__ import annotations

import time

import numpy as np

PROBE_CELLS = 256
PROBE_STEPS = (2, 8)


def _timed(model, cond, guidance, sampler, steps) -> float:
    best = np.inf
    for _ in range(2):
        t = time.perf_counter()
        model.generate(cond, PROBE_CELLS, guidance=guidance, sampler=sampler, steps=steps)
        best = min(best, time.perf_counter() - t)
    return float(best)


def _fit(model, guidance: str, sampler: str, columns: int = 1) -> tuple[float, float]:
    """(fixed seconds, seconds per step) for :data:`PROBE_CELLS` cells, the first ``columns`` columns guided."""
    cond = {c: model.vocab[c][0] for c in model.conditions[:columns]}
    model.generate(cond, 16, guidance=guidance, sampler=sampler, steps=2)  # warm-up (first-call costs)
    lo, hi = PROBE_STEPS
    t_lo, t_hi = (_timed(model, cond, guidance, sampler, s) for s in (lo, hi))
    per_step = max(0.0, (t_hi - t_lo) / (hi - lo))  # timing noise must not make a cost negative
    return max(0.0, t_lo - lo * per_step), per_step


def _cost_mode(guidance: str) -> str:
    """Modes that cost the same share one probe: chained makes the same network calls as free."""
    return "free" if guidance == "chained" else guidance


def _columns(model, columns: int) -> int:
    return max(0, min(int(columns), len(model.conditions)))


def _probe_estimate(model, n_cells: int, guidance: str, sampler: str, steps: int, columns: int = 1) -> float:
    cache = model.__dict__.setdefault("_timing_fits", {})
    guidance = _cost_mode(guidance)
    key = (guidance, sampler, _columns(model, columns))
    if key not in cache:
        cache[key] = _fit(model, guidance, sampler, key[2])
    fixed, per_step = cache[key]
    n_steps = min(int(steps), model.diffusion.num_timesteps)  # what the sampler's grid holds
    return float((fixed + n_steps * per_step) * max(int(n_cells), 64) / PROBE_CELLS)


def record_run(model, n_cells: int, seconds: float, *, guidance: str = "free", sampler: str = "ddim",
               steps: int = 50, columns: int = 1) -> None:
    """Tell the estimator how long a real run took (it rescales later estimates for this mode and sampler,
    whatever the number of guided columns: the scale is the machine's pace)."""
    predicted = _probe_estimate(model, n_cells, guidance, sampler, steps, columns)
    if predicted > 0 and seconds > 0:
        model.__dict__.setdefault("_timing_scale", {})[(_cost_mode(guidance), sampler)] = float(seconds) / predicted


def estimate_seconds(model, n_cells: int, *, guidance: str = "free", sampler: str = "ddim", steps: int = 50,
                     columns: int = 1) -> float:
    """Predicted wall time of ``model.generate(..., n_cells, guidance=…, sampler=…, steps=…)`` for a
    request that guides ``columns`` condition columns (a value other than *any*, strength not 0).

    The first call for a (guidance, sampler, columns) triple runs the probes (well under a second
    for the MLP, a few seconds for the transformers); later calls are instant.
    """
    scale = model.__dict__.get("_timing_scale", {}).get((_cost_mode(guidance), sampler), 1.0)  # from record_run
    return scale * _probe_estimate(model, n_cells, guidance, sampler, steps, columns)
