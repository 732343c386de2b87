"""Trajectory evaluation (scdiff_core.metrics.trajectory) on synthetic paths and time courses."""
import numpy as np
import pytest

from scdiff_core.metrics.trajectory import (diffusion_pseudotime, per_lambda_realism, pseudotime_order,
                                            time_course_placement)


def _course(seed=0, n=60, times=(0, 1, 2, 3, 4), continuous=False):
    """Real cells along a curved 1-d manifold in 5-d, one cluster per time point (``continuous``:
    spread evenly along it instead, so that a neighbour graph of them is connected)."""
    rng = np.random.default_rng(seed)
    s = np.concatenate([np.full(n, t, float) for t in times]) / max(times)
    if continuous:
        s = np.sort(rng.uniform(0, 1, len(s)))
    X = np.stack([np.cos(2 * s), np.sin(2 * s), s, np.zeros_like(s), np.zeros_like(s)], 1)
    return X + 0.05 * rng.standard_normal(X.shape), np.repeat(np.asarray(times), n), s


def _path(seed=1, m=50, k=11, off=0.0):
    rng = np.random.default_rng(seed)
    lam = np.repeat(np.linspace(0, 1, k), m)
    X = np.stack([np.cos(2 * lam), np.sin(2 * lam), lam, np.zeros_like(lam), np.zeros_like(lam)], 1)
    X[:, 3] += off
    return X + 0.05 * rng.standard_normal(X.shape), lam


def test_time_course_placement_orders_time_points():
    real, times, _ = _course()
    gen, lam = _path()
    r = time_course_placement(gen, lam, real, times)
    assert r["order"] == ["0", "1", "2", "3", "4"] and r["placed_order"] == r["order"]
    assert r["in_order"] and r["intermediates_between_ends"] and r["spearman_cells"] > 0.9
    assert np.allclose(r["mean_lambda"], [0, 0.25, 0.5, 0.75, 1], atol=0.08)
    # a path drawn backwards places the time points in reverse
    back = time_course_placement(gen, 1 - lam, real, times)
    assert not back["in_order"] and back["spearman_cells"] < -0.9
    # an explicit order, and string labels
    r2 = time_course_placement(gen, lam, real, np.array([f"d{t}" for t in times]), order=["d0", "d2", "d4"])
    assert r2["order"] == ["d0", "d2", "d4"] and r2["in_order"] and sum(r2["n"]) == 180


def test_pseudotime_order_and_realism():
    real, _, s = _course(continuous=True)
    gen, lam = _path()
    po = pseudotime_order(gen, lam, real, s)
    assert po["strictly_increasing"] and po["spearman_cells"] > 0.9 and len(po["mean_pseudotime"]) == 11
    on = per_lambda_realism(gen, lam, real, seed=0)
    off_gen, _ = _path(off=0.6)  # the same path, lifted off the manifold
    off = per_lambda_realism(off_gen, lam, real, seed=0)
    assert len(on) == 11 and all(r["n"] >= 10 for r in on)
    assert np.nanmean([r["rf_auroc"] for r in on]) < 0.75
    assert np.nanmean([r["rf_auroc"] for r in off]) > 0.9


def test_diffusion_pseudotime_rises_along_the_course():
    real, _, s = _course(n=30, continuous=True)
    pt = diffusion_pseudotime(real, root=int(np.argmin(s)))
    from scipy.stats import spearmanr

    assert spearmanr(s, pt)[0] > 0.8


def test_placement_needs_two_time_points():
    real, times, _ = _course()
    gen, lam = _path()
    with pytest.raises(ValueError, match="two time points"):
        time_course_placement(gen, lam, real, times, order=[0])
