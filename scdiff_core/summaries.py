"""Summaries of checkpoints and of generated results, for the app and scripts (no drawing here).

* Checkpoints: :func:`try_read_config` reads a folder's ``config.json`` leniently (no schema
  check, no weights, no torch), :func:`config_summary` condenses it to a few facts,
  :func:`training_count` counts the reference cells of a condition combination; trust in a
  combination: :func:`combination_status` (seen / rare / unseen), :func:`combination_table` (every
  combination with its training cells), :func:`nearest_seen` and :func:`trust_verdict`.
* Generated sets: :func:`top_variable_genes`, :func:`label_agreement` (predicted labels against
  the requested ones) and :func:`matching_cells` (cells of a combination).

Summaries of trajectories are in :mod:`scdiff_core.trajectory.summaries`.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from .common import ANY

MIXED = "(mixed)"
"""The requested value shown by :func:`label_agreement` for a column whose cells asked for several values."""


# ---------------------------------------------------------------------------------------- checkpoints
def try_read_config(directory: str | os.PathLike) -> dict | None:
    """Read a checkpoint folder's ``config.json`` without checking it.

    Unlike :func:`scdiff_core.checkpoint.read_config`, an old schema or a missing weight list is
    accepted, so damaged or outdated checkpoints can still be described.

    Parameters
    ----------
    directory
        The checkpoint folder.

    Returns
    -------
    dict or None
        The parsed JSON, or ``None`` if the file is missing, not a regular file, too large, nested
        too deep, not valid JSON, not an object, or of a shape no scdiff checkpoint has (so that
        pages describing it cannot crash).
    """
    from .errors import ScdiffError
    from .validate import read_json

    try:
        cfg = read_json(Path(directory) / "config.json", "config.json", follow_symlinks=False)
    except ScdiffError:
        return None
    return cfg if isinstance(cfg, dict) and _describable(cfg) else None


_TYPES = {"split": dict, "backbone": dict, "conditions": list, "vocab": dict, "genes": list, "data": dict,
          "training": dict, "counts": dict, "autoencoder": dict, "guidance_defaults": dict, "combinations": list,
          "command": str, "space": str, "scdiff_version": str}


def _describable(cfg: dict) -> bool:
    """The entries the summaries and the app read have the types a scdiff checkpoint gives them."""
    if any(k in cfg and cfg[k] is not None and not isinstance(cfg[k], t) for k, t in _TYPES.items()):
        return False
    conds = cfg.get("conditions") or []
    vocab, counts = cfg.get("vocab") or {}, cfg.get("counts") or {}
    if not all(isinstance(c, str) and isinstance(vocab.get(c, []), list) and isinstance(counts.get(c, {}), dict)
               for c in conds):
        return False
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for c in counts.values()
               if isinstance(c, dict) for v in c.values()) or not all(isinstance(c, dict) for c in counts.values()):
        return False
    if not all(isinstance(v, list) for v in (cfg.get("split") or {}).values()):
        return False
    for stage in (cfg.get("training") or {}).values():
        curve = stage.get("loss_curve") if isinstance(stage, dict) else None
        if curve is not None and not (isinstance(curve, list) and all(
                isinstance(r, list) and len(r) == 2 and all(isinstance(x, (int, float)) for x in r) for r in curve)):
            return False
    seconds = (cfg.get("training") or {}).get("seconds_total")
    backbone = cfg.get("backbone") or {}
    return (seconds is None or isinstance(seconds, (int, float))) and isinstance(backbone.get("name", ""), str) \
        and (backbone.get("parameters") is None or isinstance(backbone.get("parameters"), int))


def dataset_name(cfg: Mapping[str, Any]) -> str:
    """The name of the dataset a checkpoint was trained on.

    Parameters
    ----------
    cfg
        A checkpoint's config.

    Returns
    -------
    str
        The built-in dataset's name, or the file name (without folders) of the training file;
        ``'?'`` when unrecorded.
    """
    src = (cfg.get("data") or {}).get("source")
    if isinstance(src, dict):
        src = src.get("source") or src.get("path")
    src = str(src or "?")
    return Path(src).name if ("/" in src or "\\" in src) else src


def config_summary(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """A few facts about a checkpoint, from its config alone.

    Parameters
    ----------
    cfg
        A checkpoint's config (missing entries are tolerated).

    Returns
    -------
    dict
        ``dataset``, ``cells_train`` / ``cells_val`` / ``cells_test`` (split sizes), ``genes``
        (count), ``kind`` (``'counts'`` or ``'lognorm'``), ``space``, ``backbone``, ``parameters``
        (of the backbone, or None), ``conditions`` (column names), ``n_values`` (values per column),
        ``n_combinations`` (product of ``n_values``) and ``minutes`` (training time).
    """
    split = cfg.get("split") or {}
    backbone = cfg.get("backbone") or {}
    conditions = list(cfg.get("conditions", []))
    n_values = {c: len(cfg.get("vocab", {}).get(c, [])) for c in conditions}
    return {"dataset": dataset_name(cfg), "cells_train": len(split.get("train", [])),
            "cells_val": len(split.get("val", [])), "cells_test": len(split.get("test", [])),
            "genes": len(cfg.get("genes", [])), "kind": (cfg.get("data") or {}).get("kind", "?"),
            "space": cfg.get("space", "latent"), "backbone": backbone.get("name", "?"),
            "parameters": backbone.get("parameters"), "conditions": conditions, "n_values": n_values,
            "n_combinations": int(np.prod(list(n_values.values()))) if n_values else 0,
            "minutes": ((cfg.get("training") or {}).get("seconds_total") or 0) / 60}


def training_count(model, request: Mapping[str, str | None]) -> int:
    """How many training cells have a condition combination.

    Parameters
    ----------
    model
        A loaded :class:`~scdiff_core.model.SCDiffModel`.
    request
        Column -> value; ``None`` or :data:`~scdiff_core.common.ANY` leaves a column free.

    Returns
    -------
    int
        The number of training cells (from ``config['combination_counts']``; older checkpoints: the
        stored reference map's cells, all training cells), or -1 if neither is stored.
    """
    asked = {k: v for k, v in request.items() if v not in (None, ANY)}
    table = (getattr(model, "config", None) or {}).get("combination_counts")
    if table is not None:  # [value per condition..., cells]; the map may hold only a sample of the cells
        idx = [model.conditions.index(c) for c in asked]
        return int(sum(r[-1] for r in table if all(r[i] == asked[c] for i, c in zip(idx, asked))))
    ref = model.reference
    if "umap" not in ref:
        return -1
    mask = np.ones(len(ref["umap"]), bool)
    for c, v in request.items():
        if v not in (None, ANY):
            mask &= ref[f"label_{c}"] == model.vocab[c].index(v)
    return int(mask.sum())


RARE_BELOW = 10
"""A combination with 1 to ``RARE_BELOW - 1`` training cells is *rare*; with 0 it is *unseen*."""


def combination_status(n_cells: int, asked: bool = True) -> str:
    """``'any'`` (nothing asked), ``'unseen'`` (0 training cells), ``'rare'`` (< :data:`RARE_BELOW`) or ``'seen'``."""
    return "any" if not asked else "unseen" if n_cells == 0 else "rare" if n_cells < RARE_BELOW else "seen"


def combination_table(model) -> pd.DataFrame:
    """Every combination of the model's condition values with its training cells and status.

    Parameters
    ----------
    model
        A loaded model with ``conditions``, ``vocab`` and a stored reference (``label_<column>`` codes).

    Returns
    -------
    pandas.DataFrame
        One column per condition, ``training cells`` and ``status`` (as :func:`combination_status`),
        unseen first, then rare, then seen; fewest cells first.
    """
    cols = list(model.conditions)
    if not cols or f"label_{cols[0]}" not in model.reference:
        return pd.DataFrame(columns=cols + ["training cells", "status"])
    shape = [len(model.vocab[c]) for c in cols]
    flat = np.ravel_multi_index([np.asarray(model.reference[f"label_{c}"]) for c in cols], shape)
    counts = np.bincount(flat, minlength=int(np.prod(shape)))
    idx = np.unravel_index(np.arange(len(counts)), shape)
    df = pd.DataFrame({c: np.asarray(model.vocab[c], dtype=object)[i] for c, i in zip(cols, idx)})
    df["training cells"] = counts
    df["status"] = [combination_status(int(n)) for n in counts]
    order = df["status"].map({"unseen": 0, "rare": 1, "seen": 2})
    return df.assign(_o=order).sort_values(["_o", "training cells"], kind="stable").drop(columns="_o").reset_index(drop=True)


def nearest_seen(table: pd.DataFrame, request: Mapping[str, str | None], k: int = 3) -> list[dict[str, str]]:
    """The seen combinations closest to a request: fewest asked values changed, then most training cells.

    Parameters
    ----------
    table, request, k
        :func:`combination_table`'s result; column -> value (``None`` / ``ANY``: free); how many.

    Returns
    -------
    list of dict
        Column -> value of the asked columns only (free columns stay free), distinct.
    """
    asked = {c: v for c, v in request.items() if v not in (None, ANY) and c in table}
    if not asked:
        return []
    seen = table[table["status"] == "seen"]
    grouped = seen.groupby(list(asked), observed=True)["training cells"].sum().reset_index()
    grouped["_d"] = sum((grouped[c] != v).astype(int) for c, v in asked.items())
    grouped = grouped[grouped["_d"] > 0].sort_values(["_d", "training cells"], ascending=[True, False], kind="stable")
    return [{c: str(r[c]) for c in asked} for _, r in grouped.head(k).iterrows()]


def trust_verdict(status: str, fidelity: Mapping[str, float], reference: Mapping[str, float] | None) -> str:
    """One line on how far a rare or unseen combination's cells can be trusted.

    Parameters
    ----------
    status
        :func:`combination_status` of the request.
    fidelity
        Column -> share of the generated cells whose predicted value is the requested one.
    reference
        Column -> the same share for held-out real cells of the nearest seen combinations (None: no
        real reference).

    Returns
    -------
    str
        ``'plausible: …'`` when every column's share reaches half the reference's (0.5 without one), else ``'doubtful: …'``.
    """
    cols = [c for c in fidelity if np.isfinite(fidelity[c])]
    if not cols:
        return "no verdict: no column with a requested value to check."
    floor = {c: 0.5 * reference[c] if reference and c in reference else 0.5 for c in cols}
    weak = [c for c in cols if fidelity[c] < floor[c]]
    shares = ", ".join(f"{c} {fidelity[c]:.0%}" + (f" (real {reference[c]:.0%})" if reference and c in reference else "")
                       for c in cols)
    what = "an unseen combination" if status == "unseen" else "a rare combination"
    if weak:
        return (f"doubtful: the predicted labels rarely match the request for {', '.join(weak)} ({shares}); "
                f"treat these cells of {what} as the model's guess, not as data.")
    return f"plausible: the predicted labels match the request about as often as expected ({shares}) for {what}."


# ---------------------------------------------------------------------------------------- generated sets
def top_variable_genes(adata, k: int = 4) -> list[str]:
    """The ``k`` genes with the largest variance across the cells, largest first.

    Parameters
    ----------
    adata
        Cells (log-normalized, dense ``X``).
    k
        How many genes.

    Returns
    -------
    list of str
    """
    X = np.asarray(adata.X)
    return [str(adata.var_names[i]) for i in np.argsort(-X.var(0))[:k]]


def label_agreement(adata, conditions: Sequence[str]) -> pd.DataFrame:
    """Predicted labels against requested ones, one row per condition column.

    Parameters
    ----------
    adata
        Cells with the requested values in ``obs[column]`` (optional) and predicted labels in
        ``obs['predicted_' + column]``; columns without predictions are skipped.
    conditions
        The condition columns.

    Returns
    -------
    pandas.DataFrame
        Columns ``column``, ``requested`` (the value, :data:`MIXED` or ``'any'``),
        ``predicted = requested`` (share of cells, None when no single value was requested) and
        ``predicted`` (the three commonest predicted labels with shares).
    """
    rows = []
    for col in conditions:
        pc = f"predicted_{col}"
        if pc not in adata.obs:
            continue
        asked = adata.obs[col].astype(str) if col in adata.obs else None
        req = str(asked.iloc[0]) if asked is not None and asked.nunique() == 1 else MIXED
        pred = adata.obs[pc].astype(str)
        shares = pred.value_counts(normalize=True)
        agree = float((pred == asked).mean()) if asked is not None else np.nan
        rows.append({"column": col, "requested": req,
                     "predicted = requested": None if req in (ANY, MIXED) else agree,
                     "predicted": ", ".join(f"{k} {v:.0%}" for k, v in shares.head(3).items())})
    return pd.DataFrame(rows)


def matching_cells(obs: pd.DataFrame, request: Mapping[str, str | None]) -> np.ndarray:
    """Which cells have a condition combination.

    Parameters
    ----------
    obs
        Cell annotations.
    request
        Column -> value; ``None``, :data:`~scdiff_core.common.ANY` and columns absent from ``obs``
        leave a column free.

    Returns
    -------
    numpy.ndarray
        Boolean mask, one entry per cell.
    """
    mask = np.ones(len(obs), bool)
    for c, v in request.items():
        if v not in (None, ANY) and c in obs:
            mask &= (obs[c].astype(str) == v).to_numpy()
    return mask
