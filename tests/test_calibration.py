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

    cal = calibrate_guidance(tiny_model, held.train, held.val, modes=("free",), grid=(0.5, 2.0, 5.0), n_max=90,
                             stop_early=False)
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


def test_stopping_at_the_first_crossing_chooses_what_the_whole_grid_would(tiny_model, held):
    from scdiff_core.calibration import calibrate_guidance

    grid = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0)
    kw = dict(modes=("free",), grid=grid, n_max=90)
    full = calibrate_guidance(tiny_model, held.train, held.val, stop_early=False, **kw)
    seen = []
    early = calibrate_guidance(tiny_model, held.train, held.val, progress=lambda d, t: seen.append((d, t)), **kw)
    assert early["free"] == full["free"]
    tried = 0
    for col in tiny_model.conditions:
        f_full, f_early = full["report"]["free"][col]["fidelity"], early["report"]["free"][col]["fidelity"]
        tried_here = sorted(f_early)
        assert tried_here[-1] == max(grid)  # the strongest is always tried, with the weakest
        scanned = tried_here if early["report"]["free"][col]["ends_only"] is False else tried_here[:1]
        assert scanned[:-1] == sorted(grid)[:len(scanned) - 1]  # plus a prefix of the grid, weakest first
        assert f_early == {g: f_full[g] for g in f_early}  # the same cells, so the same fidelities
        tried += len(f_early)
    assert seen[-1] == (2 * len(grid), 2 * len(grid))  # the bar ends full however many were skipped
    assert len(seen) >= tried


class _FakeModel:
    """Just what calibrate_guidance calls: generate() hands back the strength asked for."""
    conditions = ["cell_type"]
    classifiers = {}

    def __init__(self):
        self.tried = []

    def _scales(self, scales, mode):
        return {"cell_type": 1.0}

    def generate(self, groups, *, guidance, scales, steps, seed):
        self.tried.append(scales["cell_type"])
        return scales["cell_type"]


def _fake_fidelity(monkeypatch, curve, control=0.7):
    import scdiff_core.calibration as cal

    class Fid:
        def __init__(self, model, train):
            pass

        def __call__(self, cells, requested, column, seed=0):
            return curve(cells) if isinstance(cells, float) else control

    monkeypatch.setattr(cal, "_Fidelity", Fid)


def test_a_model_that_never_reaches_the_real_fidelity_is_tried_at_the_ends_only(monkeypatch):
    import anndata as ad
    import pandas as pd

    from scdiff_core.calibration import calibrate_guidance

    val = ad.AnnData(np.zeros((4, 2), np.float32), obs=pd.DataFrame({"cell_type": ["a", "a", "b", "b"]}))
    grid = (0.5, 1.0, 2.0, 4.0, 6.0)
    for curve, chosen in ((lambda s: 0.1 + 0.02 * s, 6.0),  # too weak everywhere: the strongest
                          (lambda s: 0.9 + 0.01 * s, 0.5)):  # past the target already: the weakest
        _fake_fidelity(monkeypatch, curve)
        m = _FakeModel()
        seen = []
        out = calibrate_guidance(m, val, val, modes=("free",), grid=grid, progress=lambda d, t: seen.append((d, t)))
        assert sorted(m.tried) == [0.5, 6.0]
        assert out["free"]["cell_type"] == chosen
        assert out["report"]["free"]["cell_type"]["ends_only"] is True
        assert seen[-1] == (len(grid), len(grid))  # the bar still ends full
    # a crossing between the ends: the weakest-first scan finds it and stops there
    _fake_fidelity(monkeypatch, lambda s: 0.3 * s)  # 0.6 at 2, 1.2 at 4: crosses 0.7 between them
    m = _FakeModel()
    out = calibrate_guidance(m, val, val, modes=("free",), grid=grid + (8.0,))
    assert m.tried == [0.5, 8.0, 1.0, 2.0, 4.0]  # the ends, then weakest first up to the crossing; 6 untried
    assert out["free"]["cell_type"] == pytest.approx(2.0 + (0.7 - 0.6) / (1.2 - 0.6) * 2.0, abs=1e-3)
    assert out["report"]["free"]["cell_type"]["ends_only"] is False


def test_the_calibrate_command_rewrites_the_defaults_and_says_what_it_chose(tiny_model_dir, tmp_path, capsys):
    import json
    import shutil

    from scdiff_core.cli import main

    ck = tmp_path / "ck"
    shutil.copytree(tiny_model_dir, ck)
    assert main(["calibrate", "--checkpoint", str(ck), "--threads", "1"]) == 0
    out = capsys.readouterr().out
    cal = json.loads((ck / "config.json").read_text())["guidance_defaults"]["calibrated"]
    for mode in ("free", "chained", "classifier"):
        for col, s in cal[mode].items():
            assert f"{mode:10s} {col}: strength {s:g} (validation cells' fidelity" in out
    assert cal["command"].startswith("scdiff calibrate --checkpoint") and f"saved {ck}" in out


def test_calibrating_one_mode_keeps_the_other_modes_calibration(tiny_model_dir, tmp_path, capsys):
    import json
    import shutil

    from scdiff_core.cli import main

    ck = tmp_path / "ck"
    shutil.copytree(tiny_model_dir, ck)
    assert main(["calibrate", "--checkpoint", str(ck), "--threads", "1", "--modes", "classifier"]) == 0
    first = json.loads((ck / "config.json").read_text())["guidance_defaults"]["calibrated"]
    assert set(first) == {"classifier", "report", "command"} and set(first["report"]) == {"classifier"}
    assert main(["calibrate", "--checkpoint", str(ck), "--threads", "1", "--modes", "free"]) == 0
    out = capsys.readouterr().out
    cal = json.loads((ck / "config.json").read_text())["guidance_defaults"]["calibrated"]
    assert cal["classifier"] == first["classifier"] and cal["report"]["classifier"] == first["report"]["classifier"]
    assert set(cal["free"]) == {"cell_type", "phase"} and set(cal["report"]) == {"classifier", "free"}
    assert "--modes free" in cal["command"]
    assert "free       cell_type: strength" in out and "classifier cell_type" not in out.split("saved")[-2]


def test_the_calibrate_command_refuses_an_unknown_mode(tiny_model_dir, capsys):
    from scdiff_core.cli import main

    with pytest.raises(SystemExit) as e:
        main(["calibrate", "--checkpoint", str(tiny_model_dir), "--modes", "free,strong"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "--modes: takes guidance modes separated by commas (free, chained, classifier)" in err
    assert "Traceback" not in err


def test_the_calibrate_command_refuses_a_mode_the_model_cannot_use(synthetic_path, tmp_path, capsys):
    from scdiff_core.cli import main
    from scdiff_core.data import load_prepared
    from scdiff_core.training import TrainConfig, train

    one_column = load_prepared(str(synthetic_path), ["cell_type"])
    train(one_column, tmp_path / "one",
          TrainConfig(ae_epochs=2, diffusion_iters=20, classifier_iters=10, latent_dim=4, ae_hidden=(16,),
                      backbone_hparams={"widths": [16]}, classifier_hidden=(16,), calibrate=False, ae_decoder_refit=0))
    before = (tmp_path / "one" / "config.json").read_bytes()
    assert main(["calibrate", "--checkpoint", str(tmp_path / "one"), "--modes", "free,chained"]) == 2
    err = capsys.readouterr().err
    assert (tmp_path / "one" / "config.json").read_bytes() == before  # refused before any work, nothing written
    assert "chained cannot be calibrated for this model: it has one condition column" in err
    assert "Traceback" not in err


def test_train_calibrate_option_sets_the_modes_or_skips_calibration():
    import argparse

    from scdiff_core.cli.args import modes_arg
    from scdiff_core.cli.train import _config
    from scdiff_core.train_config import TrainConfig

    parse = modes_arg("--calibrate", allow_none=True)
    assert parse("all") == ("free", "chained", "classifier")
    assert parse(" Free, classifier,free ") == ("free", "classifier")
    assert parse("none") == ()
    for bad in ("", "strong", "free,,x"):
        with pytest.raises(argparse.ArgumentTypeError, match="takes guidance modes"):
            parse(bad)
    base = dict(seed=0, backbone="mlp", space="latent", threads=1, split=(0.6, 0.2, 0.2), config=None,
                per_label=False, exclude=None, encoder_init=None)
    cfg = _config(argparse.Namespace(**base, calibrate=("free",)))
    assert cfg.calibrate and cfg.calibration_modes == ("free",)
    assert not _config(argparse.Namespace(**base, calibrate=())).calibrate
    assert _config(argparse.Namespace(**base, calibrate=None)).calibration_modes == TrainConfig().calibration_modes
    # through --config too, and a checkpoint's stored list reads back as the same config
    cfg = TrainConfig.from_dict({**TrainConfig().to_dict(), "calibration_modes": ["classifier"]}).validate()
    assert cfg.calibration_modes == ("classifier",)
    from scdiff_core.errors import ScdiffError

    for bad in ([], ["free", "free"], ["strong"], "free", [1]):
        with pytest.raises(ScdiffError, match="calibration_modes must name one or more of free, chained, classifier"):
            TrainConfig.from_dict({**TrainConfig().to_dict(), "calibration_modes": bad}).validate()


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
    # calibration_modes: only those modes are calibrated; the others keep the single default strength
    train(tiny_prep, tmp_path / "f", TrainConfig.from_dict({**cfg.to_dict(), "calibration_modes": ["free"]}))
    f = SCDiffModel.load(tmp_path / "f")
    assert {k for k in f.config["guidance_defaults"]["calibrated"] if k not in ("report", "command")} == {"free"}
    assert f.default_scales("classifier") == {c: float(f.config["guidance_defaults"]["classifier"]) for c in f.conditions}


def test_one_column_chained_shares_the_classifier_free_calibration(tiny_model):
    import copy

    from scdiff_core.calibration import calibrated_defaults

    cfg = copy.deepcopy(tiny_model.config)
    cfg["conditions"] = ["cell_type"]
    cfg["guidance_defaults"]["calibrated"] = {"free": {"cell_type": 2.5}, "report": {}}
    assert calibrated_defaults(cfg)["chained"] == {"cell_type": 2.5}


def _with_combinations(tiny_model, combos, unseen=None):
    import copy

    from scdiff_core.model import SCDiffModel

    cfg = copy.deepcopy(tiny_model.config)
    cfg["combinations"] = [list(c) for c in combos]
    if unseen is not None:
        cfg["guidance_defaults"]["unseen"] = unseen
    return SCDiffModel(cfg, tiny_model.autoencoder, tiny_model.denoiser, tiny_model.classifiers, tiny_model.stats,
                       tiny_model.reference)


def test_auto_guidance_is_classifier_free_for_seen_combinations(tiny_model):
    combo = dict(zip(tiny_model.conditions, tiny_model.config["combinations"][0]))
    a = tiny_model.generate(combo, 15, seed=1)
    b = tiny_model.generate(combo, 15, seed=1, guidance="free")
    assert a.uns["scdiff"]["guidance"] == "free" and "guidance_choice" not in a.uns["scdiff"]
    np.testing.assert_array_equal(a.X, b.X)


def test_auto_guidance_uses_the_unseen_setting_for_an_unseen_combination(tiny_model):
    from scdiff_core.calibration import UNSEEN

    first = tiny_model.config["combinations"][0]
    m = _with_combinations(tiny_model, tiny_model.config["combinations"][1:])  # the first one now unseen
    combo = dict(zip(m.conditions, first))
    assert not m.is_seen(combo)
    a = m.generate(combo, 15, seed=1)
    prov = a.uns["scdiff"]
    c0, *rest = m.conditions
    assert prov["guidance"] == UNSEEN["guidance"] == "chained"
    assert dict(prov["scales"]) == {c0: UNSEEN["first"], **{c: UNSEEN["others"] for c in rest}}
    assert "never seen in training" in prov["guidance_choice"]
    b = m.generate(combo, 15, seed=1, guidance="chained", scales=dict(prov["scales"]))
    np.testing.assert_array_equal(a.X, b.X)
    # strengths the caller gives are kept; a checkpoint's own unseen setting wins over the rule
    c = m.generate(combo, 15, seed=1, scales={c0: 0.5})
    assert dict(c.uns["scdiff"]["scales"])[c0] == 0.5
    own = _with_combinations(tiny_model, tiny_model.config["combinations"][1:],
                             unseen={"guidance": "classifier", "scales": {c: 2.0 for c in m.conditions}})
    d = own.generate(combo, 15, seed=1)
    assert d.uns["scdiff"]["guidance"] == "classifier"
    # a request mixing seen and unseen groups takes the unseen setting for all, and says so
    mixed = m.generate([(combo, 5), (dict(zip(m.conditions, m.config["combinations"][0])), 5)], seed=1)
    assert mixed.uns["scdiff"]["guidance"] == "chained"
