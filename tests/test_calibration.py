"""Guidance defaults calibrated on validation cells (scdiff_core.calibration)."""
import numpy as np
import pytest


@pytest.fixture(scope="module")
def held(tiny_model):
    from scdiff_core.evaluation import HeldOut

    return HeldOut(tiny_model)


def test_crossing_interpolates_between_the_grid_points_around_the_target():
    from scdiff_core.calibration import crossing

    f = {0.5: 0.34, 1.0: 0.672, 1.25: 0.768, 2.0: 0.89}  # paul15's cluster column, measured
    assert crossing(f, 0.7256) == pytest.approx(1.0 + (0.7256 - 0.672) / (0.768 - 0.672) * 0.25, abs=1e-3)
    assert crossing(f, 0.2) == 0.5 and crossing(f, 0.95) == 2.0  # never reached: the closest grid point
    assert crossing({1.0: 0.5, 2.0: 0.7, 3.0: 0.6, 4.0: 0.8}, 0.65) == pytest.approx(1.75)  # the first crossing
    assert crossing({1.0: 0.6, 2.0: 0.6}, 0.6) == 1.0  # flat at the target: the weaker
    assert crossing({1.0: float("nan"), 2.0: 0.7}, 0.5) == 2.0


def test_calibration_picks_the_strength_where_fidelity_meets_real_fidelity(tiny_model, held):
    from scdiff_core.calibration import calibrate_guidance, crossing

    cal = calibrate_guidance(tiny_model, held.train, held.val, modes=("free",), grid=(0.5, 2.0, 5.0), n_max=90)
    assert set(cal["free"]) == set(tiny_model.conditions)
    for col in tiny_model.conditions:
        rep = cal["report"]["free"][col]
        assert set(rep["fidelity"]) == {0.5, 2.0, 5.0}
        assert cal["free"][col] == crossing(rep["fidelity"], rep["control"])
        assert 0.5 <= cal["free"][col] <= 5.0
        assert 0 <= rep["control"] <= 1
    # stronger guidance on the cell type makes the cells look more like the type asked for
    f = cal["report"]["free"]["cell_type"]["fidelity"]
    assert f[5.0] >= f[0.5]


def test_calibrated_defaults_are_what_generate_uses(tiny_model):
    import copy

    from scdiff_core.model import SCDiffModel

    cfg = copy.deepcopy(tiny_model.config)
    cfg["guidance_defaults"]["calibrated"] = {"free": {"cell_type": 3.0, "phase": 0.5}, "report": {}, "command": "x"}
    m = SCDiffModel(cfg, tiny_model.autoencoder, tiny_model.denoiser, tiny_model.classifiers, tiny_model.stats,
                    tiny_model.reference)
    assert m.default_scales("free") == {"cell_type": 3.0, "phase": 0.5}
    assert m.default_scales("classifier") == {c: float(cfg["guidance_defaults"]["classifier"]) for c in m.conditions}
    # chained never calibrated on this two-column model: the plain default (1 = the joint conditional)
    assert m.default_scales("chained") == {c: float(cfg["guidance_defaults"]["free"]) for c in m.conditions}
    a = m.generate({"cell_type": "A"}, 20, seed=0)
    assert dict(a.uns["scdiff"]["scales"]) == {"cell_type": 3.0, "phase": 0.5}
    b = m.generate({"cell_type": "A"}, 20, seed=0, scales={"cell_type": 3.0, "phase": 0.5})
    np.testing.assert_array_equal(a.X, b.X)


@pytest.mark.slow
def test_training_stores_calibrated_defaults(tiny_prep, tmp_path, tiny_config):
    from scdiff_core.model import SCDiffModel
    from scdiff_core.training import TrainConfig, train

    cfg = TrainConfig(**{**tiny_config, "calibrate": True, "diffusion_iters": 200, "classifier_iters": 100,
                         "ae_epochs": 20})
    train(tiny_prep, tmp_path / "m", cfg)
    m = SCDiffModel.load(tmp_path / "m")
    cal = m.config["guidance_defaults"]["calibrated"]
    for mode in ("free", "chained", "classifier"):  # two columns: the chained composition is calibrated too
        assert set(cal[mode]) == set(m.conditions)
        assert m.default_scales(mode) == cal[mode]


def test_one_column_chained_shares_the_classifier_free_calibration(tiny_model):
    import copy

    from scdiff_core.calibration import calibrated_defaults

    cfg = copy.deepcopy(tiny_model.config)
    cfg["conditions"] = ["cell_type"]
    cfg["guidance_defaults"]["calibrated"] = {"free": {"cell_type": 2.5}, "report": {}}
    assert calibrated_defaults(cfg)["chained"] == {"cell_type": 2.5}
