"""Small definitions every layer shares: the "any value" marker, the progress callback type and
one JSON sanitiser (numpy scalars and arrays → Python values, NaN/inf → ``None``)."""
from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

ANY = "any"
"""A condition value that leaves its column unguided (and marks unlabelled generated cells)."""


class Label(str):
    """A condition value taken literally, even one spelled like :data:`ANY`.

    ``Label("any")`` asks for the data's label "any"; plain ``"any"`` leaves the column free. The
    CLI writes it ``--condition col==any``.
    """

LIBRARY_KEY = "total_counts"
"""obs column with each cell's total count over *all* its genes (prepared and generated count data)."""

TARGET_SUM = 1e4
"""Counts per cell after normalization: X = log1p(counts / total_counts · 1e4) (scanpy's normalize_total)."""

NORMALIZATION = ("log1p(counts / total_counts * 1e4), total_counts = the cell's counts over all its genes "
                 "(scanpy normalize_total(target_sum=1e4) + log1p on the full data), then the model's genes")
"""The output convention of count models, stated in every output's uns['scdiff'] and in the README."""

ProgressFn = Callable[[int, int], None]
"""``progress(step, total)``, called after each unit of work."""


def to_jsonable(obj: Any) -> Any:
    """Recursively turn ``obj`` into plain JSON values.

    numpy scalars and arrays become Python numbers and lists, tuples become lists, dict keys become
    strings, NaN / ±inf / ``pd.NA`` become ``None``; anything else that JSON cannot hold becomes
    its ``str``.
    """
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return [to_jsonable(v) for v in obj.tolist()]
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        f = float(obj)
        return f if math.isfinite(f) else None
    if obj is None or isinstance(obj, str):
        return obj
    try:
        import pandas as pd

        if obj is pd.NA:
            return None
    except ImportError:  # pragma: no cover
        pass
    return str(obj)
