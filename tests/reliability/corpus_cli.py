"""Corpus: command-line arguments (numbers out of range, contradictions, bad outputs, bad --config)."""
from __future__ import annotations

import os
from pathlib import Path

from corpus import Case, case, config_of


def _gen(ckpt: Path, tmp: Path, *extra: str, out: str | None = None) -> list[str]:
    return ["generate", "--checkpoint", str(ckpt), "--cells", "5", "--steps", "2",
            "--out", out or str(tmp / "g.h5ad"), *extra]


def _first(ckpt: Path) -> tuple[str, str]:
    cfg = config_of(ckpt)
    col = cfg["conditions"][0]
    return col, cfg["vocab"][col][0]


# numbers out of range, or not numbers --------------------------------------------------------------
for _flag, _value in [("--threads", "-1"), ("--threads", "0"), ("--seed", "-1"), ("--seed", str(2**70)),
                      ("--seed", "1.5"), ("--eta", "nan"), ("--eta", "1e9"), ("--eta", "-1"), ("--cells", "0"),
                      ("--cells", "1000000000"), ("--steps", "0"), ("--steps", "inf"), ("--expect-fingerprint", "zz")]:
    def _build(tmp, ckpt, flag=_flag, value=_value):
        argv = _gen(ckpt, tmp)
        if flag in argv:
            argv[argv.index(flag) + 1] = value
        else:
            argv += [flag, value]
        return Case(argv=argv, expect=flag)
    case(f"generate {_flag} {_value[:12]}")(_build)


@case("generate --scale COL=nan")
def _(tmp, ckpt):
    return Case(argv=_gen(ckpt, tmp, "--scale", f"{_first(ckpt)[0]}=nan"), expect="--scale")


@case("generate --scale COL=1e9")
def _(tmp, ckpt):
    return Case(argv=_gen(ckpt, tmp, "--scale", f"{_first(ckpt)[0]}=1e9"), expect="--scale")


@case("generate contradictory --condition")
def _(tmp, ckpt):
    col, v = _first(ckpt)
    return Case(argv=_gen(ckpt, tmp, "--condition", f"{col}={v}", "--condition", f"{col}=other"),
                expect="two values")


@case("generate unknown column")
def _(tmp, ckpt):
    return Case(argv=_gen(ckpt, tmp, "--condition", "no_such_column=x"), expect="no condition column")


@case("generate unknown label")
def _(tmp, ckpt):
    return Case(argv=_gen(ckpt, tmp, "--condition", f"{_first(ckpt)[0]}=no such label"), expect="not a value")


@case("generate --condition without =")
def _(tmp, ckpt):
    return Case(argv=_gen(ckpt, tmp, "--condition", _first(ckpt)[0]), expect="column=value")


@case("generate --out is a folder")
def _(tmp, ckpt):
    (tmp / "d.h5ad").mkdir()
    return Case(argv=_gen(ckpt, tmp, out=str(tmp / "d.h5ad")), expect="folder")


def read_only(tmp: Path) -> Path:
    """A folder this process cannot write in (root writes anywhere, except on a read-only file system)."""
    if os.geteuid() == 0:
        return Path("/proc/sys/scdiff-corpus")
    ro = tmp / "ro"
    ro.mkdir()
    os.chmod(ro, 0o555)
    return ro


@case("generate --out in a read-only folder")
def _(tmp, ckpt):
    return Case(argv=_gen(ckpt, tmp, out=str(read_only(tmp) / "g.h5ad")), expect="not writable")


@case("generate --out under a file")
def _(tmp, ckpt):
    (tmp / "afile").write_text("mine")
    return Case(argv=_gen(ckpt, tmp, out=str(tmp / "afile" / "g.h5ad")), expect="is a file")


@case("generate --out wrong suffix")
def _(tmp, ckpt):
    return Case(argv=_gen(ckpt, tmp, out=str(tmp / "g.csv")), expect=".h5ad")


@case("generate wrong --expect-fingerprint")
def _(tmp, ckpt):
    return Case(argv=_gen(ckpt, tmp, "--expect-fingerprint", "0" * 64), expect="fingerprint")


for _opt, _val in [("--scale", "nan"), ("--scale", "1e9"), ("--t-start", "0"), ("--t-start", "nan"),
                   ("--seed", "-1")]:
    def _build(tmp, ckpt, opt=_opt, val=_val):
        cfg = config_of(ckpt)
        col = cfg["conditions"][0]
        a, b = cfg["vocab"][col][:2]
        return Case(argv=["trajectory", "--checkpoint", str(ckpt), "--column", col, "--from", a, "--to", b,
                          "--points", "2", "--cells-per-point", "2", "--steps", "2", opt, val,
                          "--out", str(tmp / "t.h5ad")], expect=opt.lstrip("-").replace("-", "_")[:5])
    case(f"trajectory {_opt} {_val}")(_build)


@case("evaluate --out in a read-only folder")
def _(tmp, ckpt):
    from corpus import generated_like

    g = generated_like(tmp / "g.h5ad", ckpt)
    ro = read_only(tmp)
    return Case(argv=["evaluate", "--checkpoint", str(ckpt), "--generated", str(g), "--out", str(ro / "r.json")],
                expect="not writable")


@case("evaluate --seed -1")
def _(tmp, ckpt):
    return Case(argv=["evaluate", "--checkpoint", str(ckpt), "--generated", str(tmp / "g.h5ad"), "--seed", "-1"],
                expect="--seed")


# training options --------------------------------------------------------------------------------
def _train(tmp: Path, *extra: str, out: str | None = None) -> list[str]:
    return ["train", "--data", str(tmp / "missing.h5ad"), "--conditions", "cell_type",
            "--out", out or str(tmp / "model"), *extra]


for _i, (_cfg, _word) in enumerate([('{"latent_dim": "a"}', "latent_dim"), ('{"latent_dim": 1e12}', "latent_dim"),
                                    ('[1, 2]', "JSON object"), ("[" * 5000 + "]" * 5000, "nests deeper"),
                                    ('{"backbone_hparams": {"widths": [1000000000]}}', "widths"),
                                    ('{"ae_hidden": [64, -3]}', "ae_hidden"), ('{"timesteps": 0}', "timesteps"),
                                    ('{"ema_decay": NaN}', "ema_decay"), ('{"seed": -5}', "seed"),
                                    ('{"backbone_hparams": {"bogus": 1}}', "bogus")]):
    case(f"train --config #{_i} {_cfg[:24]}")(lambda tmp, ckpt, c=_cfg, w=_word: Case(argv=_train(tmp, "--config", c),
                                                                                     expect=w))


@case("train --config file nested 10000 deep")
def _(tmp, ckpt):
    p = tmp / "deep.json"
    p.write_text('{"a":' * 10000 + "1" + "}" * 10000)
    return Case(argv=_train(tmp, "--config", str(p)), expect="nests deeper")


@case("train --out is an existing file")
def _(tmp, ckpt):
    (tmp / "model").write_text("my notes")
    return Case(argv=_train(tmp), expect="existing file")


@case("train --out holds a user's safetensors")
def _(tmp, ckpt):
    d = tmp / "model"
    d.mkdir()
    (d / "my.safetensors").write_text("k")
    return Case(argv=_train(tmp), expect="not a scdiff checkpoint")


@case("train --threads -1")
def _(tmp, ckpt):
    return Case(argv=_train(tmp, "--threads", "-1"), expect="--threads")


@case("train --seed 2**32")
def _(tmp, ckpt):
    return Case(argv=_train(tmp, "--seed", str(2**32)), expect="--seed")


@case("train --split impossible")
def _(tmp, ckpt):
    return Case(argv=_train(tmp, "--split", "0.5,0.5,0.5"), expect="--split")
