"""Generation in blocks of cells with their own random streams: in memory, as chunks, or to a file.

A request is cut into *RNG blocks* of :data:`RNG_BLOCK` cells (cells ``[b·B, (b+1)·B)``). Block
``b`` draws its starting noise and the sampler's noise from a ``torch.Generator`` and its decoder
samples from a ``numpy`` Generator, both derived from ``(seed, b)`` alone:

* block 0: ``torch.Generator().manual_seed(seed)`` and ``numpy.random.default_rng(seed)`` — the
  generators :meth:`SCDiffModel.generate` used before blocks existed, so requests of up to 4,096
  cells give the same cells as before, byte for byte;
* block b > 0: ``SeedSequence(seed, spawn_key=(b, 0))`` seeds torch, ``(b, 1)`` numpy.

Each block is also computed alone (one sampler batch, one decoder call), so the cells do not
depend on how the request is consumed: :meth:`SCDiffModel.generate` (in memory, at most
``MAX_CELLS``), :func:`generate_chunks` (an iterator of AnnData chunks of any size) and
:func:`write_h5ad_streamed` (an ``.h5ad`` written chunk by chunk) hold the same cells for the same
seed. Requests of more than 4,096 cells differ from the generator before this module (one stream
for all cells then).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterator, Mapping, Sequence

import anndata as ad
import numpy as np
import pandas as pd
import torch

from .common import ANY, ProgressFn
from .errors import ScdiffError
from .space import Cells

if TYPE_CHECKING:  # pragma: no cover
    from .model import SCDiffModel

RNG_BLOCK = 4096
"""Cells per block of random streams (and per sampler batch)."""

MAX_STREAMED_CELLS = 10_000_000
"""Upper bound on one streamed request: a typo guard (an extra zero or three), not a memory limit.
Ten million cells is more than most atlases hold; for more, run several requests with different seeds."""

DEFAULT_CHUNK = 8192


def block_generators(seed: int, block: int) -> tuple[torch.Generator, np.random.Generator]:
    """The (torch, numpy) generators of RNG block ``block`` for ``seed`` (see the module docstring)."""
    if block == 0:
        return torch.Generator().manual_seed(int(seed)), np.random.default_rng(int(seed))
    if int(seed) < 0:
        raise ScdiffError(f"The seed must be 0 or more, got {seed}.")
    t_seed = np.random.SeedSequence(int(seed), spawn_key=(block, 0)).generate_state(1, np.uint64)[0]
    rng = np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=(block, 1)))
    return torch.Generator().manual_seed(int(t_seed)), rng


@dataclass
class Request:
    """A checked generation request: groups of cells, guidance, sampler and seed."""

    groups: list[tuple[dict[str, str | None], int]]
    conditions: list[str]
    vocab: dict[str, list[str]]
    scales: dict[str, float]
    guidance: str
    sampler: str
    steps: int
    eta: float
    seed: int
    codes: dict[str, np.ndarray] = field(default_factory=dict)  # per column (N,) class index, -1 = any
    choice: str | None = None  # how guidance="auto" was resolved

    def __post_init__(self):
        sizes = [n for _, n in self.groups]
        for c in self.conditions:
            per_group = np.array([-1 if g[c] is None else self.vocab[c].index(g[c]) for g, _ in self.groups])
            self.codes[c] = np.repeat(per_group.astype(np.int32), sizes)  # (N,)

    @property
    def total(self) -> int:
        return sum(n for _, n in self.groups)

    @property
    def n_blocks(self) -> int:
        return (self.total + RNG_BLOCK - 1) // RNG_BLOCK

    def block_slice(self, b: int) -> slice:
        return slice(b * RNG_BLOCK, min((b + 1) * RNG_BLOCK, self.total))

    def targets(self, sl: slice) -> list[torch.Tensor | None]:
        """Per column, (n, C) one-hot targets of the cells in ``sl`` (None: the column is free everywhere)."""
        out = []
        for c in self.conditions:
            codes = self.codes[c]
            if (codes < 0).all():
                out.append(None)
                continue
            part = torch.from_numpy(codes[sl].astype(np.int64))
            y = torch.zeros(len(part), len(self.vocab[c]))
            rows = torch.nonzero(part >= 0).squeeze(1)
            y[rows, part[rows]] = 1.0
            out.append(y)
        return out

    def labels(self, c: str, sl: slice) -> np.ndarray:
        """Column ``c`` of the cells in ``sl`` as an object array of values (``'any'`` when free)."""
        names = np.asarray(list(self.vocab[c]) + [ANY], dtype=object)
        return names[self.codes[c][sl]]  # code -1 picks the last entry, ANY

    def categories(self, c: str) -> list[str]:
        """The values of column ``c`` present in the whole request, sorted (as in-memory results have)."""
        present = np.unique(self.codes[c])
        return sorted(ANY if k < 0 else self.vocab[c][k] for k in present)

    def obs(self, sl: slice) -> pd.DataFrame:
        return pd.DataFrame({c: self.labels(c, sl) for c in self.conditions})

    def provenance(self, seconds: float) -> dict:
        prov = {"guidance": self.guidance, "sampler": self.sampler, "steps": int(self.steps),
                "eta": float(self.eta), "scales": self.scales, "seed": int(self.seed), "seconds": seconds,
                "groups": [{"conditions": {c: (v or ANY) for c, v in cond.items()}, "n_cells": n}
                           for cond, n in self.groups]}
        if self.choice:
            prov["guidance_choice"] = self.choice
        return prov


AUTO = "auto"


def resolve_guidance(model: "SCDiffModel", groups, scales) -> tuple[str, object, str | None]:
    """guidance="auto": classifier-free with the checkpoint's defaults when every group's combination
    was seen in training; the unseen-combination setting (:func:`~scdiff_core.calibration.unseen_setting`)
    when one was not. Strengths the caller gives are kept (over the chosen mode's defaults)."""
    from .calibration import unseen_setting

    unseen = [cond for cond, _ in groups if not model.is_seen(cond)]
    if not unseen:
        return "free", scales, None
    mode, sc, origin = unseen_setting(model.config)
    if isinstance(scales, Mapping):
        sc = {**sc, **scales}
    elif scales is not None:
        sc = scales
    shown = ", ".join(f"{c}={v}" for c, v in unseen[0].items() if v is not None)
    strengths = ", ".join(f"{c} {v:g}" for c, v in sc.items()) if isinstance(sc, Mapping) else f"{sc:g}"
    return mode, sc, (f"guidance auto: {shown} was never seen in training, so the guidance chosen for unseen "
                      f"combinations is used: {mode}, {strengths} (chosen on {origin}). Give --guidance free "
                      f"(guidance='free') for the defaults calibrated on seen combinations.")


def plan_request(model: "SCDiffModel", conditions, n_cells: int | None, *, guidance: str = AUTO,
                 scales=None, sampler: str = "ddim", steps: int = 50, eta: float = 0.0, seed: int = 0,
                 max_cells: int) -> Request:
    """Check a request as :meth:`SCDiffModel.generate` documents it; at most ``max_cells`` cells."""
    groups = [(conditions, n_cells)] if isinstance(conditions, Mapping) else list(conditions)
    if not groups:
        raise ScdiffError("Nothing to generate: give at least one condition group.")
    auto = guidance == AUTO
    if auto:
        guidance = "free"  # checked as such; resolved once the conditions are
    model._check_sampling(1, sampler, steps, guidance, max_cells)
    more = ("Stream larger requests: SCDiffModel.generate_chunks, or `scdiff generate` (it writes more cells in "
            "chunks)." if max_cells < MAX_STREAMED_CELLS else "For more, run several requests with different seeds.")
    for _, n in groups:  # too many cells: say where larger requests go before the generic number check
        if isinstance(n, (int, np.integer)) and not isinstance(n, bool) and n > max_cells:
            raise ScdiffError(f"At most {max_cells:,} cells per request; asked for {int(n):,}. {more}")
    checked = []
    for cond, n in groups:
        model._check_sampling(n, sampler, steps, guidance, max_cells)
        checked.append((model._check_conditions(cond), int(n)))
    total = sum(n for _, n in checked)
    if total > max_cells:
        raise ScdiffError(f"At most {max_cells:,} cells per request; asked for {total:,}. {more}")
    choice = None
    if auto:
        guidance, scales, choice = resolve_guidance(model, checked, scales)
    sc = model._scales(scales, guidance)
    return Request(checked, model.conditions, model.vocab, sc, guidance, sampler, int(steps), float(eta),
                   int(seed), choice=choice)


def sample_block(model: "SCDiffModel", req: Request, b: int, progress: ProgressFn | None = None) -> Cells:
    """The cells of RNG block ``b``: noise → guided sampler → decoder samples."""
    sl = req.block_slice(b)
    g, rng = block_generators(req.seed, b)
    x = torch.randn(sl.stop - sl.start, model.config["space_dim"], generator=g)  # (n_b, D)
    prog = None if progress is None else (lambda i, tot: progress(b * tot + i, req.n_blocks * tot))
    v = model._denoise(x, req.targets(sl), [req.scales[c] for c in req.conditions], req.guidance, req.sampler,
                       req.steps, req.eta, None, g, prog, batch_size=RNG_BLOCK)
    return model.from_space(v, rng)


def concat_cells(parts: Sequence[Cells]) -> Cells:
    """Stack decoded cells of consecutive blocks."""
    if len(parts) == 1:
        return parts[0]

    def cat(name):
        vals = [getattr(p, name) for p in parts]
        if vals[0] is None:
            return None
        return np.concatenate(vals, axis=0)

    return Cells(cat("X"), cat("counts"), cat("library"))


def _chunk_anndata(model: "SCDiffModel", req: Request, cells: Cells, start: int, t0: float) -> ad.AnnData:
    stop = start + len(cells.X)
    prov = dict(req.provenance(time.perf_counter() - t0), chunk={"start": start, "stop": stop, "total": req.total})
    a = model._to_anndata(cells, req.obs(slice(start, stop)), prov, kind="generate")
    a.obs_names = [f"gen{i}" for i in range(start, stop)]
    for c in req.conditions:  # the whole request's values, so chunks concatenate cleanly
        a.obs[c] = a.obs[c].cat.set_categories(req.categories(c))
    return a


def iter_chunks(model: "SCDiffModel", req: Request, chunk_size: int = DEFAULT_CHUNK,
                progress: ProgressFn | None = None) -> Iterator[ad.AnnData]:
    """AnnData chunks of ``chunk_size`` cells (the last may be shorter) of a checked request."""
    if not isinstance(chunk_size, (int, np.integer)) or isinstance(chunk_size, bool) or chunk_size < 1:
        raise ScdiffError(f"chunk_size must be a positive whole number, got {chunk_size!r}.")
    return _chunks(model, req, int(chunk_size), progress)


def _chunks(model, req: Request, chunk_size: int, progress: ProgressFn | None) -> Iterator[ad.AnnData]:
    t0 = time.perf_counter()
    pending: list[Cells] = []
    n_pending, start = 0, 0
    for b in range(req.n_blocks):
        pending.append(sample_block(model, req, b, progress))
        n_pending += len(pending[-1].X)
        while n_pending >= chunk_size or (b + 1 == req.n_blocks and n_pending):
            both = concat_cells(pending)
            k = min(chunk_size, n_pending)
            head = Cells(*(None if v is None else v[:k] for v in both))
            rest = Cells(*(None if v is None else v[k:] for v in both))
            yield _chunk_anndata(model, req, head, start, t0)
            start += k
            n_pending -= k
            pending = [rest] if n_pending else []
