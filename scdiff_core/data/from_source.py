"""One call from a data source to prepared data: load → choose the matrix → prepare.

:func:`load_prepared` is what the command line, evaluation and the app use; it also restricts
the prepared data to a trained model's genes.
"""

from __future__ import annotations

import os
from typing import Sequence

import numpy as np

from scdiff_core.errors import DataError

from .io import load_anndata
from .matrix import select_matrix
from .preparation import PreparedData, _examples, prepare

__all__ = ["load_prepared"]


def load_prepared(
    source: str | os.PathLike,
    conditions: Sequence[str],
    *,
    layer: str | None = None,
    use_raw: bool | None = None,
    paul15_path: str | os.PathLike | None = None,
    n_top_genes: int = 2000,
    genes: Sequence[str] | None = None,
    **prepare_options,
) -> PreparedData:
    """Load a dataset by name or path and prepare it for training or evaluation.

    ``use_raw=None`` follows the dataset's default (``.raw`` for pbmc68k, whose ``.X`` is
    scaled). ``genes``: restrict to a model's genes (evaluation), in that order — a gene the
    data lacks is an error. Cells left with no counts over the selected genes are dropped
    (their library size would be zero) and the number is recorded. Further keyword arguments
    (``max_all_genes``, ``compute_phase``, ``kind``, ``min_cells_per_value``) go to :func:`prepare`.
    """
    adata, info = load_anndata(source, paul15_path=paul15_path)
    if use_raw is None:
        use_raw = bool(info.get("default_use_raw")) and layer is None
    mat = select_matrix(adata, layer=layer, use_raw=bool(use_raw))
    prep = prepare(mat, list(conditions), n_top_genes=n_top_genes, source_info=info, **prepare_options)
    prep.preprocessing["layer"] = layer
    prep.preprocessing["use_raw"] = bool(use_raw)
    a = prep.adata
    if genes is not None:
        genes = [str(g) for g in genes]
        missing = [g for g in genes if g not in a.var_names]
        if missing:
            raise DataError(f"{len(missing)} of the model's {len(genes)} genes are not in the prepared data "
                            f"(e.g. {_examples(missing)}). Use the dataset and options the model was trained with.")
        a = a[:, genes].copy()
    total = np.asarray(a.layers["counts"].sum(1) if prep.kind == "counts" else a.X.sum(1)).ravel()
    empty = total <= 0
    if empty.any():
        a = a[~empty].copy()
        prep.preprocessing["n_cells_dropped_empty_selected"] = int(empty.sum())
    prep.adata = a
    prep.genes = [str(g) for g in a.var_names]
    return prep
