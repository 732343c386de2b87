"""Training options: the split, excluded combinations, config round-trip."""
import pytest

from scdiff_core.errors import ScdiffError
from scdiff_core.training import TrainConfig, _split


def test_split_is_stratified_and_disjoint(tiny_prep):
    s = _split(tiny_prep, TrainConfig())
    ids = s["train"] + s["val"] + s["test"]
    assert len(ids) == len(set(ids)) == tiny_prep.adata.n_obs
    assert abs(len(s["train"]) / len(ids) - 0.6) < 0.05


def test_exclude_moves_combination_to_test(tiny_prep):
    s = _split(tiny_prep, TrainConfig(exclude=[{"cell_type": "A", "phase": "S"}]))
    obs = tiny_prep.adata.obs
    combo = obs.index[(obs["cell_type"] == "A") & (obs["phase"] == "S")]
    assert len(combo) > 0
    assert set(combo) <= set(s["test"])
    assert not set(combo) & (set(s["train"]) | set(s["val"]))


@pytest.mark.parametrize("exclude,msg", [
    ([{"tissue": "x"}], "not a condition"),
    ([{"cell_type": "Z"}], "not a value"),
    ([{"cell_type": "A"}], "no training cells"),
    (["A"], "combinations like"),
])
def test_exclude_errors(tiny_prep, exclude, msg):
    with pytest.raises(ScdiffError, match=msg):
        _split(tiny_prep, TrainConfig(exclude=exclude))


def test_config_round_trip():
    c = TrainConfig(latent_dim=8, ae_hidden=(32, 16), exclude=[{"a": "b"}])
    assert TrainConfig.from_dict(c.to_dict()) == c
    with pytest.raises(ScdiffError, match="Unknown training option"):
        TrainConfig.from_dict({"learning_rate": 1})
