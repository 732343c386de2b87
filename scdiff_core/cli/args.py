"""Argument types and output helpers shared by the subcommands.

Every check of a command-line value lives here, so that each refusal is one ``error:`` line
(exit code 2) and no subcommand parses numbers or pairs its own way.
"""
from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
from pathlib import Path
from typing import Callable

from .. import validate as V
from ..common import Label
from ..errors import ScdiffError


class UsageError(Exception):
    """A problem with the command line, printed as one ``error:`` line (exit code 2)."""


class Parser(argparse.ArgumentParser):
    """argparse whose refusals are one ``error:`` line (exit code 2) that points to ``--help``."""

    def error(self, message: str):  # noqa: D102 - argparse's hook
        message = re.sub(r"^argument (\S+?)(/\S+)?: (\1 )?", r"\1: ", message)
        print(f"error: {message} (see `{self.prog} --help`)", file=sys.stderr)
        sys.exit(2)


def typed(check: Callable, flag: str, *bounds) -> Callable[[str], object]:
    """An argparse ``type=`` from a :mod:`scdiff_core.validate` check (its message, one line)."""
    def convert(text: str):
        try:
            return check(text, flag, *bounds)
        except ScdiffError as e:
            raise argparse.ArgumentTypeError(str(e)) from None
    convert.__name__ = flag.lstrip("-").replace("-", "_")
    return convert


def kv_pairs(items: list[str] | None, what: str) -> dict[str, str]:
    """``['col=value', …]`` -> ``{col: value}`` (spaces stripped; one column given two values is refused)."""
    return V.pairs(items, what)


def condition_pairs(items: list[str] | None, what: str = "--condition") -> dict[str, str]:
    """Like :func:`kv_pairs`; ``col==VALUE`` asks for the label VALUE literally (even one named 'any')."""
    return {k: Label(v[1:].strip()) if v.startswith("=") else v for k, v in kv_pairs(items, what).items()}


def scale_pairs(items: list[str] | None) -> dict[str, float]:
    """``--scale COL=S`` options -> ``{column: strength}`` (finite, -50 to 50)."""
    return {k: V.scale(v, f"--scale {k}") for k, v in kv_pairs(items, "--scale").items()}


def split_arg(v: str) -> tuple[float, float, float]:
    """``TRAIN,VAL,TEST`` as fractions (0.6,0.2,0.2) or percentages (60,20,20); TEST may be 0."""
    parts = [x.strip() for x in v.split(",")]
    usage = f"--split takes three numbers TRAIN,VAL,TEST, e.g. 0.6,0.2,0.2; got {v!r}"
    if len(parts) != 3:
        raise argparse.ArgumentTypeError(usage)
    try:
        f = [float(x) for x in parts]
    except ValueError:
        raise argparse.ArgumentTypeError(usage) from None
    total = sum(f)
    if not all(x == x and x >= 0 for x in f) or total <= 0:
        raise argparse.ArgumentTypeError(f"--split parts must be non-negative numbers, got {v!r}")
    if abs(total - 100) < 1e-6:
        f = [x / 100 for x in f]
    elif abs(total - 1) > 1e-6:
        raise argparse.ArgumentTypeError(f"--split parts must add up to 1 (or 100), got {v!r} (sum {total:g})")
    return f[0], f[1], f[2]


def modes_arg(flag: str, allow_none: bool) -> Callable[[str], tuple[str, ...]]:
    """Comma-separated guidance modes (``free,chained,classifier``), ``all``, or (``allow_none``) ``none``."""
    from ..guidance import GUIDANCE

    def parse(v: str) -> tuple[str, ...]:
        text = v.strip().lower()
        if text == "all":
            return tuple(GUIDANCE)
        if allow_none and text == "none":
            return ()
        modes = tuple(dict.fromkeys(x.strip() for x in text.split(",") if x.strip()))
        bad = [m for m in modes if m not in GUIDANCE]
        if bad or not modes:
            raise argparse.ArgumentTypeError(
                f"{flag} takes guidance modes separated by commas ({', '.join(GUIDANCE)}), 'all'"
                + (" or 'none'" if allow_none else "") + f"; got {v!r}")
        return modes

    return parse


threads_arg = typed(V.integer, "--threads", 1, V.MAX_THREADS)
seed_arg = typed(V.seed, "--seed")


def count_arg(flag: str, lo: int, hi: int) -> Callable[[str], int]:
    """A whole number in [lo, hi] (``type=`` for counts such as --cells, --steps, --points)."""
    return typed(V.integer, flag, lo, hi)


def add_fingerprint(sp) -> None:
    sp.add_argument("--expect-fingerprint", metavar="HEX", type=typed(lambda v, f: _fp(v), "--expect-fingerprint"),
                    help="refuse any checkpoint but the one with this fingerprint (12-64 hex digits, see scdiff info)")


def _fp(v: str) -> str:
    from ..fingerprint import expected_arg

    return expected_arg(v)


def default_threads() -> int:
    """Half the cores (at least 1): leaves room for the app or another run, no oversubscription."""
    return max(1, (os.cpu_count() or 2) // 2)


def add_threads(sp) -> None:
    sp.add_argument("--threads", type=threads_arg, default=default_threads(),
                    help="CPU threads for torch (default: half the cores, so another job still runs)")


def choices_help(registry: dict) -> str:
    """One line per registered choice: ``name: description`` (read from the registry)."""
    return "; ".join(f"{k}: {getattr(v, 'description', '')}" for k, v in sorted(registry.items()))


def add_sampling(sp, guidance_default: str | None = "free", auto: bool = False) -> None:
    """Guidance, sampler, steps, seed and threads: the options every sampling command shares.
    ``auto``: offer (and default to) guidance 'auto' (generation)."""
    from ..diffusion import SAMPLERS
    from ..guidance import GUIDANCE

    if auto:
        sp.add_argument("--guidance", default="auto", choices=["auto", *sorted(GUIDANCE)],
                        help="auto: free for combinations seen in training, the setting chosen for unseen "
                             "combinations otherwise (chained; docs/benchmarks.md); " + choices_help(GUIDANCE))
    else:
        sp.add_argument("--guidance", default=guidance_default, choices=sorted(GUIDANCE), help=choices_help(GUIDANCE))
    sp.add_argument("--sampler", default="ddim", choices=sorted(SAMPLERS), help=choices_help(SAMPLERS))
    sp.add_argument("--steps", type=count_arg("--steps", 1, 1000), default=50,
                    help="denoising steps, 1 to 1000 (ddpm uses up to 1000)")
    sp.add_argument("--seed", type=seed_arg, default=0, help=f"same seed, same cells (0 to {V.SEED_MAX})")
    add_threads(sp)
    add_fingerprint(sp)


def tqdm_progress(desc: str, unit: str = "step"):
    """A ``progress(step, total)`` callback drawing a tqdm bar on stderr."""
    from tqdm.auto import tqdm

    bar = {"b": None}

    def cb(step: int, total: int) -> None:
        if bar["b"] is None:
            bar["b"] = tqdm(total=total, desc=desc, unit=unit, leave=False)
        bar["b"].n = step
        bar["b"].refresh()
        if step >= total:
            bar["b"].close()

    return cb


def check_h5ad_out(out: str) -> Path:
    """Check the output name before any work is done (suffix, not a folder, a writable place)."""
    return V.output_file(out, "--out", ".h5ad")


def write_h5ad(adata, out: str) -> None:
    """Write atomically: a temporary file next to the target, then rename."""
    out_p = check_h5ad_out(out)
    out_p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out_p.name}.", suffix=".h5ad", dir=out_p.parent)
    os.close(fd)
    try:
        adata.write_h5ad(tmp)
        os.replace(tmp, out_p)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
