"""Checkpoints: one directory, ``config.json`` + ``.safetensors`` files. Nothing is unpickled.

``config.json`` carries a schema version, the sha256 of every weight file and a fingerprint over
all of it (:mod:`.fingerprint`); loading checks them and refuses a tampered, truncated or
incompatible checkpoint with a message that says what to do. Every file is read through
:func:`~scdiff_core.validate.read_bytes`: regular files inside the folder only (no symlinks,
FIFOs or devices, so nothing can hang), with a size limit, hashed and parsed from the same bytes.

Writing is atomic: the new checkpoint is built in a folder beside the target and swapped in
(:mod:`.outdir`), so a crash never leaves a half-written model, and files in the folder that
scdiff did not write are kept.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import struct
import tempfile
from pathlib import Path
from typing import Mapping

import numpy as np
import torch
from safetensors.torch import load as load_bytes
from safetensors.torch import save_file

from . import __version__
from . import fingerprint as fpr
from .errors import CheckpointError, ScdiffError
from .outdir import CONFIG_NAME, READABLE_SCHEMAS, STATE_DIR, carry, check_out_dir, new_tmp, owned, swap_in
from .validate import limit, parse_json, read_bytes

SCHEMA_VERSION = 2
# schema 1 count models normalized X over the model's genes only; their log-normalized models read the same


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


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_into(tmp: Path, config: dict, weights: Mapping[str, Mapping[str, object]]) -> None:
    """Weight files, then config.json (with the file hashes and the fingerprint), into ``tmp``."""
    files = {}
    meta = {fpr.BINDING_KEY: fpr.binding(config)}
    for name, tensors in weights.items():
        fname = f"{name}.safetensors"
        save_file({k: _to_tensor(v) for k, v in tensors.items()}, str(tmp / fname), metadata=meta)
        _fsync(tmp / fname)
        files[fname] = sha256_file(tmp / fname)
    cfg = {"scdiff_version": __version__, **config, "schema_version": SCHEMA_VERSION, "files": files}
    cfg = json.loads(json.dumps(cfg, default=_json_default))  # exactly what a reader will parse
    cfg[fpr.KEY] = fpr.fingerprint(cfg)
    with open(tmp / CONFIG_NAME, "w") as f:
        json.dump(cfg, f, indent=1)
        f.flush()
        os.fsync(f.fileno())
    umask = os.umask(0)
    os.umask(umask)
    for p in tmp.iterdir():
        os.chmod(p, 0o666 & ~umask)


def save_checkpoint(directory: str | os.PathLike, config: dict, weights: Mapping[str, Mapping[str, object]]) -> Path:
    """Write ``config`` and each weight group (``name -> {tensor name: tensor}``) to ``directory``.

    Each group becomes ``<name>.safetensors``; their sha256 go into ``config['files']`` and the
    fingerprint into ``config['fingerprint']``. The folder is swapped in at once (an existing
    checkpoint stays intact until then); only files scdiff wrote are replaced, the user's other
    files in the folder are kept. Refused: a path that is a file, or a folder holding files that
    are not a scdiff checkpoint's.
    """
    directory = check_out_dir(directory, "checkpoint folder")
    names = {CONFIG_NAME} | {f"{n}.safetensors" for n in weights}
    mine = owned(directory) if directory.exists() else set()
    if directory.exists():
        clash = sorted(n for n in names if (directory / n).exists() or (directory / n).is_symlink())
        clash = [n for n in clash if n not in mine]
        if clash:
            raise CheckpointError(f"{directory} holds {', '.join(clash)}, which scdiff did not write; it will not "
                                  f"overwrite them. Move them away or pick another folder.")
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = new_tmp(directory)
    try:
        _write_into(tmp, config, weights)
        if directory.exists():  # the user's files and an interrupted run's state go along, as hard links
            carry(directory, tmp, skip=(mine - {STATE_DIR}) | names)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    swap_in(tmp, directory)
    return directory


def read_config(directory: str | os.PathLike) -> dict:
    """Read and check ``config.json`` (size, depth, schema, file list, fingerprint) without the weights."""
    directory = Path(directory)
    cfg_path = directory / CONFIG_NAME
    if not directory.is_dir():
        raise CheckpointError(f"No checkpoint folder at {directory}. Pass a folder made by `scdiff train`"
                              f" (the shipped ones are under checkpoints/).")
    if not cfg_path.exists() and not cfg_path.is_symlink():
        raise CheckpointError(f"{directory} has no {CONFIG_NAME}; it is not a scdiff checkpoint."
                              f" Pass a folder made by `scdiff train`.")
    try:
        cfg = parse_json(read_bytes(cfg_path, "the checkpoint's config", limit("json"), follow_symlinks=False,
                                    limit_name="json"), str(cfg_path))
    except ScdiffError as e:
        raise CheckpointError(f"{e} The checkpoint is damaged: re-train it or restore it.") from None
    if not isinstance(cfg, dict):
        raise CheckpointError(f"{cfg_path} holds a JSON {type(cfg).__name__}, not an object; it is not a scdiff "
                              f"checkpoint config. Re-train it or restore it.")
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


def _header_metadata(data: bytes, p: Path) -> dict:
    """The ``__metadata__`` of a safetensors file held in memory."""
    if len(data) < 8:
        raise CheckpointError(f"{p} is too short to be a safetensors file. Restore or re-train the checkpoint.")
    (n,) = struct.unpack("<Q", data[:8])
    if n > len(data) - 8:
        raise CheckpointError(f"{p} has a damaged header. Restore or re-train the checkpoint.")
    try:
        header = parse_json(data[8:8 + n], f"the header of {p}", max_depth=8)
    except ScdiffError as e:
        raise CheckpointError(f"{e} Restore or re-train the checkpoint.") from None
    meta = header.get("__metadata__") if isinstance(header, dict) else None
    return meta if isinstance(meta, dict) else {}


def _read_weight_file(directory: Path, fname, digest) -> tuple[dict[str, torch.Tensor], dict]:
    if (not isinstance(fname, str) or "/" in fname or "\\" in fname or fname.startswith(".")
            or not fname.endswith(".safetensors")):
        raise CheckpointError(f"{directory}/config.json names an unexpected file {fname!r}; refusing to load.")
    p = directory / fname
    if not p.exists() and not p.is_symlink():
        raise CheckpointError(f"{p} is missing; the checkpoint is incomplete. Re-train or restore it.")
    try:
        data = read_bytes(p, "a checkpoint weight file", limit("weights"), follow_symlinks=False, limit_name="weights")
    except ScdiffError as e:
        raise CheckpointError(f"{e} Weight files must be regular files inside the checkpoint folder.") from None
    if hashlib.sha256(data).hexdigest() != digest:
        raise CheckpointError(f"{p} does not match the sha256 recorded in config.json: the file was"
                              f" changed or damaged. Refusing to load it; restore or re-train the checkpoint.")
    meta = _header_metadata(data, p)
    try:
        tensors = load_bytes(data)
    except Exception as e:  # safetensors raises its own error types
        raise CheckpointError(f"{p} could not be read as safetensors ({e}). Restore or re-train it.") from e
    return tensors, meta


def load_checkpoint(directory: str | os.PathLike, expect_fingerprint: str | None = None
                    ) -> tuple[dict, dict[str, dict[str, torch.Tensor]]]:
    """Read a checkpoint, verifying its fingerprint and every weight file against its recorded sha256."""
    directory = Path(directory)
    cfg = read_config(directory)
    fpr.verify(cfg, directory, expect_fingerprint)
    weights = {}
    for fname, digest in cfg["files"].items():
        tensors, meta = _read_weight_file(directory, fname, digest)
        fpr.check_binding(cfg, str(directory / fname), meta)
        weights[fname[: -len(".safetensors")]] = tensors
    return cfg, weights
