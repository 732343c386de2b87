"""A corpus of malformed, hostile and borderline inputs, and the judge of how scdiff refuses them.

Each case is a function ``build(tmp, ckpt) -> Case`` registered with :func:`case`: it writes its
inputs under ``tmp`` (a fresh folder; ``ckpt`` is a read-only checkpoint to copy from) and says
what to run: a CLI command line (``argv``) or a library/app call (``call``). A case passes when
scdiff refuses it clearly:

* CLI: exit code 2, exactly one stderr line, starting with ``error:``, no traceback;
* call: a :class:`~scdiff_core.errors.ScdiffError` with a one-line message (or the documented
  refusal value, e.g. ``None`` for an unreadable config);
* and in both, nothing under ``tmp`` created, changed or removed (no half-written file, no user
  file touched), within the time limit (no hang).

The cases live in ``corpus_*.py`` beside this file; tests/reliability/test_corpus.py runs them
in-process, scripts/reliability_corpus.py runs the CLI ones as subprocesses and prints counts.
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
import stat
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

CASES: dict[str, Callable[[Path, Path], "Case"]] = {}
TIME_LIMIT = 10.0
"""Seconds a refusal may take before it counts as a hang."""


@dataclass
class Case:
    """What to run: ``argv`` for the CLI or ``call`` (returns a value or raises); ``env`` set meanwhile."""

    argv: list[str] | None = None
    call: Callable[[], Any] | None = None
    env: dict[str, str] = field(default_factory=dict)
    expect: str = ""
    """A word the error message must contain (the refusal names the problem)."""
    refusal_value: Any = "raise"
    """For calls: the value that counts as a refusal instead of raising (e.g. None)."""
    tmp: Path | None = None


def case(name: str):
    """Register ``build(tmp, ckpt) -> Case`` under ``name``."""
    def deco(fn):
        CASES[name] = fn
        return fn
    return deco


# ------------------------------------------------------------------------------------------ builders
def copy_ckpt(ckpt: Path, tmp: Path, name: str = "ck") -> Path:
    d = tmp / name
    shutil.copytree(ckpt, d)
    return d


def config_of(d: Path) -> dict:
    return json.loads((d / "config.json").read_text())


def write_config(d: Path, cfg: dict, resign: bool = False, rehash: bool = False) -> None:
    """Write an edited config; ``rehash``/``resign`` recompute the weight hashes / the fingerprint as a forger would."""
    from scdiff_core.fingerprint import fingerprint

    if rehash:
        cfg["files"] = {f: hashlib.sha256((d / f).read_bytes()).hexdigest() for f in cfg["files"]}
    if resign:
        cfg["fingerprint"] = fingerprint(cfg)
    (d / "config.json").write_text(json.dumps(cfg))


def synthetic_h5ad(path: Path, **kw) -> Path:
    from scdiff_core.data import make_synthetic

    a = make_synthetic(n_cells=kw.pop("n_cells", 120), n_genes=kw.pop("n_genes", 30), n_types=3, seed=0, counts=True)
    for k, v in kw.items():
        setattr(a, k, v)
    a.write_h5ad(path)
    return path


def generated_like(path: Path, ckpt: Path, edit: Callable | None = None) -> Path:
    """An .h5ad that looks like `scdiff generate` output for ``ckpt`` (then ``edit(adata)``)."""
    import anndata as ad
    import numpy as np
    import pandas as pd

    cfg = config_of(ckpt)
    rng = np.random.default_rng(0)
    X = np.log1p(rng.poisson(1.0, (20, len(cfg["genes"])))).astype(np.float32)
    obs = pd.DataFrame({c: [cfg["vocab"][c][0]] * 20 for c in cfg["conditions"]}, index=[f"g{i}" for i in range(20)])
    a = ad.AnnData(X=X, obs=obs, var=pd.DataFrame(index=cfg["genes"]))
    if edit is not None:
        edited = edit(a)
        a = a if edited is None else edited
    a.write_h5ad(path)
    return path


def fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


# ------------------------------------------------------------------------------------------ judging
def snapshot(root: Path) -> dict[str, tuple]:
    """Every entry under ``root``: kind, size, content hash (files), target (links), mode."""
    out = {}
    for dirpath, dirs, files in os.walk(root):
        for name in dirs + files:
            p = Path(dirpath, name)
            st = os.lstat(p)
            rel = str(p.relative_to(root))
            if stat.S_ISREG(st.st_mode):
                out[rel] = ("file", st.st_size, hashlib.sha256(p.read_bytes()).hexdigest(), st.st_mode)
            elif stat.S_ISLNK(st.st_mode):
                out[rel] = ("link", os.readlink(p))
            else:
                out[rel] = ("other", stat.S_IFMT(st.st_mode), st.st_mode)
    return out


@contextlib.contextmanager
def environ(env: dict[str, str]):
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def run_inprocess(c: Case) -> tuple[int | None, str, Any]:
    """(exit code or None for calls, error text, call result) of a case run in this process."""
    from scdiff_core.cli import main
    from scdiff_core.errors import ScdiffError

    err = io.StringIO()
    with environ(c.env), contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        if c.argv is not None:
            try:
                rc = main(c.argv)
            except SystemExit as e:
                rc = e.code
            return rc, err.getvalue(), None
        try:
            return None, "", c.call()
        except ScdiffError as e:
            return None, f"error: {e}\n", "raised"
        except Exception as e:  # a crash: counted as a traceback
            import traceback

            return None, "Traceback (most recent call last):\n" + traceback.format_exc() + str(e), "crashed"


def verdict(c: Case, rc, err: str, result, before: dict, after: dict, seconds: float) -> dict[str, bool]:
    """The corpus counts for one case: which kind of failure it shows, if any."""
    lines = [ln for ln in err.splitlines() if ln.strip() and not ln.startswith("warning:")]
    traceback_ = "Traceback" in err or result == "crashed"
    if c.argv is not None:
        refused = rc == 2
        clear = refused and len(lines) == 1 and lines[0].startswith("error:")
    else:
        refused = result == "raised" if c.refusal_value == "raise" else result == c.refusal_value
        clear = refused and (result != "raised" or len(lines) == 1)
    if c.expect and refused and c.expect.lower() not in err.lower():
        clear = False
    new = sorted(set(after) - set(before))
    changed = sorted(k for k in before if k in after and before[k] != after[k])
    return {"traceback": traceback_, "hang": seconds > TIME_LIMIT, "silent": not refused and not traceback_,
            "unclear": refused and not clear, "written": bool(new), "touched": bool(changed) or len(after) < len(before)}


def run_case(name: str, root: Path, ckpt: Path) -> tuple[dict[str, bool], str]:
    """Build, run in-process and judge one case; returns (failure flags, error text)."""
    import time

    import re

    tmp = root / re.sub(r"[^\w.-]+", "_", name)[:80]
    tmp.mkdir(parents=True)
    c = CASES[name](tmp, ckpt)
    before = snapshot(tmp)
    t0 = time.perf_counter()
    rc, err, result = run_inprocess(c)
    seconds = time.perf_counter() - t0
    return verdict(c, rc, err, result, before, snapshot(tmp), seconds), err


def load_all() -> None:
    """Import every corpus_*.py beside this file (they register their cases)."""
    here = Path(__file__).resolve().parent
    if str(here) not in sys.path:
        sys.path.insert(0, str(here))
    for p in sorted(here.glob("corpus_*.py")):
        __import__(p.stem)
