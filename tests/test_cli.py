"""CLI smoke tests: each subcommand end to end on the tiny checkpoint, and clean errors."""
import json
import subprocess
import sys

import anndata as ad
import pytest

from scdiff_core.cli import main


def test_help_teaches(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for word in ("train", "generate", "trajectory", "evaluate", "info", "examples"):
        assert word in out


def test_generate_says_when_auto_guidance_takes_the_unseen_setting(tiny_model, tmp_path, capsys):
    import copy

    from scdiff_core.model import SCDiffModel

    cfg = copy.deepcopy(tiny_model.config)
    first = cfg["combinations"][0]
    cfg["combinations"] = cfg["combinations"][1:]  # the first combination now never seen in training
    m = SCDiffModel(cfg, tiny_model.autoencoder, tiny_model.denoiser, tiny_model.classifiers, tiny_model.stats,
                    tiny_model.reference)
    m.save(tmp_path / "ckpt")
    unseen = [x for c, v in zip(m.conditions, first) for x in ("--condition", f"{c}={v}")]
    seen = [x for c, v in zip(m.conditions, cfg["combinations"][0]) for x in ("--condition", f"{c}={v}")]
    for args, is_unseen in ((unseen, True), (seen, False)):
        out = tmp_path / f"{is_unseen}.h5ad"
        assert main(["generate", "--checkpoint", str(tmp_path / "ckpt"), *args, "--cells", "10", "--out", str(out)]) == 0
        said = capsys.readouterr().out
        assert ("never seen in training" in said) == is_unseen
        assert ad.read_h5ad(out).uns["scdiff"]["guidance"] == ("chained" if is_unseen else "free")
    # an explicit mode is kept
    assert main(["generate", "--checkpoint", str(tmp_path / "ckpt"), *unseen, "--guidance", "free", "--cells", "10",
                 "--out", str(tmp_path / "f.h5ad")]) == 0
    assert "never seen" not in capsys.readouterr().out
    assert ad.read_h5ad(tmp_path / "f.h5ad").uns["scdiff"]["guidance"] == "free"


def test_generate_info_trajectory(tiny_model_dir, tmp_path, capsys):
    out = tmp_path / "g.h5ad"
    rc = main(["generate", "--checkpoint", str(tiny_model_dir), "--condition", "cell_type=A", "--condition", "phase=S",
               "--scale", "cell_type=2", "--cells", "25", "--seed", "1", "--out", str(out)])
    assert rc == 0
    a = ad.read_h5ad(out)
    assert a.n_obs == 25 and "counts" in a.layers and a.uns["scdiff"]["scales"]["cell_type"] == 2.0
    capsys.readouterr()
    assert main(["info", str(tiny_model_dir)]) == 0
    out = capsys.readouterr().out
    assert "cell_type" in out
    # the counts printed as "training cells" are the training split's, value by value
    from scdiff_core.model import SCDiffModel

    m = SCDiffModel.load(tiny_model_dir)
    train = m.config["split"]["train"]
    line = next(ln for ln in out.splitlines() if ln.startswith("condition cell_type (training cells)"))
    shown = sum(int(x.split("(")[1].rstrip(")")) for x in line.split(": ", 1)[1].split(", "))
    assert shown == len(train)
    tout = tmp_path / "t.h5ad"
    assert main(["trajectory", "--checkpoint", str(tiny_model_dir), "--column", "cell_type", "--from", "A", "--to", "C",
                 "--points", "3", "--cells-per-point", "5", "--out", str(tout)]) == 0
    assert sorted(ad.read_h5ad(tout).obs["lambda"].unique()) == [0.0, 0.5, 1.0]


def test_evaluate_writes_json(tiny_model_dir, tmp_path, monkeypatch, capsys):
    import scdiff_core.metrics as M

    monkeypatch.setattr(M, "rf_auroc", lambda a, b, seed=0: 0.5)
    g = tmp_path / "g.h5ad"
    assert main(["generate", "--checkpoint", str(tiny_model_dir), "--condition", "cell_type=B", "--cells", "30",
                 "--out", str(g)]) == 0
    rep = tmp_path / "r.json"
    capsys.readouterr()
    assert main(["evaluate", "--checkpoint", str(tiny_model_dir), "--generated", str(g), "--out", str(rep)]) == 0
    d = json.loads(rep.read_text())
    assert "table" in d and d["table"]
    out, err = capsys.readouterr()
    # the headline is the row of the one label asked for, next to its control; progress went to stderr
    assert "headline (the B row, the cell_type this set asked for" in out and "(control " in out
    assert "held-out cells:" in err and "evaluated in" in err
    # --replicates: the control cells' technical replicates (count data) get rows of their own
    rep2 = tmp_path / "r2.json"
    assert main(["evaluate", "--checkpoint", str(tiny_model_dir), "--generated", str(g), "--replicates",
                 "--out", str(rep2)]) == 0
    d2 = json.loads(rep2.read_text())
    sets = {r["set"] for r in d2["table"]}
    assert "replicates" in sets, d2["notes"]
    assert {r["set"] for r in d["table"]} == {"generated", "control"}


@pytest.mark.parametrize("argv,msg", [
    (["generate", "--checkpoint", "/nonexistent", "--cells", "5", "--out", "x.h5ad"], "No checkpoint folder"),
    (["generate", "--checkpoint", "{ck}", "--condition", "cell_type", "--cells", "5", "--out", "{tmp}/x.h5ad"], "column=value"),
    (["generate", "--checkpoint", "{ck}", "--condition", "cell_type=Q", "--cells", "5", "--out", "{tmp}/x.h5ad"], "not a value"),
    (["generate", "--checkpoint", "{ck}", "--cells", "5", "--out", "{tmp}/x.csv"], "must end in .h5ad"),
    (["evaluate", "--checkpoint", "{ck}", "--generated", "{tmp}/missing.h5ad"], "No file"),
    (["train", "--data", "{tmp}/nothing.h5ad", "--conditions", "a", "--out", "{tmp}/o"], "nothing.h5ad"),
    (["train", "--data", "pbmc68k", "--conditions", "bulk_labels", "--out", "{tmp}/o", "--config", "{{oops"], "JSON"),
    (["train", "--data", "pbmc68k", "--conditions", "bulk_labels", "--out", "{tmp}/o", "--config", '{{"lr": 1}}'],
     "Unknown training option"),
    (["train", "--data", "pbmc68k", "--conditions", "nope", "--out", "{tmp}/o"], "nope"),
])
def test_errors_are_one_line(argv, msg, tiny_model_dir, tmp_path, capsys):
    argv = [a.format(ck=tiny_model_dir, tmp=tmp_path) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and msg in err and "Traceback" not in err
    assert not (tmp_path / "x.h5ad").exists()


def test_console_script_runs():
    r = subprocess.run([sys.executable, "-m", "scdiff_core.cli", "info", "/nonexistent"], capture_output=True, text=True)
    assert r.returncode == 2 and "error:" in r.stderr


def test_train_progress_file(synthetic_path, tmp_path):
    pf = tmp_path / "progress.json"
    rc = main(["train", "--data", str(synthetic_path), "--conditions", "cell_type", "--out", str(tmp_path / "m"),
               "--ae-epochs", "2", "--diffusion-iters", "20", "--classifier-iters", "10", "--latent-dim", "4",
               "--progress-file", str(pf), "--config", '{"backbone_hparams": {"widths": [16, 16]}, "save_every": 10}'])
    assert rc == 0
    st = json.loads(pf.read_text())
    assert st["done"] and st["error"] is None
    assert st["stages"]["diffusion"] == {"step": 20, "total": 20, "loss": st["stages"]["diffusion"]["loss"]}
    assert "classifier_cell_type" in st["stages"]


@pytest.mark.parametrize("text,expect", [("0.6,0.2,0.2", (0.6, 0.2, 0.2)), ("60,20,20", (0.6, 0.2, 0.2)),
                                         ("0.8, 0.2, 0", (0.8, 0.2, 0.0))])
def test_split_option_parses_fractions_and_percentages(text, expect):
    from scdiff_core.cli import split_arg as _split_arg

    assert _split_arg(text) == pytest.approx(expect)


@pytest.mark.parametrize("text,msg", [("0.6,0.4", "three numbers"), ("a,b,c", "three numbers"),
                                      ("0.5,0.2,0.2", "add up to 1"), ("-0.2,0.6,0.6", "non-negative"),
                                      ("nan,0.5,0.5", "non-negative")])
def test_split_option_refuses_impossible_splits(text, msg):
    import argparse

    from scdiff_core.cli import split_arg as _split_arg

    with pytest.raises(argparse.ArgumentTypeError, match=msg):
        _split_arg(text)


@pytest.mark.parametrize("split,ok", [((0.8, 0.2, 0.0), True), ((0.0, 0.5, 0.5), False), ((0.9, 0.0, 0.1), False)])
def test_train_config_accepts_no_test_set_but_needs_train_and_validation(split, ok):
    from scdiff_core.errors import ScdiffError
    from scdiff_core.training import TrainConfig

    if ok:
        TrainConfig(split=split).validate()
    else:
        with pytest.raises(ScdiffError, match="train and validation above 0"):
            TrainConfig(split=split).validate()


@pytest.mark.parametrize("argv", [["generate", "--checkpoint", "x", "--cells", "5", "--out", "o.h5ad", "--threads", "-1"],
                                  ["evaluate", "--checkpoint", "x", "--generated", "g.h5ad", "--threads", "many"]])
def test_threads_option_is_checked(argv, capsys):
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2 and "--threads" in capsys.readouterr().err


def test_help_texts_read_defaults_and_choices_from_the_library():
    from scdiff_core.backbones import BACKBONES
    from scdiff_core.cli import build_parser
    from scdiff_core.diffusion import SAMPLERS
    from scdiff_core.training import TrainConfig

    h = build_parser()._subparsers._group_actions[0].choices
    train_help, gen_help = h["train"].format_help(), h["generate"].format_help()
    assert f"(default {TrainConfig().diffusion_iters:,})" in " ".join(train_help.split())
    assert all(b in train_help for b in BACKBONES) and all(s in gen_help for s in SAMPLERS)
