"""The fingerprint of a checkpoint: one sha256 that covers ``config.json`` and every weight file.

``fingerprint = sha256("scdiff-checkpoint-v1\\n" + canonical(config without 'fingerprint'))``, where
``canonical`` is JSON with sorted keys and no spaces. The config lists the sha256 of every weight
file (``files``), so the fingerprint covers the weights too: an edited config (timesteps,
guidance defaults, a permuted vocabulary) or an edited weight file no longer matches. Loading
checks it (:func:`verify`), compares the shipped checkpoints with the fingerprints pinned in
:mod:`scdiff_core.pinned`, and a user can pin theirs (``--expect-fingerprint``).

Each weight file written by this version also carries, in its safetensors header, the
``binding``: a sha256 of the conditions, vocabularies and genes the weights were trained with, so
a vocabulary edited in config.json is caught even when someone recomputes every hash.
"""
from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

from .errors import CheckpointError

KEY = "fingerprint"
BINDING_KEY = "scdiff_binding"
_BOUND = ("conditions", "vocab", "genes", "space_dim")
_HEX = re.compile(r"^[0-9a-f]{12,64}$")


def canonical(cfg: dict) -> bytes:
    """The config as canonical JSON bytes, without its fingerprint field."""
    return json.dumps({k: v for k, v in cfg.items() if k != KEY}, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=True).encode()


def fingerprint(cfg: dict) -> str:
    return hashlib.sha256(b"scdiff-checkpoint-v1\n" + canonical(cfg)).hexdigest()


def binding(cfg: dict) -> str:
    """sha256 of what the weights' shapes and meaning depend on (conditions, vocab, genes, space_dim)."""
    part = {k: cfg.get(k) for k in _BOUND}
    return hashlib.sha256(json.dumps(part, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def short(fp: str) -> str:
    return fp[:16]


def expected_arg(v: str) -> str:
    """A fingerprint given by the user: 12 to 64 hex digits (a prefix of the full one)."""
    v = str(v).strip().lower()
    if not _HEX.match(v):
        raise CheckpointError(f"--expect-fingerprint takes 12 to 64 hex digits (see `scdiff info`), got {v!r}.")
    return v


def pinned_for(directory: str | Path) -> str | None:
    """The pinned fingerprint if ``directory`` is one of the checkpoints shipped in this repository."""
    from .pinned import PINNED, shipped_root

    d = Path(directory).resolve()
    try:
        root = shipped_root().resolve()
    except OSError:
        return None
    return PINNED.get(d.name) if d.parent == root else None


def verify(cfg: dict, directory: str | Path, expected: str | None = None) -> str:
    """Check the config's fingerprint (recorded, pinned, expected); return it.

    The weight files' own hashes are checked against ``cfg['files']`` by the loader.
    """
    recorded = cfg.get(KEY)
    if not isinstance(recorded, str) or not recorded:
        raise CheckpointError(
            f"{directory} has no fingerprint in config.json (written by an older scdiff, or the field was "
            f"removed), so an edit could go unnoticed. If you trust this folder, sign it once with "
            f"`python scripts/sign_checkpoints.py {directory}`, or re-train it.")
    actual = fingerprint(cfg)
    if actual != recorded:
        raise CheckpointError(
            f"{directory}/config.json was changed after the checkpoint was written (its fingerprint "
            f"{short(actual)}… does not match the recorded {short(recorded)}…). Refusing to load it; restore "
            f"the folder or re-train it.")
    pinned = pinned_for(directory)
    if pinned is not None and pinned != actual:
        raise CheckpointError(
            f"{directory} is a shipped checkpoint but differs from the one shipped with scdiff (fingerprint "
            f"{short(actual)}… instead of {short(pinned)}…). Restore it: git checkout -- {directory}")
    if expected is not None and not actual.startswith(expected_arg(expected)):
        raise CheckpointError(
            f"{directory} has fingerprint {short(actual)}…, not the expected {expected[:16]}…: it is another "
            f"checkpoint, or it was changed. Check the path, or drop --expect-fingerprint.")
    return actual


def check_binding(cfg: dict, fname: str, header_meta: dict | None) -> None:
    """The weight file was written for this config's conditions, vocabularies and genes."""
    bound = (header_meta or {}).get(BINDING_KEY)
    if bound is not None and bound != binding(cfg):
        raise CheckpointError(
            f"{fname} was trained with other conditions, label values or genes than config.json lists (the "
            f"vocabulary or gene list was edited). Refusing to load it; restore or re-train the checkpoint.")
