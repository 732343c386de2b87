"""Fingerprints of the checkpoints shipped in ``checkpoints/`` (see :mod:`scdiff_core.fingerprint`).

Loading one of those folders checks its fingerprint against this table, so a shipped model that
was edited (by hand or by a tool) is refused with the command that restores it. Written by
``scripts/sign_checkpoints.py --pin``; change it only together with the checkpoints.
"""
from __future__ import annotations

from pathlib import Path

PINNED: dict[str, str] = {
    "paul15": "383416d143253c902b77e3c86e86b24a6e3116474acc0cf74d7c3ab95f525fb8",
    "pbmc68k": "3c6cc1d6386669d67b9b7d142ed1b7f4f5987e9c875a498e7aed3fa07ea686a6",
    "pbmc68k_crate": "3864e94097e0e2de59ba22725189980169b6897a892131cf5c6b08e5a58d4b75",
    "pbmc68k_dit": "6d7cc195955d0cc536e13ee827c7264d954361dcab44cdab2907af70b321188f",
}


def shipped_root() -> Path:
    """The repository's ``checkpoints/`` folder (the one the pinned fingerprints describe)."""
    return Path(__file__).resolve().parent.parent / "checkpoints"
