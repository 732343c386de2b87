"""Property-based tests (hypothesis): parsing and checking user input never fails any other way than
with a clear ScdiffError, and what it accepts is what it promises."""
from __future__ import annotations

import argparse
import json
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from scdiff_core import validate as V
from scdiff_core.cli.args import condition_pairs, count_arg, seed_arg, threads_arg, typed
from scdiff_core.common import Label
from scdiff_core.data import detect_kind
from scdiff_core.errors import DataError, ScdiffError
from scdiff_core.train_config import TrainConfig

FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)


# ------------------------------------------------------------------------------------ conditions
@FAST
@given(st.lists(st.tuples(text.filter(lambda k: "=" not in k), text), max_size=6))
def test_condition_pairs_strip_and_refuse_contradictions(pairs):
    items = [f"{k}={v}" for k, v in pairs]
    try:
        out = condition_pairs(items)
    except ScdiffError as e:
        assert "\n" not in str(e)
        keys = [k.strip() for k, _ in pairs]
        assert any(not k for k in keys) or any(
            keys[i] == keys[j] and pairs[i][1].strip() != pairs[j][1].strip()
            for i in range(len(keys)) for j in range(i))
        return
    for k, v in pairs:
        got = out[k.strip()]
        if v.strip().startswith("="):
            assert isinstance(got, Label) and got == v.strip()[1:].strip()
        else:
            assert got == v.strip() and not isinstance(got, Label)


@FAST
@given(text)
def test_condition_without_equals_is_refused(item):
    if "=" in item:
        return
    with pytest.raises(ScdiffError, match="column=value"):
        condition_pairs([item])


def test_label_escape_asks_for_a_label_named_any():
    from scdiff_core.requests import check_conditions

    vocab = {"cell_type": ["A", "any"], "phase": ["G1"]}
    assert check_conditions(["cell_type", "phase"], vocab, condition_pairs(["cell_type==any"])) == \
        {"cell_type": "any", "phase": None}
    assert check_conditions(["cell_type", "phase"], vocab, condition_pairs(["cell_type=any"]))["cell_type"] is None
    assert check_conditions(["cell_type", "phase"], {"cell_type": [" A "], "phase": ["G1"]},
                            {"cell_type": "A"})["cell_type"] == " A "


def test_long_vocabularies_are_listed_briefly():
    from scdiff_core.requests import match

    with pytest.raises(ScdiffError) as e:
        match([f"type number {i} with a long name" for i in range(500)], "c", "nope")
    assert "… and 480 more" in str(e.value) and len(str(e.value)) < 1200


# ------------------------------------------------------------------------------------ numbers
number_text = st.one_of(text, st.integers(-2**80, 2**80).map(str), st.floats(allow_nan=True).map(repr),
                        st.sampled_from(["nan", "inf", "-inf", "1e9", "2**70", "0x10", " 7 ", "1_000", "-0"]))


@FAST
@given(number_text)
def test_whole_number_options(v):
    for conv, lo, hi in ((seed_arg, 0, V.SEED_MAX), (threads_arg, 1, V.MAX_THREADS), (count_arg("--cells", 1, 10), 1, 10)):
        try:
            n = conv(v)
        except argparse.ArgumentTypeError as e:
            assert "\n" not in str(e) and "whole number" in str(e)
            continue
        assert isinstance(n, int) and lo <= n <= hi and n == int(v.strip().replace("_", ""))


@FAST
@given(number_text)
def test_real_options(v):
    for conv, lo, hi in ((typed(V.eta, "--eta"), 0, 1), (typed(V.scale, "--scale"), -50, 50),
                         (typed(V.t_start, "--t-start"), 0, 1)):
        try:
            f = conv(v)
        except argparse.ArgumentTypeError as e:
            assert "\n" not in str(e) and "finite number" in str(e)
            continue
        assert math.isfinite(f) and lo <= f <= hi


# ------------------------------------------------------------------------------------ --config
json_values = st.recursive(st.none() | st.booleans() | st.integers(-10**15, 10**15) | st.floats() | text,
                           lambda kids: st.lists(kids, max_size=4) | st.dictionaries(text, kids, max_size=4),
                           max_leaves=12)
field_names = st.sampled_from(sorted(TrainConfig.__dataclass_fields__))


@FAST
@given(st.dictionaries(field_names, json_values, max_size=5))
def test_config_objects_are_checked_not_crashed(d):
    try:
        cfg = TrainConfig.from_dict(d).validate()
    except ScdiffError as e:
        assert "\n" not in str(e)
        return
    assert 2 <= cfg.latent_dim <= 4096 and all(1 <= w <= 16384 for w in cfg.ae_hidden)
    assert isinstance(cfg.backbone_hparams, dict) and 0 <= cfg.p_uncond < 1


@FAST
@given(st.one_of(text, json_values.map(json.dumps), st.integers(1, 3000).map(lambda n: "[" * n + "]" * n)))
def test_config_text(t):
    try:
        obj = V.json_object(V.parse_json(t, "--config", max_depth=64), "--config")
    except ScdiffError as e:
        assert "\n" not in str(e)
        return
    assert isinstance(obj, dict)


# ------------------------------------------------------------------------------------ preprocessing detection
matrices = arrays(np.float64, st.tuples(st.integers(1, 6), st.integers(1, 6)),
                  elements=st.one_of(st.integers(0, 50).map(float), st.floats(-5, 40),
                                     st.sampled_from([np.nan, np.inf, -np.inf])))


@FAST
@given(matrices)
def test_detect_kind(X):
    try:
        kind = detect_kind(X)
    except DataError as e:
        assert "\n" not in str(e)
        assert not np.isfinite(X).all() or (X < 0).any() or (X.max() >= 30 and not np.array_equal(X, np.round(X)))
        return
    assert np.isfinite(X).all() and (X >= 0).all()
    assert kind == ("counts" if np.array_equal(X, np.round(X)) else "lognorm")
