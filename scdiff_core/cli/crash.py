"""What the CLI does with the unexpected: one-line warnings, and internal errors written to a log.

A user never sees a traceback. An internal error (a bug, not a problem with the input) prints
one ``error:`` line naming a log file that holds the traceback, for a bug report.
"""
from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import time
import traceback
import warnings
from pathlib import Path


def log_dir() -> Path:
    """``$SCDIFF_LOG_DIR``, else ``~/.cache/scdiff/logs``, else the temporary folder."""
    for cand in (os.environ.get("SCDIFF_LOG_DIR"), Path.home() / ".cache" / "scdiff" / "logs"):
        if cand:
            try:
                Path(cand).mkdir(parents=True, exist_ok=True)
                if os.access(cand, os.W_OK):
                    return Path(cand)
            except OSError:
                continue
    return Path(tempfile.gettempdir())


def internal_error(e: BaseException, argv) -> int:
    """Write the traceback to a log file; print one line that names it. Returns exit code 1."""
    if isinstance(e, RuntimeError) and ("alloc" in str(e).lower() or "out of memory" in str(e).lower()):
        print("error: not enough memory for this request; ask for fewer cells or genes, or a smaller model.",
              file=sys.stderr)
        return 2
    text = f"scdiff {' '.join(sys.argv[1:] if argv is None else argv)}\n\n{traceback.format_exc()}"
    try:
        fd, path = tempfile.mkstemp(prefix=time.strftime("scdiff-%Y%m%d-%H%M%S-"), suffix=".log", dir=log_dir())
        with os.fdopen(fd, "w") as f:
            f.write(text)
        where = f"the traceback is in {path}"
    except OSError:
        where = "no log file could be written"
    msg = str(e).splitlines()[0][:200] if str(e) else ""
    print(f"error: internal error ({type(e).__name__}: {msg}); this is a bug in scdiff, not your input — "
          f"{where}; please report it.", file=sys.stderr)
    return 1


@contextlib.contextmanager
def one_line_warnings():
    """Warnings printed as ``warning: …`` on one line (no source lines)."""
    old = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):
        print(f"warning: {str(message).splitlines()[0] if str(message) else category.__name__}", file=sys.stderr)

    warnings.showwarning = show
    try:
        yield
    finally:
        warnings.showwarning = old
