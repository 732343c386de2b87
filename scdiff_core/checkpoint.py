"""Checkpoints: one directory, ``config.json`` + ``.safetensors`` files. Nothing is unpickled.

``config.json`` carries a schema version and the sha256 of every weight file; loading checks
both and refuses a tampered, truncated or incompatible checkpoint with a message that says
what to do. Writing is atomic: the whole directory is written under a temporary name next to
the target and swapped in with ``os.replace``, so a crash never leaves a half-written model.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Mapping

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from .errors import CheckpointError

SCHEMA_VERSION = 2
# schema 1 count models normalized X over the model's genes only; their log-normalized models read the same
READABLE_SCHEMAS = (1, 2)
CONFIG_NAME = "config.json"


def sha256_file(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _to_tensor(v) -> torch.Tensor:
    if isinstance(v, torch.Tensor):
        return v.detach().cpu().contiguous()
    return torch.from_numpy(np.ascontiguousarray(v))


def write_json_atomic(path: str | os.PathLike, obj) -> None:
    """Write JSON to a temporary file in the same folder, then rename over ``path``."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(obj, f, indent=1, default=_json_default)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def save_tensors_atomic(path: str | os.PathLike, tensors: Mapping[str, object]) -> None:
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        save_file({k: _to_tensor(v) for k, v in tensors.items()}, tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _json_default(o):
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def save_checkpoint(directory: str | os.PathLike, config: dict, weights: Mapping[str, Mapping[str, object]]) -> Path:
    """Write ``config`` and each weight group (``name -> {tensor name: tensor}``) to ``directory``.

    Each group becomes ``<name>.safetensors``; their sha256 go into ``config['files']``.
    The directory is replaced atomically (an existing checkpoint stays intact until the swap).
    """
    directory = Path(directory).resolve()
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}.tmp-", dir=directory.parent))
    try:
        files = {}
        for name, tensors in weights.items():
            fname = f"{name}.safetensors"
            save_file({k: _to_tensor(v) for k, v in tensors.items()}, str(tmp / fname))
            files[fname] = sha256_file(tmp / fname)
        cfg = dict(config)
        cfg["schema_version"] = SCHEMA_VERSION
        cfg["files"] = files
        with open(tmp / CONFIG_NAME, "w") as f:
            json.dump(cfg, f, indent=1, default=_json_default)
        # mkdtemp makes a private (0700) folder: give the checkpoint the usual permissions
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o777 & ~umask)
        for p in tmp.iterdir():
            os.chmod(p, 0o666 & ~umask)
        # keep anything else a training run left in the folder (its resumable state, logs)
        if directory.exists():
            for p in directory.iterdir():
                if not (tmp / p.name).exists() and not p.name.endswith(".safetensors") and p.name != CONFIG_NAME:
                    if p.is_dir():
                        shutil.copytree(p, tmp / p.name)
                    else:
                        shutil.copy2(p, tmp / p.name)
            old = Path(tempfile.mkdtemp(prefix=f".{directory.name}.old-", dir=directory.parent))
            os.replace(directory, old / "x")
            os.replace(tmp, directory)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, directory)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return directory


def read_config(directory: str | os.PathLike) -> dict:
    """Read and check ``config.json`` (schema) without touching the weights."""
    directory = Path(directory)
    cfg_path = directory / CONFIG_NAME
    if not directory.is_dir():
        raise CheckpointError(f"No checkpoint folder at {directory}. Pass a folder made by `scdiff train`"
                              f" (the shipped ones are under checkpoints/).")
    if not cfg_path.exists():
        raise CheckpointError(f"{directory} has no {CONFIG_NAME}; it is not a scdiff checkpoint."
                              f" Pass a folder made by `scdiff train`.")
    try:
        cfg = json.loads(cfg_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{cfg_path} is not valid JSON ({e}); the checkpoint is damaged."
                              f" Re-train it or restore it from the repository.") from e
    version = cfg.get("schema_version")
    if version not in READABLE_SCHEMAS:
        raise CheckpointError(f"{directory} has checkpoint schema {version!r}; this version of scdiff reads"
                              f" schema {', '.join(map(str, READABLE_SCHEMAS))}. Re-train the model with this version.")
    if version == 1 and (cfg.get("data") or {}).get("kind") == "counts":
        cmd = cfg.get("command") or "scdiff train ..."
        raise CheckpointError(
            f"{directory} is a count model from an older scdiff that normalized cells over the model's genes "
            f"only, so its cells sit at a different scale from cells normalized the standard way (counts per "
            f"1e4 over all genes). Re-train it with this version: {cmd}")
    if not isinstance(cfg.get("files"), dict) or not cfg["files"]:
        raise CheckpointError(f"{cfg_path} lists no weight files; the checkpoint is incomplete. Re-train it.")
    return cfg


def load_checkpoint(directory: str | os.PathLike) -> tuple[dict, dict[str, dict[str, torch.Tensor]]]:
    """Read a checkpoint, verifying every weight file against its recorded sha256."""
    directory = Path(directory)
    cfg = read_config(directory)
    weights = {}
    for fname, digest in cfg["files"].items():
        if "/" in fname or "\\" in fname or not fname.endswith(".safetensors"):
            raise CheckpointError(f"{directory}/config.json names an unexpected file {fname!r}; refusing to load.")
        p = directory / fname
        if not p.exists():
            raise CheckpointError(f"{p} is missing; the checkpoint is incomplete. Re-train or restore it.")
        if sha256_file(p) != digest:
            raise CheckpointError(f"{p} does not match the sha256 recorded in config.json: the file was"
                                  f" changed or damaged. Refusing to load it; restore or re-train the checkpoint.")
        try:
            weights[fname[: -len(".safetensors")]] = load_file(str(p))
        except Exception as e:  # safetensors raises its own error types
            raise CheckpointError(f"{p} could not be read as safetensors ({e}). Restore or re-train it.") from e
    return cfg, weights
