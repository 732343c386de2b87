"""Fingerprints of the checkpoints shipped in ``checkpoints/`` (see :mod:`scdiff_core.fingerprint`).

Loading one of those folders checks its fingerprint against this table, so a shipped model that
was edited (by hand or by a tool) is refused with the command that restores it. Written by
``scripts/sign_checkpoints.py --pin``; change it only together with the checkpoints.
"""
from __future__ import annotations

from pathlib import Path

PINNED: dict[str, str] = {
    "paul15": "4b30b0331e330eca98db2ec556cbf19a032fa8871e6ab3061c00ee3e3f02d870",
    "pbmc68k": "a68bf2f840e47197e99890fd5820834b061443cbde02fb7535b4bc65a7f685dd",
    "pbmc68k_crate": "3864e94097e0e2de59ba22725189980169b6897a892131cf5c6b08e5a58d4b75",
    "pbmc68k_dit": "6d7cc195955d0cc536e13ee827c7264d954361dcab44cdab2907af70b321188f",
}


def shipped_root() -> Path:
    """The repository's ``checkpoints/`` folder (the one the pinned fingerprints describe)."""
    return Path(__file__).resolve().parent.parent / "checkpoints"
