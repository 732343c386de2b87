"""Condition columns: checking that each can condition a model, and encoding them as categories.

A condition column must exist in ``obs``, label every cell, have at least two values, and have
at least ``min_cells`` cells of each value; it is then stored as a pandas Categorical with
sorted string categories (its vocabulary).
"""

from __future__ import annotations

from typing import Sequence

import pandas as pd

from scdiff_core.errors import DataError


def _skips_phase(column: str, need_phase: bool) -> bool:
    """Whether ``column`` is the phase that is yet to be computed (so nothing to check yet)."""
    return column == "phase" and need_phase


def _check_conditions(obs: pd.DataFrame, conditions: Sequence[str], need_phase: bool) -> None:
    """Every condition column exists in ``obs`` and labels every cell.

    The ``'phase'`` column is not checked when it is to be computed (``need_phase``).
    """
    available = ", ".join(repr(str(c)) for c in obs.columns) or "none"
    for c in conditions:
        if _skips_phase(c, need_phase):
            continue
        if c not in obs.columns:
            extra = (
                " ('phase' is computed only when compute_phase is not False.)" if c == "phase" else ""
            )
            raise DataError(
                f"Condition column '{c}' not found in obs. Available columns: {available}.{extra}"
            )
        n_nan = int(obs[c].isna().sum())
        if n_nan:
            raise DataError(
                f"Condition '{c}' has {n_nan} cells without a label (NaN). Drop those cells "
                f"(adata = adata[adata.obs['{c}'].notna()].copy()) or fill in a label."
            )


def _check_condition_values(
    labels: pd.Series, name: str, min_cells: int, *, computed: bool = False
) -> None:
    """One condition has at least two values, each in at least ``min_cells`` cells.

    ``computed`` marks the phase computed here: the messages then say so and suggest leaving it
    out of the conditions.
    """
    counts = labels.astype(str).value_counts()  # str: unused categories are not counted
    hint = " (the computed phase)" if computed else ""
    leave_out = (
        " The cell-cycle genes do not separate phases well here: leave 'phase' out of the "
        "conditions." if computed else ""
    )
    if len(counts) < 2:
        only = repr(str(counts.index[0])) if len(counts) else "none"
        raise DataError(
            f"Condition '{name}'{hint} has a single value ({only}) in all cells, so it cannot "
            f"condition anything. Remove it from the conditions or use a column with at least "
            f"two values.{leave_out}"
        )
    small = counts[counts < min_cells]
    if len(small):
        detail = ", ".join(
            f"'{v}' ({int(c)} cell{'s' if c != 1 else ''})" for v, c in list(small.items())[:8]
        )
        if len(small) > 8:
            detail += f", ... ({len(small)} values in all)"
        continuous = ""
        if len(counts) > 0.5 * len(labels):
            continuous = (
                f" '{name}' has {len(counts)} distinct values for {len(labels)} cells: it looks "
                f"continuous; conditions must be categorical labels."
            )
        raise DataError(
            f"Condition '{name}'{hint} has values with fewer than {min_cells} cells: {detail}. "
            f"Drop those cells (e.g. adata = adata[~adata.obs['{name}'].isin([...])].copy()) "
            f"or merge them into another value.{continuous}{leave_out}"
        )


def _check_condition_counts(
    obs: pd.DataFrame, conditions: Sequence[str], need_phase: bool, min_cells: int
) -> None:
    """:func:`_check_condition_values` for every condition but a phase yet to be computed."""
    for c in conditions:
        if not _skips_phase(c, need_phase):
            _check_condition_values(obs[c], c, min_cells)


def _to_categorical(labels: pd.Series) -> pd.Categorical:
    """The labels as strings, in a Categorical whose categories are the sorted values present."""
    values = labels.astype(str).to_numpy()
    return pd.Categorical(values, categories=sorted(set(values)))


def _vocabularies(
    obs: pd.DataFrame, conditions: Sequence[str]
) -> tuple[dict[str, list[str]], dict[str, dict[str, int]]]:
    """Encode each condition column of ``obs`` (in place) with :func:`_to_categorical`.

    Returns
    -------
    vocab
        Per condition, the sorted values.
    counts_per_value
        Per condition, the number of cells of each value.
    """
    vocab: dict[str, list[str]] = {}
    counts_per_value: dict[str, dict[str, int]] = {}
    for c in conditions:
        cat = _to_categorical(obs[c])
        obs[c] = cat
        vocab[c] = [str(v) for v in cat.categories]
        vc = pd.Series(cat).value_counts()
        counts_per_value[c] = {str(v): int(vc.get(v, 0)) for v in cat.categories}
    return vocab, counts_per_value
