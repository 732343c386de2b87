"""Tests for scdiff_core.data.conditions: checking and encoding condition columns."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from scdiff_core.data import conditions
from scdiff_core.errors import DataError


def test_check_conditions_skips_phase_to_compute():
    obs = pd.DataFrame({"ct": ["A", "B"]})
    conditions._check_conditions(obs, ["ct", "phase"], need_phase=True)
    with pytest.raises(DataError, match="'phase' not found.*computed only when"):
        conditions._check_conditions(obs, ["ct", "phase"], need_phase=False)
    with pytest.raises(DataError, match="Available columns: 'ct'\\.$"):
        conditions._check_conditions(obs, ["other"], need_phase=True)


def test_check_condition_counts_skips_phase_to_compute():
    obs = pd.DataFrame({"ct": ["A", "B", "A", "B"], "phase": ["G1"] * 4})
    conditions._check_condition_counts(obs, ["ct", "phase"], True, 2)
    with pytest.raises(DataError, match="'phase' has a single value"):
        conditions._check_condition_counts(obs, ["ct", "phase"], False, 2)


def test_check_condition_values_computed_phase_message():
    with pytest.raises(DataError, match="\\(the computed phase\\) has a single value.*leave 'phase' out"):
        conditions._check_condition_values(pd.Series(["G1"] * 5), "phase", 2, computed=True)


def test_vocabularies_encode_in_place():
    obs = pd.DataFrame({"ct": ["b", "a", "b"], "n": [2, 10, 2], "other": [1.0, 2.0, 3.0]})
    vocab, counts = conditions._vocabularies(obs, ["ct", "n"])
    assert vocab == {"ct": ["a", "b"], "n": ["10", "2"]}  # sorted as strings
    assert counts == {"ct": {"a": 1, "b": 2}, "n": {"10": 1, "2": 2}}
    assert isinstance(obs["ct"].dtype, pd.CategoricalDtype) and obs["other"].dtype == np.float64
    assert list(conditions._to_categorical(pd.Series(["x", "y"])).categories) == ["x", "y"]
