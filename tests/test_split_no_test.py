"""--split TRAIN,VAL,0: a model without a test set is evaluated against half of its validation cells, said so."""
import pytest


@pytest.mark.slow
def test_model_without_test_set_evaluates_on_validation_halves(tiny_prep, tmp_path, tiny_config):
    from scdiff_core.evaluation import HeldOut
    from scdiff_core.training import TrainConfig, train

    cfg = TrainConfig(**{**tiny_config, "diffusion_iters": 200, "classifier_iters": 100, "ae_epochs": 30},
                      split=(0.7, 0.3, 0.0))
    model = train(tiny_prep, tmp_path / "m", cfg)
    assert model.config["split"]["test"] == []
    held = HeldOut(model)
    assert held.test.n_obs > 0 and held.val.n_obs > 0
    assert set(held.test.obs_names).isdisjoint(held.val.obs_names)
    assert set(held.test.obs_names) | set(held.val.obs_names) == set(model.config["split"]["val"])
    gen = model.generate({"cell_type": "A"}, 30, seed=0)
    report = held.evaluate(gen, per_label=False)
    assert "without a test set" in report.notes[0]
