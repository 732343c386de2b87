"""Tests for scdiff_core.data.split: condition strata and the train/val/test split."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from scdiff_core import data as D
from scdiff_core.data import split
from scdiff_core.errors import DataError

def test_split_cells_properties():
    rng = np.random.default_rng(0)
    names = [f"c{i}" for i in range(200)]
    strata = rng.choice(["A|G1", "A|S", "B|G1", "B|S"], size=200, p=[0.4, 0.3, 0.2, 0.1])
    s = D.split_cells(names, strata, seed=0)
    all_cells = s["train"] + s["val"] + s["test"]
    assert sorted(all_cells) == sorted(names) and len(set(all_cells)) == 200
    lab = dict(zip(names, strata))
    for st in set(strata):
        n = int((strata == st).sum())
        k = {part: sum(lab[c] == st for c in s[part]) for part in s}
        assert k["train"] >= 1 and k["val"] >= 1 and k["test"] >= 1
        assert abs(k["train"] - 0.6 * n) <= 2 and abs(k["test"] - 0.2 * n) <= 2
    assert D.split_cells(names, strata, seed=0) == s
    assert D.split_cells(names, strata, seed=1) != s


def test_split_cells_small_strata():
    names = ["a", "b", "c", "d", "e", "f"]
    strata = ["one", "two", "two", "three", "three", "three"]
    s = D.split_cells(names, strata, seed=3)
    where = {c: part for part, cells in s.items() for c in cells}
    assert where["a"] == "train"
    assert sorted([where["b"], where["c"]]) == ["test", "train"]
    assert sorted(where[c] for c in "def") == ["test", "train", "val"]
    # unstratified and degenerate fractions
    u = D.split_cells(names, None, fractions=(1, 0, 0))
    assert u == {"train": names, "val": [], "test": []}


def test_split_cells_errors():
    with pytest.raises(DataError, match="one label per cell"):
        D.split_cells(["a", "b"], ["x"])
    with pytest.raises(DataError, match="fractions"):
        D.split_cells(["a", "b"], ["x", "x"], fractions=(0, 0.5, 0.5))
    with pytest.raises(DataError, match="not unique"):
        D.split_cells(["a", "a"], ["x", "x"])


def test_condition_strata():
    obs = pd.DataFrame({"a": ["x", "y"], "b": pd.Categorical(["1", "2"])})
    assert list(D.condition_strata(obs, ["a", "b"])) == ["x|1", "y|2"]
    assert list(D.condition_strata(obs, [])) == ["", ""]



@pytest.mark.parametrize(
    "m, f_val, f_test, expected",
    [
        (10, 0.2, 0.2, (6, 2, 2)),
        (3, 0.2, 0.2, (1, 1, 1)),  # at least one cell in every split
        (3, 0.7, 0.2, (1, 1, 1)),  # val gives a cell back so train is not empty
        (3, 0.1, 0.8, (1, 1, 1)),  # test gives a cell back
        (4, 0.45, 0.45, (1, 1, 2)),  # a tie: val gives back first
        (2, 0.0, 0.5, (1, 0, 1)),
        (5, 0.0, 0.0, (5, 0, 0)),
    ],
)
def test_stratum_sizes(m, f_val, f_test, expected):
    sizes = split._stratum_sizes(m, f_val, f_test)
    assert sizes == expected and sum(sizes) == m


def test_check_fractions_normalizes():
    np.testing.assert_allclose(split._check_fractions((3, 1, 1)), [0.6, 0.2, 0.2])
    with pytest.raises(DataError, match="three numbers"):
        split._check_fractions(("a", 1, 1))
    with pytest.raises(DataError, match="train > 0"):
        split._check_fractions((1, np.nan, 1))
