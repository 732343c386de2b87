"""A selection of the checkpoint's stored training cells (e.g. a lasso on the reference map):
its label make-up, the combination most of its cells have, and its cell ids.

A selection is given as positions in the stored reference (``model.reference``), which holds the
training cells in the order of ``model.config['split']['train']``.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from .errors import ScdiffError


def reference_ids(model) -> list[str]:
    """The ids of the training cells the stored reference map holds, in its order: all training cells,
    or (``reference['train_rows']``, data above the map's cap) a sample of them."""
    train = model.config["split"]["train"]
    rows = model.reference.get("train_rows")
    return list(train) if rows is None else [train[int(i)] for i in rows]


def _positions(model, idx: Sequence[int]) -> np.ndarray:
    pos = np.unique(np.asarray(list(idx), dtype=np.int64))
    n = len(reference_ids(model))
    if len(pos) and (pos.min() < 0 or pos.max() >= n):
        raise ScdiffError(f"Selected positions must lie in 0…{n - 1} (the stored training cells).")
    return pos


def selection_ids(model, idx: Sequence[int]) -> list[str]:
    """The training cells' ids at these reference positions (sorted, without repeats)."""
    ids = reference_ids(model)
    return [str(ids[i]) for i in _positions(model, idx)]


def selection_labels(model, idx: Sequence[int]) -> pd.DataFrame:
    """The selected training cells' values of every condition column (one row per cell)."""
    pos = _positions(model, idx)
    return pd.DataFrame({c: np.asarray(model.vocab[c], dtype=object)[model.reference[f"label_{c}"][pos]]
                         for c in model.conditions})


def selection_makeup(model, idx: Sequence[int]) -> pd.DataFrame:
    """How many selected cells have each value, per condition column, most common first.

    Returns
    -------
    DataFrame
        ``column``, ``value``, ``cells``, ``share`` (of the selection); empty for an empty selection.
    """
    labels = selection_labels(model, idx)
    rows = []
    for c in model.conditions:
        counts = labels[c].value_counts()
        rows += [{"column": c, "value": str(v), "cells": int(k), "share": k / len(labels)}
                 for v, k in counts.items()]
    return pd.DataFrame(rows, columns=["column", "value", "cells", "share"])


def majority_request(model, idx: Sequence[int]) -> dict[str, str]:
    """The most common value per condition column among the selected cells (ties: the first in the
    checkpoint's vocabulary) — the request that generates "more cells like these"."""
    labels = selection_labels(model, idx)
    if labels.empty:
        raise ScdiffError("The selection is empty; select at least one training cell.")
    out = {}
    for c in model.conditions:
        counts = labels[c].value_counts()
        best = counts.max()
        out[c] = next(v for v in model.vocab[c] if counts.get(v, 0) == best)
    return out
