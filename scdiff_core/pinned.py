"""Fingerprints of the checkpoints shipped in ``checkpoints/`` (see :mod:`scdiff_core.fingerprint`).

Loading one of those folders checks its fingerprint against this table, so a shipped model that
was edited (by hand or by a tool) is refused with the command that restores it. Written by
``scripts/sign_checkpoints.py --pin``; change it only together with the checkpoints.
"""
from __future__ import annotations

from pathlib import Path

PINNED: dict[str, str] = {
    "paul15": "25c949797a4c6a7b83d37e372ca6aa87437f71539e15a72876682da8b4ada724",
    "pbmc68k": "9cf542f16cbe00c834f8ed12b156ebc5f382ccae3f3c7c9b67c63d33fa2ba0b7",
    "pbmc68k_crate": "5e543223b0db26544da7ec4cdb10c58c859e3fd49fd90fa97b32239673adcf65",
    "pbmc68k_dit": "292b15a8b2fbd019260858e7d91122d07fb6582b431cb47dfd2b557c44851d1b",
}


def shipped_root() -> Path:
    """The repository's ``checkpoints/`` folder (the one the pinned fingerprints describe)."""
    return Path(__file__).resolve().parent.parent / "checkpoints"
