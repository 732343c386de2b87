"""Checkpoint folders: discovery in the shipped and user folders, the chosen one, config.json (cached)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from scdiff_core.summaries import try_read_config

from .settings import shipped_root, user_root

DEFAULT_MODEL = "pbmc68k"
"""The shipped checkpoint picked when the user has not picked one."""


@dataclass(frozen=True)
class Ckpt:
    """A checkpoint folder: its name, absolute path and where it was found ('shipped' or 'yours')."""

    name: str
    path: str
    origin: str

    @property
    def label(self) -> str:
        return f"{self.name}  ({'shipped' if self.origin == 'shipped' else 'your models'})"


def find_checkpoints() -> list[Ckpt]:
    """Checkpoint folders (with a config.json) in the shipped folder, then in the user folder."""
    out: list[Ckpt] = []
    for root, origin in ((shipped_root(), "shipped"), (user_root(), "yours")):
        try:
            kids = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
        except OSError:
            continue
        for p in kids:
            if (p / "config.json").is_file():
                out.append(Ckpt(p.name, str(p.resolve()), origin))
    return out


def default_checkpoint(ckpts: list[Ckpt]) -> Ckpt | None:
    for c in ckpts:
        if c.origin == "shipped" and c.name == DEFAULT_MODEL:
            return c
    return ckpts[0] if ckpts else None


def stamp(path: str) -> str:
    """The version of a checkpoint folder (its config.json's time and size): part of every cache key."""
    try:
        s = (Path(path) / "config.json").stat()
        return f"{s.st_mtime_ns}-{s.st_size}"
    except OSError:
        return "missing"


@st.cache_data(show_spinner=False, max_entries=64)
def _read_config_cached(path: str, version: str) -> dict | None:
    return try_read_config(path)


def read_config(path: str) -> dict | None:
    """The checkpoint's config.json (no weights, no torch), or None if unreadable."""
    return _read_config_cached(path, stamp(path))


def current_checkpoint() -> Ckpt | None:
    """The checkpoint picked in the sidebar (set by app.py), or None."""
    return st.session_state.get("_ckpt")


def no_model_message() -> None:
    st.info(f"**No trained model found yet.** The app looks for checkpoint folders in "
            f"`{shipped_root()}` (shipped models) and `{user_root()}` (your models; set "
            f"`SCDIFF_MODELS` to change it).\n\n"
            f"Train one on the **Models** page from an uploaded .h5ad, or from the shell:\n\n"
            f"```\nscdiff train --data pbmc68k --conditions bulk_labels,phase --out {user_root()}/pbmc68k\n```\n"
            f"then reload this page.")
