"""Checks of every kind of input, in one place: numbers, files, folders, JSON, limits.

The CLI (argument types), the library API (:class:`~scdiff_core.model.SCDiffModel`,
:class:`~scdiff_core.train_config.TrainConfig`) and the app's uploads call these functions, so a
value is refused the same way, with the same one-line message, wherever it comes from. Every
refusal is a :class:`~scdiff_core.errors.ScdiffError` that says what to do.

Resource limits are read from environment variables when they are used (:func:`limit`), so a
user can raise one for a big file without editing code; docs/reliability.md lists them.
"""
from __future__ import annotations

import json
import math
import os
import re
import stat
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from .errors import ScdiffError

MB = 2**20

#: name -> (environment variable, default, unit in bytes or 1, what it bounds)
LIMITS = {
    "decompressed": ("SCDIFF_MAX_DECOMPRESSED_MB", 4096, MB, "decompressed size of an .h5ad.gz"),
    "upload": ("SCDIFF_MAX_UPLOAD_MB", 1000, MB, "size of a file uploaded in the app"),
    "weights": ("SCDIFF_MAX_WEIGHTS_MB", 2048, MB, "size of one checkpoint weight file"),
    "json": ("SCDIFF_MAX_JSON_MB", 64, MB, "size of a config.json or --config text"),
    "cells": ("SCDIFF_MAX_CELLS", 2_000_000, 1, "cells in a data file"),
    "genes": ("SCDIFF_MAX_GENES", 100_000, 1, "genes in a data file"),
    "values": ("SCDIFF_MAX_VALUES", 1_000_000_000, 1, "stored values of a data file's matrix"),
}
MAX_JSON_DEPTH = 64
"""Deepest nesting of brackets a JSON text may have (ours need 5)."""
MAX_LISTED = 20
"""Values named in one error message; the rest are counted."""
SEED_MAX = 2**32 - 1
MAX_THREADS = 256
MAX_SCALE = 50.0


def limit(name: str) -> int:
    """The limit ``name`` of :data:`LIMITS` in bytes (or a count), from its environment variable."""
    env, default, unit, what = LIMITS[name]
    raw = os.environ.get(env)
    if raw in (None, ""):
        return int(default * unit)
    try:
        v = float(raw)
    except ValueError:
        raise ScdiffError(f"${env} (the limit on the {what}) must be a number, got {raw!r}. Fix or unset it.") from None
    if not math.isfinite(v) or v <= 0:
        raise ScdiffError(f"${env} (the limit on the {what}) must be a positive number, got {raw!r}.")
    return int(v * unit)


def limit_hint(name: str) -> str:
    """'(limit N MB; raise it with $ENV)' for messages."""
    env, _, unit, _ = LIMITS[name]
    n = limit(name)
    shown = (f"{n / MB:,.0f} MB" if n >= 10 * MB else f"{n / MB:.3g} MB") if unit == MB else f"{n:,}"
    return f"(limit {shown}; set ${env} to raise it)"


def listing(values: Iterable[Any], limit_n: int = MAX_LISTED) -> str:
    """``'a', 'b', … and N more``: at most ``limit_n`` values, quoted, for an error message."""
    vals = [str(v) for v in values]
    shown = ", ".join(repr(v) for v in vals[:limit_n])
    return shown + (f" … and {len(vals) - limit_n} more" if len(vals) > limit_n else "")


# ------------------------------------------------------------------------------------------ numbers
def _num(x) -> str:
    return f"{x:,}" if isinstance(x, int) else f"{x:g}"


def _range_text(lo, hi, lo_open: bool = False) -> str:
    if lo is not None and hi is not None:
        return f"{'above' if lo_open else 'from'} {_num(lo)} {'up ' if lo_open else ''}to {_num(hi)}"
    if lo is not None:
        return f"{'above' if lo_open else 'at least'} {_num(lo)}"
    return f"at most {_num(hi)}" if hi is not None else "finite"


def integer(value: Any, what: str, lo: int | None = None, hi: int | None = None) -> int:
    """``value`` as an int in [lo, hi]; text like ``'12'`` is accepted, bools and fractions are not."""
    rng = _range_text(lo, hi)
    bad = ScdiffError(f"{what} must be a whole number {rng}, got {value!r}.")
    if isinstance(value, (bool, np.bool_)):
        raise bad
    if isinstance(value, str):
        try:
            value = int(value.strip().replace("_", ""))
        except ValueError:
            raise bad from None
    elif isinstance(value, (float, np.floating)):
        if not math.isfinite(value) or value != int(value):
            raise bad
        value = int(value)
    elif not isinstance(value, (int, np.integer)):
        raise bad
    value = int(value)
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise bad
    return value


def real(value: Any, what: str, lo: float | None = None, hi: float | None = None, *, lo_open: bool = False) -> float:
    """``value`` as a finite float in [lo, hi] (``(lo, hi]`` with ``lo_open``); NaN and ±inf refused."""
    bad = ScdiffError(f"{what} must be a finite number {_range_text(lo, hi, lo_open)}, got {value!r}.")
    if isinstance(value, (bool, np.bool_)):
        raise bad
    try:
        f = float(value.strip() if isinstance(value, str) else value)
    except (TypeError, ValueError, OverflowError):
        raise bad from None
    if not math.isfinite(f) or (lo is not None and (f <= lo if lo_open else f < lo)) or (hi is not None and f > hi):
        raise bad
    return f


def seed(v: Any, what: str = "seed") -> int:
    return integer(v, what, 0, SEED_MAX)


def threads(v: Any, what: str = "threads") -> int:
    return integer(v, what, 1, MAX_THREADS)


def eta(v: Any, what: str = "eta") -> float:
    return real(v, what, 0.0, 1.0)


def scale(v: Any, what: str = "guidance scale") -> float:
    return real(v, what, -MAX_SCALE, MAX_SCALE)


def t_start(v: Any, what: str = "t_start") -> float:
    return real(v, what, 0.0, 1.0, lo_open=True)


def small_tree(obj: Any, what: str, max_abs: float = 2**17, max_len: int = 64) -> None:
    """JSON values only; numbers finite with ``|x| <= max_abs``; lists of at most ``max_len`` items."""
    if obj is None or isinstance(obj, (bool, str)):
        return
    if isinstance(obj, (int, float)):
        if not math.isfinite(obj) or abs(obj) > max_abs:
            raise ScdiffError(f"{what} = {obj!r} is outside what scdiff builds (at most {max_abs:,.0f}).")
    elif isinstance(obj, (list, tuple)):
        if len(obj) > max_len:
            raise ScdiffError(f"{what} lists {len(obj)} values (at most {max_len}).")
        for i, v in enumerate(obj):
            small_tree(v, f"{what}[{i}]", max_abs, max_len)
    elif isinstance(obj, dict):
        for k, v in obj.items():
            small_tree(v, f"{what}.{k}", max_abs, max_len)
    else:
        raise ScdiffError(f"{what} is a {type(obj).__name__}; only numbers, text, lists and objects are allowed.")


# ------------------------------------------------------------------------------------------ pairs
def pairs(items: Iterable[str] | None, what: str) -> dict[str, str]:
    """``['col=value', …]`` -> ``{col: value}``, both sides stripped; one column given two values is refused."""
    out: dict[str, str] = {}
    for it in items or []:
        if not isinstance(it, str) or "=" not in it:
            raise ScdiffError(f"{what} must look like column=value, got {it!r}.")
        k, v = (s.strip() for s in it.split("=", 1))
        if not k:
            raise ScdiffError(f"{what} needs a column name before '=', got {it!r}.")
        if k in out and out[k] != v:
            raise ScdiffError(f"{what} gives {k!r} two values ({out[k]!r} and {v!r}); give one value per column.")
        out[k] = v
    return out


# ------------------------------------------------------------------------------------------ files
_KINDS = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISCHR, "a device"),
          (stat.S_ISBLK, "a device"), (stat.S_ISSOCK, "a socket"), (stat.S_ISLNK, "a symbolic link"))


def _kind(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def regular_file(path: str | os.PathLike, what: str, max_bytes: int | None = None, *,
                 follow_symlinks: bool = True, limit_name: str | None = None) -> Path:
    """``path`` exists and is a regular file of at most ``max_bytes``; never opens it (so FIFOs cannot hang)."""
    p = Path(path)
    try:
        st = os.stat(p) if follow_symlinks else os.lstat(p)
    except FileNotFoundError:
        raise ScdiffError(f"No file at {p} ({what}). Check the path.") from None
    except OSError as e:
        raise ScdiffError(f"Cannot look at {p} ({what}): {e.strerror}. Check the path and its permissions.") from None
    if not stat.S_ISREG(st.st_mode):
        raise ScdiffError(f"{p} ({what}) is {_kind(st.st_mode)}, not a regular file; give a regular file.")
    if max_bytes is not None and st.st_size > max_bytes:
        hint = limit_hint(limit_name) if limit_name else f"(limit {max_bytes:,} bytes)"
        raise ScdiffError(f"{p} ({what}) is {st.st_size / MB:,.3g} MB, too large {hint}.")
    return p


def read_bytes(path: str | os.PathLike, what: str, max_bytes: int, *, follow_symlinks: bool = True,
               limit_name: str | None = None) -> bytes:
    """The bytes of a regular file, at most ``max_bytes``; checked on the open descriptor (no race, no hang)."""
    p = regular_file(path, what, max_bytes, follow_symlinks=follow_symlinks, limit_name=limit_name)
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0) | (0 if follow_symlinks else os.O_NOFOLLOW)
    try:
        fd = os.open(p, flags)
    except OSError as e:
        raise ScdiffError(f"Cannot open {p} ({what}): {e.strerror}. Check the file and its permissions.") from None
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ScdiffError(f"{p} ({what}) changed into something that is not a regular file; refusing it.")
        data = f.read(max_bytes + 1)
    if len(data) > max_bytes:
        hint = limit_hint(limit_name) if limit_name else f"(limit {max_bytes:,} bytes)"
        raise ScdiffError(f"{p} ({what}) grew past its size limit while being read {hint}.")
    return data


def existing_dir(path: str | os.PathLike, what: str) -> Path:
    p = Path(path)
    if not p.exists():
        raise ScdiffError(f"No folder at {p} ({what}). Check the path.")
    if not p.is_dir():
        raise ScdiffError(f"{p} ({what}) is a file, not a folder.")
    return p


def writable_parent(path: Path, what: str) -> None:
    """The nearest existing folder above ``path`` is a folder we may write in (parents are made later)."""
    anc = path.parent
    while not anc.exists() and anc != anc.parent:
        if anc.is_symlink():  # a dangling link
            raise ScdiffError(f"{anc} (above {what} {path}) is a broken symbolic link; fix it or pick another path.")
        anc = anc.parent
    if not anc.is_dir():
        raise ScdiffError(f"Cannot write {what} {path}: {anc} is a file, not a folder. Pick another path.")
    if not os.access(anc, os.W_OK | os.X_OK):
        raise ScdiffError(f"Cannot write {what} {path}: the folder {anc} is not writable. Pick another path.")


def output_file(path: str | os.PathLike, what: str, suffix: str | None = None) -> Path:
    """An output file name we can write (checked before any work): right suffix, not a folder, writable."""
    p = Path(path)
    if suffix and not p.name.endswith(suffix):
        raise ScdiffError(f"{what} must end in {suffix}, got {str(path)!r}.")
    if p.is_dir():
        raise ScdiffError(f"{what} {p} is an existing folder; give a file name (…{suffix or ''}).")
    if p.exists() and not p.is_file():
        raise ScdiffError(f"{what} {p} exists and is not a regular file; give another name.")
    writable_parent(p, what)
    return p


# ------------------------------------------------------------------------------------------ JSON
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.S)


def json_depth(text: str) -> int:
    """The deepest nesting of ``[`` / ``{`` in JSON text (brackets inside strings ignored)."""
    b = np.frombuffer(_STRING.sub("", text).encode("utf-8", "replace"), dtype=np.uint8)
    step = np.isin(b, (ord("["), ord("{"))).astype(np.int64) - np.isin(b, (ord("]"), ord("}")))
    return int(np.cumsum(step).max()) if step.size else 0


def parse_json(text: str | bytes, what: str, max_bytes: int | None = None, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """Parse JSON with a size and a depth limit (no RecursionError, no memory blow-up)."""
    max_bytes = limit("json") if max_bytes is None else max_bytes
    if len(text) > max_bytes:
        raise ScdiffError(f"{what} is {len(text) / MB:,.1f} MB of JSON, too large {limit_hint('json')}.")
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise ScdiffError(f"{what} is not UTF-8 text; it must be JSON.") from None
    if json_depth(text) > max_depth:
        raise ScdiffError(f"{what} nests deeper than {max_depth} levels; it is not a config scdiff wrote or reads.")
    try:
        return json.loads(text)
    except (json.JSONDecodeError, RecursionError) as e:
        raise ScdiffError(f"{what} is not valid JSON ({e}).") from None


def read_json(path: str | os.PathLike, what: str, *, follow_symlinks: bool = True) -> Any:
    """:func:`parse_json` of a regular file of at most the JSON limit."""
    return parse_json(read_bytes(path, what, limit("json"), follow_symlinks=follow_symlinks, limit_name="json"), what)


def json_object(obj: Any, what: str, example: str = '{"latent_dim": 32}') -> dict:
    """``obj`` must be a JSON object (a dict with string keys)."""
    if not isinstance(obj, dict):
        raise ScdiffError(f"{what} must be a JSON object, e.g. '{example}', got a JSON {type(obj).__name__}.")
    return obj
