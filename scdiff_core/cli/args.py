"""Argument types and output helpers shared by the subcommands.

Every check of a command-line value lives here, so that each refusal is one ``error:`` line
(exit code 2) and no subcommand parses numbers or pairs its own way.
"""
from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path


class UsageError(Exception):
    """A problem with the command line, printed as one ``error:`` line (exit code 2)."""


def kv_pairs(items: list[str] | None, what: str) -> dict[str, str]:
    """``['col=value', …]`` -> ``{col: value}`` (spaces around either side stripped)."""
    out = {}
    for it in items or []:
        if "=" not in it:
            raise UsageError(f"{what} must look like column=value, got {it!r}.")
        k, v = it.split("=", 1)
        out[k.strip()] = v.strip()
    return out


def number(v: str, what: str) -> float:
    try:
        return float(v)
    except ValueError:
        raise UsageError(f"{what} expects a number, got {v!r}.") from None


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


def threads_arg(v: str) -> int:
    try:
        n = int(v)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--threads takes a whole number, got {v!r}") from None
    if not 1 <= n <= 256:
        raise argparse.ArgumentTypeError(f"--threads must be between 1 and 256, got {n}")
    return n


def default_threads() -> int:
    """Half the cores (at least 1): leaves room for the app or another run, no oversubscription."""
    return max(1, (os.cpu_count() or 2) // 2)


def add_threads(sp) -> None:
    sp.add_argument("--threads", type=threads_arg, default=default_threads(),
                    help="CPU threads for torch (default: half the cores, so another job still runs)")


def choices_help(registry: dict) -> str:
    """One line per registered choice: ``name: description`` (read from the registry)."""
    return "; ".join(f"{k}: {getattr(v, 'description', '')}" for k, v in sorted(registry.items()))


def add_sampling(sp, guidance_default: str = "free") -> None:
    """Guidance, sampler, steps, seed and threads: the options every sampling command shares."""
    from ..diffusion import SAMPLERS
    from ..guidance import GUIDANCE

    sp.add_argument("--guidance", default=guidance_default, choices=sorted(GUIDANCE), help=choices_help(GUIDANCE))
    sp.add_argument("--sampler", default="ddim", choices=sorted(SAMPLERS), help=choices_help(SAMPLERS))
    sp.add_argument("--steps", type=int, default=50, help="denoising steps (ddpm uses up to 1000)")
    sp.add_argument("--seed", type=int, default=0, help="same seed, same cells")
    add_threads(sp)


def tqdm_progress(desc: str):
    """A ``progress(step, total)`` callback drawing a tqdm bar on stderr."""
    from tqdm.auto import tqdm

    bar = {"b": None}

    def cb(step: int, total: int) -> None:
        if bar["b"] is None:
            bar["b"] = tqdm(total=total, desc=desc, unit="step", leave=False)
        bar["b"].n = step
        bar["b"].refresh()
        if step >= total:
            bar["b"].close()

    return cb


def check_h5ad_out(out: str) -> Path:
    """Check the output name before any work is done."""
    if Path(out).suffix != ".h5ad":
        raise UsageError(f"--out must end in .h5ad, got {out!r}.")
    return Path(out)


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
