"""Splitting cells into train / val / test: stratified by condition values and deterministic."""

from __future__ import annotations

import zlib
from typing import Any, Sequence

import numpy as np
import pandas as pd

from scdiff_core.errors import DataError, ScdiffError

__all__ = ["condition_strata", "split_cells", "split_with_exclusions"]

_SPLITS = ("train", "val", "test")


def condition_strata(obs: pd.DataFrame, conditions: Sequence[str]) -> np.ndarray:
    """Per-cell stratum labels: the condition values joined with ``'|'``.

    Parameters
    ----------
    obs
        Cell annotations.
    conditions
        Columns to combine; with none, every cell gets the same stratum ``''``.

    Returns
    -------
    numpy.ndarray
        Object array of strings, one per cell.
    """
    if not conditions:
        return np.array([""] * len(obs), dtype=object)
    parts = [obs[c].astype(str).to_numpy() for c in conditions]
    return np.array(["|".join(vals) for vals in zip(*parts)], dtype=object)


def _check_fractions(fractions: Any) -> np.ndarray:
    """``fractions`` as three floats (train, val, test) summing to 1, after checking them."""
    try:
        fr = np.asarray(fractions, dtype=float)
    except (TypeError, ValueError) as exc:
        raise DataError(f"fractions must be three numbers (train, val, test), got {fractions!r}.") from exc
    if fr.shape != (3,) or not np.all(np.isfinite(fr)) or np.any(fr < 0) or fr[0] <= 0:
        raise DataError(
            f"fractions must be three non-negative numbers (train, val, test) with train > 0, "
            f"got {fractions!r}."
        )
    return fr / fr.sum()


def _stratum_sizes(m: int, f_val: float, f_test: float) -> tuple[int, int, int]:
    """(n_train, n_val, n_test) for a stratum of ``m`` cells, ``m`` at least the number of splits.

    Val and test get their rounded share, at least one cell each when their fraction is
    positive; then, while train would be empty, the larger of val and test gives a cell back
    (keeping its one cell as long as it can).
    """
    n_val = max(1, int(round(m * f_val))) if f_val > 0 else 0
    n_test = max(1, int(round(m * f_test))) if f_test > 0 else 0
    while m - n_val - n_test < 1:
        if n_val >= n_test and n_val > (1 if f_val > 0 else 0):
            n_val -= 1
        elif n_test > (1 if f_test > 0 else 0):
            n_test -= 1
        elif n_val > 0:
            n_val -= 1
        else:
            n_test -= 1
    return m - n_val - n_test, n_val, n_test


def _stratum_order(label: str, members: list[int], seed: int) -> np.ndarray:
    """The cell indices of one stratum, shuffled by a generator seeded from ``seed`` and the label."""
    idx = np.asarray(members)
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, zlib.crc32(label.encode("utf-8"))])
    return idx[rng.permutation(len(idx))]


def split_cells(
    obs_names: Sequence[str],
    strata: Sequence[Any] | None,
    *,
    fractions: tuple[float, float, float] = (0.6, 0.2, 0.2),
    seed: int = 0,
) -> dict[str, list[str]]:
    """Stratified, deterministic train/val/test split of cells by name.

    Each stratum is shuffled with its own generator (``numpy.random.default_rng`` seeded from
    ``seed`` and the stratum label) and cut by ``fractions``. A stratum with at least 3 cells
    gets at least one cell in every split with a non-zero fraction; smaller strata fill train
    first, then test, then val.

    Parameters
    ----------
    obs_names
        Cell ids (unique).
    strata
        One label per cell (e.g. from :func:`condition_strata`); None for an unstratified split.
    fractions
        (train, val, test), non-negative with a positive train fraction; normalized to sum 1.
    seed
        Random seed.

    Returns
    -------
    dict
        ``{'train': [...], 'val': [...], 'test': [...]}``, disjoint, covering all cells, each in
        the input order.
    """
    names = [str(n) for n in obs_names]
    n = len(names)
    if len(set(names)) != n:
        raise DataError("Cell names are not unique; run adata.obs_names_make_unique() first.")
    labels = [""] * n if strata is None else [str(s) for s in strata]
    if len(labels) != n:
        raise DataError(
            f"strata has {len(labels)} labels for {n} cells; give one label per cell."
        )
    _, f_val, f_test = _check_fractions(fractions)
    small_order = ["train"] + (["test"] if f_test > 0 else []) + (["val"] if f_val > 0 else [])

    assign = np.empty(n, dtype=object)
    by_label: dict[str, list[int]] = {}
    for i, lab in enumerate(labels):
        by_label.setdefault(lab, []).append(i)
    for lab in sorted(by_label):
        idx = _stratum_order(lab, by_label[lab], seed)
        if len(idx) < len(small_order):
            for i, split in zip(idx, small_order):
                assign[i] = split
            continue
        n_train, n_val, _ = _stratum_sizes(len(idx), f_val, f_test)
        assign[idx[:n_train]] = "train"
        assign[idx[n_train:n_train + n_val]] = "val"
        assign[idx[n_train + n_val:]] = "test"
    return {s: [names[i] for i in range(n) if assign[i] == s] for s in _SPLITS}


def split_with_exclusions(prep, cfg) -> dict[str, list[str]]:
    """Stratified train/val/test split by cell id; excluded combinations go to the test set."""
    obs = prep.adata.obs
    strata = obs[prep.conditions].astype(str).agg("|".join, axis=1).to_numpy()
    seed = cfg.seed if cfg.split_seed is None else cfg.split_seed
    split = split_cells(prep.adata.obs_names, strata, fractions=tuple(cfg.split), seed=seed)
    if not cfg.exclude:
        return split
    held = np.zeros(len(obs), dtype=bool)
    for combo in cfg.exclude:
        if not isinstance(combo, dict) or not combo:
            raise ScdiffError("exclude takes combinations like {'paul15_clusters': '7MEP', 'phase': 'G2M'}.")
        m = np.ones(len(obs), dtype=bool)
        for col, val in combo.items():
            if col not in prep.conditions:
                raise ScdiffError(f"Cannot exclude on {col!r}: it is not a condition ({', '.join(prep.conditions)}).")
            if str(val) not in prep.vocab[col]:
                raise ScdiffError(f"Cannot exclude {col}={val!r}: not a value of {col} ({', '.join(prep.vocab[col])}).")
            m &= obs[col].astype(str).to_numpy() == str(val)
        if not m.any():
            raise ScdiffError(f"No cells match the excluded combination {combo}.")
        held |= m
    out_ids = set(obs.index[held])
    moved = [c for c in split["train"] + split["val"] if c in out_ids]
    split = {"train": [c for c in split["train"] if c not in out_ids],
             "val": [c for c in split["val"] if c not in out_ids],
             "test": split["test"] + moved}
    for col in prep.conditions:  # every value must still be trainable
        left = set(obs.loc[split["train"], col].astype(str))
        lost = [v for v in prep.vocab[col] if v not in left]
        if lost:
            raise ScdiffError(f"Excluding {cfg.exclude} leaves no training cells with {col} = {', '.join(lost)}; "
                              f"exclude a combination, not a whole value.")
    return split
