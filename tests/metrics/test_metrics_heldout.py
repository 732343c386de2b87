"""Evaluating generated cells against a checkpoint's held-out cells (scdiff_core.metrics.heldout)."""
import pytest

from scdiff_core.errors import ScdiffError
from scdiff_core.evaluation import HeldOut


@pytest.fixture(scope="module")
def held(tiny_model):
    return HeldOut(tiny_model)


def test_held_out_split_matches_checkpoint(held, tiny_model):
    split = tiny_model.config["split"]
    assert list(held.train.obs_names) == split["train"]
    assert list(held.test.obs_names) == split["test"]
    assert list(held.test.var_names) == tiny_model.genes


def test_evaluate_generated_has_control_row(held, tiny_model, monkeypatch):
    import scdiff_core.metrics as M

    monkeypatch.setattr(M, "rf_auroc", lambda a, b, seed=0: 0.5)  # the forest is tested in test_metrics_distances
    gen = tiny_model.generate([({"cell_type": k}, n) for k, n in held.test_counts().items()], seed=0)
    rep = held.evaluate(gen)
    s = rep.summary()
    assert set(s["set"]) == {"generated", "control"}
    gen_row = s[s["set"] == "generated"].iloc[0]
    assert gen_row["n"] == sum(held.test_counts().values())
    assert 0 <= gen_row["label_fidelity"] <= 1


def test_evaluate_rejects_unlabelled(held, tiny_model):
    gen = tiny_model.generate({"phase": "S"}, 10)
    with pytest.raises(ScdiffError, match="any"):
        held.evaluate(gen)


def test_old_import_path_is_the_same_class():
    from scdiff_core.metrics import HeldOut as FromMetrics
    from scdiff_core.metrics.heldout import HeldOut as FromModule

    assert HeldOut is FromMetrics is FromModule
