"""Fingerprints of the checkpoints shipped in ``checkpoints/`` (see :mod:`scdiff_core.fingerprint`).

Loading one of those folders checks its fingerprint against this table, so a shipped model that
was edited (by hand or by a tool) is refused with the command that restores it. Written by
``scripts/sign_checkpoints.py --pin``; change it only together with the checkpoints.
"""
from __future__ import annotations

from pathlib import Path

PINNED: dict[str, str] = {
    "paul15": "136ba7fbf9f6177c8b07e2fb66bf40582cd19c6b51a9334973929ad14c9d2891",
    "pbmc68k": "e13cb30fecac793f6cd666788e15709564f289d28b8a35d2221962a5dd1f4438",
    "pbmc68k_crate": "3864e94097e0e2de59ba22725189980169b6897a892131cf5c6b08e5a58d4b75",
    "pbmc68k_dit": "6d7cc195955d0cc536e13ee827c7264d954361dcab44cdab2907af70b321188f",
}


def shipped_root() -> Path:
    """The repository's ``checkpoints/`` folder (the one the pinned fingerprints describe)."""
    return Path(__file__).resolve().parent.parent / "checkpoints"
