"""MMD², energy distance and the classifier two-sample test (scdiff_core.metrics.distances)."""
from __future__ import annotations

import math

import numpy as np
import pytest

from scdiff_core.metrics import energy_distance, mmd2_unbiased, rf_auroc

# ------------------------------------------------------------------------------------------
# MMD²
# ------------------------------------------------------------------------------------------


def _sigma2s(X):
    from scipy.spatial.distance import pdist

    med = np.median(pdist(X, "sqeuclidean"))
    return [f * med for f in (0.25, 0.5, 1, 2, 4)]


def test_mmd_same_distribution_near_zero_and_shifted_positive():
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(300, 5)), rng.normal(size=(300, 5))
    s2 = _sigma2s(X)
    assert abs(mmd2_unbiased(X, Y, s2)) < 0.01
    assert mmd2_unbiased(X, Y + 1.0, s2) > 0.05


def test_mmd_unbiased_can_be_negative():
    rng = np.random.default_rng(1)
    vals = [mmd2_unbiased(rng.normal(size=(30, 3)), rng.normal(size=(30, 3)), [1.0, 2.0]) for _ in range(10)]
    assert min(vals) < 0 < max(vals)


def test_mmd_matches_brute_force():
    rng = np.random.default_rng(2)
    X, Y = rng.normal(size=(5, 3)), rng.normal(size=(4, 3)) + 0.3
    s2 = [0.5, 1.0, 3.0]

    def k(a, b):
        d2 = float(((a - b) ** 2).sum())
        return sum(math.exp(-d2 / (2 * s)) for s in s2) / len(s2)

    m, n = len(X), len(Y)
    kxx = sum(k(X[i], X[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    kyy = sum(k(Y[i], Y[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    kxy = sum(k(X[i], Y[j]) for i in range(m) for j in range(n)) / (m * n)
    assert mmd2_unbiased(X, Y, s2) == pytest.approx(kxx + kyy - 2 * kxy, rel=1e-10, abs=1e-12)
    assert math.isnan(mmd2_unbiased(X[:1], Y, s2))


# ------------------------------------------------------------------------------------------
# energy distance, classifier test
# ------------------------------------------------------------------------------------------


def test_energy_matches_hand_computation():
    rng = np.random.default_rng(3)
    X, Y = rng.normal(size=(5, 3)), rng.normal(size=(4, 3)) + 0.5
    d = lambda a, b: float(np.sqrt(((a - b) ** 2).sum()))  # noqa: E731
    m, n = len(X), len(Y)
    exy = sum(d(x, y) for x in X for y in Y) / (m * n)
    exx = sum(d(X[i], X[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    eyy = sum(d(Y[i], Y[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    assert energy_distance(X, Y) == pytest.approx(2 * exy - exx - eyy, rel=1e-10)


def test_energy_nonnegative_for_different_sets_and_small_for_same():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(200, 4))
    assert energy_distance(X, rng.normal(size=(200, 4)) + 1.0) > 0.3
    assert abs(energy_distance(X, rng.normal(size=(200, 4)))) < 0.1


def test_rf_auroc_same_vs_shifted():
    rng = np.random.default_rng(5)
    X = rng.normal(size=(150, 5))
    assert rf_auroc(X, rng.normal(size=(150, 5)), seed=0) < 0.65
    assert rf_auroc(X, rng.normal(size=(150, 5)) + 1.5, seed=0) > 0.9
    assert math.isnan(rf_auroc(X[:9], X[9:30]))
