"""Telling the user how an action goes: errors as messages (never a traceback) and progress bars."""
from __future__ import annotations

import time
import traceback
from typing import Any, Callable

import streamlit as st

from .settings import LOG


def run_safely(action: str, fn: Callable[[], Any]) -> tuple[bool, Any]:
    """Run ``fn``; show user errors with ``st.error`` (never a traceback). Returns (ok, result)."""
    from scdiff_core.errors import ScdiffError

    try:
        return True, fn()
    except ScdiffError as e:
        st.error(f"{action} failed: {e}")
    except MemoryError:
        st.error(f"{action} ran out of memory. Ask for fewer cells.")
    except Exception as e:
        LOG.error("%s failed:\n%s", action, traceback.format_exc())
        st.error(f"{action} failed unexpectedly ({type(e).__name__}: {e}). Your earlier results are kept; "
                 f"try other settings, or report this with the server log.")
    return False, None


class Progress:
    """A ``progress(step, total)`` callback drawing an ``st.progress`` bar (throttled)."""

    def __init__(self, text: str):
        self.text = text
        self.bar = st.progress(0.0, text=text)
        self.last = 0.0
        self.t0 = time.perf_counter()

    def __call__(self, step: int, total: int) -> None:
        # Throttled (every 0.25 s at most): each update is a message the browser renders, and on 2 cores
        # the browser's work slows the generation down.
        now = time.perf_counter()
        if now - self.last >= 0.25 or step >= total:
            self.last = now
            self.bar.progress(min(1.0, step / max(1, total)), text=f"{self.text} — step {step}/{total}")

    def done(self) -> None:
        self.bar.empty()
