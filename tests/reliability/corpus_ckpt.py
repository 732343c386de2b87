"""Corpus: damaged, edited and hostile checkpoint folders (handed to ``generate`` and ``info``)."""
from __future__ import annotations

import os
import pickle
from pathlib import Path

from corpus import Case, case, config_of, copy_ckpt, fifo, write_config


def _gen(d: Path, tmp: Path) -> list[str]:
    return ["generate", "--checkpoint", str(d), "--cells", "3", "--steps", "2", "--out", str(tmp / "g.h5ad")]


def _info(d: Path) -> list[str]:
    return ["info", str(d)]


def _edit(name: str, edit, expect: str, resign: bool = False, rehash: bool = False, cmd=_gen):
    """A case: copy the checkpoint, ``edit(cfg, folder)``, write the config back (maybe re-signed)."""
    def build(tmp, ckpt):
        d = copy_ckpt(ckpt, tmp)
        cfg = config_of(d)
        edit(cfg, d)
        write_config(d, cfg, resign=resign, rehash=rehash)
        return Case(argv=cmd(d, tmp) if cmd is _gen else cmd(d), expect=expect)
    case(f"checkpoint: {name}")(build)


def _timesteps(cfg, d):
    cfg["diffusion"]["timesteps"] = 500


def _guidance(cfg, d):
    cfg["guidance_defaults"]["free"] = 7.0


def _permute(cfg, d):
    col = cfg["conditions"][0]
    cfg["vocab"][col] = cfg["vocab"][col][::-1]


def _extend(cfg, d):
    col = cfg["conditions"][0]
    cfg["vocab"][col] = cfg["vocab"][col] + ["Extra"]


def _no_fingerprint(cfg, d):
    cfg.pop("fingerprint", None)


def _huge_latent(cfg, d):
    if "autoencoder" in cfg:
        cfg["autoencoder"]["latent_dim"] = 10**9
    else:
        cfg["space_dim"] = 10**9


def _pickle_weights(cfg, d):
    class Payload:  # unpickling it would create the marker file
        def __reduce__(self):
            return (open, (str(d / "UNPICKLED"), "w"))
    name = sorted(cfg["files"])[0]
    (d / name).write_bytes(pickle.dumps(Payload()))


def _traversal(cfg, d):
    cfg["files"]["../outside.safetensors"] = "0" * 64


_edit("timesteps edited", _timesteps, "changed after")
_edit("guidance defaults edited", _guidance, "changed after")
_edit("vocabulary permuted", _permute, "changed after")
_edit("vocabulary permuted, fingerprint recomputed", _permute, "vocabulary", resign=True)
_edit("vocabulary extended, fingerprint recomputed", _extend, "vocabulary", resign=True)
_edit("fingerprint removed", _no_fingerprint, "no fingerprint")
_edit("absurd latent size, re-signed", _huge_latent, "config.json", resign=True)
_edit("pickle as a weight file, hashes forged", _pickle_weights, "header", resign=True, rehash=True)
_edit("file name with ../, re-signed", _traversal, "unexpected file", resign=True)
_edit("timesteps edited (info)", _timesteps, "changed after", cmd=_info)


def _replace_weight(name: str, make, expect: str, env: dict | None = None):
    def build(tmp, ckpt):
        d = copy_ckpt(ckpt, tmp)
        w = d / sorted(config_of(d)["files"])[0]
        w.unlink()
        make(w)
        return Case(argv=_info(d), expect=expect, env=env or {})
    case(f"checkpoint: {name}")(build)


_replace_weight("weight file is a symlink to /dev/zero", lambda w: w.symlink_to("/dev/zero"), "symbolic link")
_replace_weight("weight file is a FIFO", fifo, "FIFO")
_replace_weight("weight file is a folder", lambda w: w.mkdir(), "folder")
_replace_weight("weight file is a symlink out of the folder",
                lambda w: w.symlink_to(w.parent.parent / "elsewhere.safetensors"), "symbolic link")


def _config_file(name: str, expect: str, content: bytes | None = None, env: dict | None = None, make=None):
    """A case: copy the checkpoint, give config.json ``content`` (or ``make(path)``), run ``info``."""
    def build(tmp, ckpt):
        d = copy_ckpt(ckpt, tmp)
        if make is not None:
            (d / "config.json").unlink()
            make(d / "config.json")
        elif content is not None:
            (d / "config.json").write_bytes(content)
        return Case(argv=_info(d), env=env or {}, expect=expect)
    case(f"checkpoint: {name}")(build)


_config_file("weight file over the size limit", "SCDIFF_MAX_WEIGHTS_MB", env={"SCDIFF_MAX_WEIGHTS_MB": "0.0001"})
_config_file("config.json nested 100000 deep", "nests deeper", b"[" * 100000 + b"]" * 100000)
_config_file("config.json is a JSON list", "JSON list", b"[1, 2, 3]")
_config_file("config.json is a FIFO", "FIFO", make=fifo)
_config_file("config.json over the JSON size limit", "SCDIFF_MAX_JSON_MB", env={"SCDIFF_MAX_JSON_MB": "0.001"})
_config_file("config.json not UTF-8", "UTF-8", b"\xff\xfe{\x00")


@case("checkpoint: a file, not a folder")
def _(tmp, ckpt):
    (tmp / "ck").write_text("not a checkpoint")
    return Case(argv=_info(tmp / "ck"), expect="No checkpoint folder")


@case("checkpoint: a folder that is not a checkpoint")
def _(tmp, ckpt):
    os.mkdir(tmp / "ck")
    return Case(argv=_info(tmp / "ck"), expect="no config.json")
