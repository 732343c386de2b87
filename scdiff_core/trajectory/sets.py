"""The two ends of a trajectory: sets of cells in the diffusion space.

An end is given as

* a **label** — a value of the interpolated column: the checkpoint's stored training cells of
  that value (or generated ones for checkpoints that store none), conditioned on that value;
* a **set of cells** — :func:`cell_set` from cell ids of the checkpoint's stored training cells,
  or from an AnnData over the model's genes (real cells, a lasso selection, generated cells),
  encoded with :meth:`~scdiff_core.model.SCDiffModel.to_space`. A set may carry a label (the
  condition used at its end) or none (that end is unconditioned).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence, Union

import anndata as ad
import numpy as np
import scipy.sparse as sp
import torch

from ..common import LIBRARY_KEY, TARGET_SUM
from ..errors import DataError, ScdiffError

START_CELLS = ("reference", "generated")


@dataclass(frozen=True)
class CellSet:
    """Cells in the diffusion space, ``vectors`` (N, D), with an optional condition ``label``.

    ``name`` is how outputs refer to the set (the label, or e.g. ``'cells.h5ad (120 cells)'``).
    """

    vectors: np.ndarray
    label: str | None
    name: str


Endpoint = Union[str, CellSet, ad.AnnData, Sequence[str]]
"""What ``start`` / ``end`` of a trajectory may be: a label, a :class:`CellSet`, an AnnData, cell ids."""


def _check_label(model, column: str, label: str | None) -> str | None:
    if label is None:
        return None
    vocab = model.config["vocab"][column]
    if str(label) not in vocab:
        raise ScdiffError(f"{label!r} is not a value of {column!r}. Choose from: {', '.join(vocab)}.")
    return str(label)


def _ids_to_vectors(model, ids: Sequence[str]) -> np.ndarray:
    if "space" not in model.reference:
        raise ScdiffError("This checkpoint stores no training cells in its diffusion space (a gene-space "
                          "model); pass the cells themselves as an AnnData instead of cell ids.")
    from ..selection import reference_ids

    pos = {c: i for i, c in enumerate(reference_ids(model))}
    missing = [c for c in ids if c not in pos]
    if missing:
        raise ScdiffError(f"{len(missing)} of the {len(ids)} cell ids are not among this checkpoint's stored training "
                          f"cells (e.g. {missing[0]!r}); give ids of training cells, or the cells as an .h5ad.")
    return model.reference["space"][[pos[c] for c in ids]].astype(np.float32)


def _dense(X) -> np.ndarray:
    return np.asarray(X.toarray() if sp.issparse(X) else X, dtype=np.float32)


def _adata_to_vectors(model, cells: ad.AnnData) -> np.ndarray:
    """Log-normalize as the model's data (1e4 per cell over all genes, log1p), then encode."""
    from ..data import detect_kind

    genes = model.genes
    if cells.var_names.has_duplicates:
        raise DataError("The cells have duplicated gene names; make them unique (var_names_make_unique()).")
    missing = [g for g in genes if g not in cells.var_names]
    if missing:
        raise DataError(f"The cells lack {len(missing)} of the model's {len(genes)} genes (e.g. "
                        f"{', '.join(missing[:3])}); give cells over the model's genes (e.g. cells it generated).")
    X = cells.layers["counts"] if "counts" in cells.layers else cells.X
    # each cell's total over *all* its genes: recorded (prepared and generated cells), else the file's sum
    lib = cells.obs[LIBRARY_KEY].to_numpy(np.float32) if LIBRARY_KEY in cells.obs else None
    if detect_kind(X) == "counts":
        C = _dense(X)
        lib = C.sum(1) if lib is None else lib
        Xn = np.log1p(C / np.maximum(lib, 1)[:, None] * TARGET_SUM)[:, cells.var_names.get_indexer(genes)]
    else:
        Xn = _dense(cells[:, genes].X)
    if model.diffusion_space.has_library and lib is None:
        raise DataError(f"This count model needs each cell's total counts: give raw counts (X or "
                        f"layers['counts']) or obs['{LIBRARY_KEY}'] with the log-normalized values.")
    if model.diffusion_space.has_library and not (np.isfinite(lib).all() and (lib > 0).all()):
        raise DataError(f"Every cell needs a positive total count (obs['{LIBRARY_KEY}']); some have none.")
    if not np.isfinite(Xn).all():
        raise DataError("The cells hold NaN or infinite values; give finite expression values.")
    return model.to_space(Xn, lib if model.diffusion_space.has_library else None)


def cell_set(model, cells: ad.AnnData | Sequence[str], *, label: str | None = None, column: str | None = None,
             name: str | None = None) -> CellSet:
    """A trajectory end made of given cells.

    Parameters
    ----------
    model
        A loaded :class:`~scdiff_core.model.SCDiffModel`.
    cells
        Cell ids of the checkpoint's stored training cells, or an AnnData over the model's genes
        (raw counts, or log-normalized values with ``obs['total_counts']`` for count models —
        what :meth:`~scdiff_core.model.SCDiffModel.generate` writes).
    label, column
        The condition value used at this end (a value of ``column``); ``None``: unconditioned.
    name
        How outputs name the set (default: the label or ``'N cells'``).

    Raises
    ------
    ScdiffError
        No cells, unknown ids, genes that do not match, non-finite values, an unknown label.
    """
    if isinstance(cells, ad.AnnData):
        if cells.n_obs == 0:
            raise DataError("The cell set is empty; select at least one cell.")
        v = _adata_to_vectors(model, cells)
    else:
        ids = [str(c) for c in (cells.tolist() if isinstance(cells, np.ndarray) else list(cells))]
        if not ids:
            raise ScdiffError("The cell set is empty; select at least one cell.")
        v = _ids_to_vectors(model, ids)
    if v.ndim != 2 or v.shape[1] != model.config["space_dim"]:
        raise ScdiffError(f"The cells encode to {v.shape[1:]} values, not this model's {model.config['space_dim']}.")
    if label is not None and column is None:
        raise ScdiffError("Give the column the set's label belongs to (column=…).")
    label = _check_label(model, column, label) if label is not None else None
    return CellSet(v, label, name or label or f"{len(v)} cells")


def label_vectors(model, column: str, value: str, n: int, how: str, guidance: str,
                  rng: np.random.Generator, seed: int) -> torch.Tensor:
    """(n, D) diffusion vectors of cells in state ``value``: stored training cells, or generated ones."""
    if how == "reference" and "space" in model.reference:
        codes = model.reference[f"label_{column}"]
        idx = np.flatnonzero(codes == model.config["vocab"][column].index(value))
        if len(idx) == 0:
            raise ScdiffError(f"No training cells of {column}={value!r} are stored in this checkpoint; "
                              f"use start_cells='generated'.")
        pick = rng.choice(idx, size=n, replace=n > len(idx))
        return torch.from_numpy(model.reference["space"][pick].astype(np.float32))
    g = torch.Generator().manual_seed(int(seed) + 1)
    x = torch.randn(n, model.config["space_dim"], generator=g)
    targets = [model._one_hot(c, [value if c == column else None] * n) for c in model.conditions]
    sc = model._scales(None, guidance)
    return model._denoise(x, targets, [sc[c] for c in model.conditions], guidance, "ddim", 50, 0.0, None, g, None)


def resolve_end(model, column: str, spec: Endpoint, which: str) -> CellSet | str:
    """A label (checked) stays a label; anything else becomes a :class:`CellSet`."""
    if isinstance(spec, CellSet):
        if len(spec.vectors) == 0:
            raise ScdiffError(f"The {which} set is empty; select at least one cell.")
        return CellSet(spec.vectors, _check_label(model, column, spec.label), spec.name)
    if isinstance(spec, str):
        return _check_label(model, column, spec)
    if spec is None:
        raise ScdiffError(f"Give a {which}: a value of {column!r} or a set of cells.")
    return cell_set(model, spec, name=f"{which} set")


def end_label(end: CellSet | str) -> str | None:
    return end if isinstance(end, str) else end.label


def end_name(end: CellSet | str) -> str:
    return end if isinstance(end, str) else end.name


def draw(model, column: str, end: CellSet | str, n: int, how: str, guidance: str, rng: np.random.Generator,
         seed: int) -> tuple[torch.Tensor, np.ndarray | None]:
    """(n, D) vectors of an end (drawn with replacement when it holds fewer) and their indices in a set."""
    if isinstance(end, str):
        return label_vectors(model, column, end, n, how, guidance, rng, seed), None
    pick = rng.choice(len(end.vectors), size=n, replace=n > len(end.vectors))
    return torch.from_numpy(end.vectors[pick].astype(np.float32)), pick


def read_cell_set(model, path, *, label: str | None = None, column: str | None = None) -> CellSet:
    """A :func:`cell_set` from a file: an ``.h5ad`` / ``.h5ad.gz`` of cells, or a text file of cell ids
    (one per line; a first ``cell_id``/``obs_names`` header and anything after a tab or comma are ignored)."""
    from pathlib import Path

    p = Path(path)
    if not p.is_file():
        raise DataError(f"No file at {p}. Give an .h5ad of cells or a text file of cell ids, one per line.")
    if p.name.endswith((".h5ad", ".h5ad.gz")):
        from ..data import load_anndata

        cells, _ = load_anndata(str(p))
    else:
        lines = [ln.replace(",", "\t").split("\t")[0].strip() for ln in p.read_text(errors="replace").splitlines()]
        cells = [c for c in lines if c and c not in ("cell_id", "obs_names", "")]
    return cell_set(model, cells, label=label, column=column, name=f"{p.name} ({label or 'no label'})")
