"""Cell-cycle phase of evaluated cells, for the phase fidelity of the evaluation.

Scanpy's :func:`~scanpy.tl.score_genes_cell_cycle` scores are relative to the scored population
(control genes are binned by their mean expression over it), so evaluated cells are always
scored *pooled with the training cells*; only their own phases are kept. Marker genes are the
Tirosh et al. lists of :mod:`scdiff_core.data`, matched case-insensitively. See
``docs/evaluation.md``.
"""
from __future__ import annotations

import warnings
from typing import Any, Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp
from anndata import AnnData

from ..data import G2M_GENES, MIN_PHASE_GENES, S_GENES, cell_cycle_genes
from ..errors import ScdiffError
from .inputs import align_genes, dense

PhaseGenes = tuple[list[str], list[str]]


def norm_phase(values: Sequence[Any]) -> np.ndarray:
    """Canonical phase strings: upper case, '/' and spaces removed ('G2/M' -> 'G2M')."""
    return np.array([str(v).upper().replace("/", "").replace(" ", "") for v in values], dtype=object)


def phase_gene_lists(var_names: Sequence[str]) -> PhaseGenes:
    """S and G2M marker genes present in ``var_names``, in the data's own casing."""
    present = [str(g) for g in cell_cycle_genes(list(var_names))]
    s_set = {g.upper() for g in S_GENES}
    g2m_set = {g.upper() for g in G2M_GENES}
    s = [g for g in present if g.upper() in s_set]
    g2m = [g for g in present if g.upper() in g2m_set]
    return s, g2m


def usable_phase_genes(var_names: Sequence[str]) -> tuple[PhaseGenes | None, str | None]:
    """The marker genes if there are enough (``MIN_PHASE_GENES`` of each), else ``None`` and why."""
    s_genes, g2m_genes = phase_gene_lists(var_names)
    if len(s_genes) < MIN_PHASE_GENES or len(g2m_genes) < MIN_PHASE_GENES:
        return None, (
            f"Phase fidelity not computed: only {len(s_genes)} S-phase and {len(g2m_genes)} "
            f"G2M-phase marker genes are among the genes (at least {MIN_PHASE_GENES} of each are needed)."
        )
    return (s_genes, g2m_genes), None


def requested_phases(adata: AnnData, phase_key: str, what: str) -> np.ndarray:
    """The phase each cell carries (canonical strings), ``None`` where none was requested.

    A missing value or ``'any'`` means no phase was requested: such cells are left out of the
    phase fidelity.
    """
    if phase_key not in adata.obs.columns:
        raise ScdiffError(
            f"The phase column {phase_key!r} is missing from the {what} cells' obs. "
            "Add it (the requested/true phase of each cell) or evaluate without phase_key."
        )
    col = adata.obs[phase_key]
    phases = norm_phase(col.to_numpy())
    phases[col.isna().to_numpy() | (phases == "ANY")] = None
    return phases


def score_with_train(cells: AnnData, train: AnnData, genes: PhaseGenes, seed: int) -> np.ndarray:
    """Score the cell-cycle phase of ``cells`` pooled with the training cells.

    ``cells`` must be over ``train``'s genes in the same order; only the phases of ``cells``
    are returned (canonical strings).
    """
    import scanpy as sc

    if sp.issparse(train.X):  # keep a large sparse training matrix sparse
        X = sp.vstack([sp.csr_matrix(cells.X, dtype=np.float32), sp.csr_matrix(train.X, dtype=np.float32)]).tocsr()
    else:
        X = np.vstack([dense(cells.X).astype(np.float32), np.asarray(train.X, dtype=np.float32)])
    pooled = AnnData(X=X, var=pd.DataFrame(index=pd.Index(train.var_names.astype(str))))
    pooled.obs_names = [f"c{i}" for i in range(pooled.n_obs)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sc.tl.score_genes_cell_cycle(pooled, s_genes=genes[0], g2m_genes=genes[1], random_state=seed)
    return norm_phase(pooled.obs["phase"].to_numpy()[: cells.n_obs])


def score_phases(cells: AnnData, train: AnnData, seed: int = 0) -> np.ndarray:
    """Cell-cycle phase of ``cells`` ('G1', 'S', 'G2M'), scored together with ``train``.

    Raises
    ------
    ScdiffError
        Fewer than ``MIN_PHASE_GENES`` S or G2M marker genes among the genes, or ``cells`` over
        other genes than ``train``.
    """
    s_genes, g2m_genes = phase_gene_lists(train.var_names)
    if len(s_genes) < MIN_PHASE_GENES or len(g2m_genes) < MIN_PHASE_GENES:
        raise ScdiffError(f"Only {len(s_genes)} S and {len(g2m_genes)} G2M genes are among these genes; "
                          f"cell-cycle phase cannot be scored ({MIN_PHASE_GENES} of each are needed).")
    return score_with_train(align_genes(cells, train.var_names, "cells"), train, (s_genes, g2m_genes), seed)
