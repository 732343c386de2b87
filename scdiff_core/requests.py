"""Checks of a generation request against a model: condition values, guidance scales, sampling.

Used by :class:`~scdiff_core.model.SCDiffModel` (and through it by trajectories, the CLI and the
app), so a request is refused the same way wherever it comes from. Label values are matched
after stripping surrounding spaces; ``None`` or ``'any'`` leaves a column free, and
:class:`~scdiff_core.common.Label` asks for a label that is literally called "any".
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from . import validate as V
from .common import ANY, Label
from .errors import ScdiffError


def is_free(val) -> bool:
    """``None`` or ``'any'`` (not a :class:`~scdiff_core.common.Label`) leaves a column unguided."""
    return val is None or (val == ANY and not isinstance(val, Label))


def match(vocab: Sequence[str], col: str, val) -> str:
    """The vocabulary entry ``val`` names: exactly, or the one equal to it once spaces are stripped."""
    text = str(val)
    if text in vocab:
        return text
    near = [v for v in vocab if v.strip() == text.strip()]
    if len(near) == 1:
        return near[0]
    hint = " A label named 'any' is asked for as col==any." if ANY in vocab else ""
    raise ScdiffError(f"{text!r} is not a value of {col!r}. Choose one of: {V.listing(vocab)} "
                      f"(or 'any' to leave it free).{hint}")


def check_conditions(columns: Sequence[str], vocab: Mapping[str, Sequence[str]],
                     conditions: Mapping[str, str | None]) -> dict[str, str | None]:
    """Request -> ``{column: value or None}`` for every column of the model."""
    if not isinstance(conditions, Mapping):
        raise ScdiffError(f"Conditions must be a mapping of column to value, got {type(conditions).__name__}.")
    out = {}
    for col, val in conditions.items():
        if col not in columns:
            raise ScdiffError(f"This model has no condition column {col!r}. Its columns are: {V.listing(columns)}.")
        out[col] = None if is_free(val) else match(vocab[col], col, val)
    return {c: out.get(c) for c in columns}


def scales(columns: Sequence[str], default: float | Mapping[str, float],
           given: Mapping[str, float] | float | None) -> dict[str, float]:
    """Guidance strength per column: the default (one number, or one per column), one number for all,
    or a mapping (others default)."""
    default = {c: float(default[c] if isinstance(default, Mapping) else default) for c in columns}
    if given is None:
        return default
    if not isinstance(given, Mapping):
        s = V.scale(given, "Guidance scale")
        return {c: s for c in columns}
    for c in given:
        if c not in columns:
            raise ScdiffError(f"Guidance scale given for {c!r}, which is not a condition of this model "
                              f"({V.listing(columns)}).")
    return {c: V.scale(given.get(c, default[c]), f"Guidance scale for {c!r} (a number between -50 and 50)")
            for c in columns}


def _whole(v) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def check_sampling(n_cells, sampler, steps, guidance, max_cells: int) -> None:
    """Cells, sampler, steps and guidance mode of a request."""
    from .diffusion import SAMPLERS
    from .guidance import GUIDANCE

    if not _whole(n_cells) or not 1 <= n_cells <= max_cells:
        raise ScdiffError(f"Number of cells must be a whole number from 1 to {max_cells:,}, got {n_cells!r}.")
    if not isinstance(sampler, str) or sampler not in SAMPLERS:
        raise ScdiffError(f"Unknown sampler {sampler!r}: use one of "
                          + "; ".join(f"'{k}' ({c.description})" for k, c in SAMPLERS.items()) + ".")
    if not _whole(steps) or not 1 <= steps <= 1000:
        raise ScdiffError(f"Steps must be a whole number from 1 to 1000, got {steps!r}.")
    if not isinstance(guidance, str) or guidance not in GUIDANCE:
        raise ScdiffError(f"Unknown guidance {guidance!r}: use one of "
                          + "; ".join(f"'{k}' ({g.description})" for k, g in GUIDANCE.items())
                          + "; or 'auto' for generation (classifier-free for combinations seen in training, "
                            "the unseen-combination setting otherwise).")
