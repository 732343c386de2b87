"""Guidance defaults calibrated on validation cells (scdiff_core.calibration)."""
import numpy as np
import pytest


@pytest.fixture(scope="module")
def held(tiny_model):
    from scdiff_core.evaluation import HeldOut

    return HeldOut(tiny_model)


def test_calibration_picks_the_strength_closest_to_real_fidelity(tiny_model, held):
    from scdiff_core.calibration import calibrate_guidance

    cal = calibrate_guidance(tiny_model, held.train, held.val, modes=("free",), grid=(0.5, 2.0, 5.0), n_max=90)
    assert set(cal["free"]) == set(tiny_model.conditions)
    for col in tiny_model.conditions:
        rep = cal["report"]["free"][col]
        assert set(rep["fidelity"]) == {0.5, 2.0, 5.0}
        gaps = {s: abs(f - rep["control"]) for s, f in rep["fidelity"].items()}
        assert cal["free"][col] == min(gaps, key=lambda s: (gaps[s], s))
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
    for mode in ("free", "classifier"):
        assert set(cal[mode]) == set(m.conditions)
        assert m.default_scales(mode) == cal[mode]
