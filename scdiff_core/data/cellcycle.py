"""The cell cycle: the S and G2M marker genes and scoring each cell's phase.

Genes are matched to the data case-insensitively, so the human lists also find mouse symbols
(``Mcm5`` matches ``MCM5``).
"""

from __future__ import annotations

from typing import Iterable, Sequence

import anndata
import numpy as np
import pandas as pd
import scipy.sparse as sp

from scdiff_core.errors import DataError

__all__ = ["S_GENES", "G2M_GENES", "PHASES", "MIN_PHASE_GENES", "cell_cycle_genes", "score_phase"]

# Tirosh et al. 2016 (Science 352:189) cell-cycle genes, as distributed with Seurat
# (``cc.genes``) and the scanpy cell-cycle tutorial. Human symbols; matched case-insensitively.
S_GENES: list[str] = [
    "MCM5", "PCNA", "TYMS", "FEN1", "MCM2", "MCM4", "RRM1", "UNG", "GINS2", "MCM6", "CDCA7",
    "DTL", "PRIM1", "UHRF1", "MLF1IP", "HELLS", "RFC2", "RPA2", "NASP", "RAD51AP1", "GMNN",
    "WDR76", "SLBP", "CCNE2", "UBR7", "POLD3", "MSH2", "ATAD2", "RAD51", "RRM2", "CDC45",
    "CDC6", "EXO1", "TIPIN", "DSCC1", "BLM", "CASP8AP2", "USP1", "CLSPN", "POLA1", "CHAF1B",
    "BRIP1", "E2F8",
]  # fmt: skip
G2M_GENES: list[str] = [
    "HMGB2", "CDK1", "NUSAP1", "UBE2C", "BIRC5", "TPX2", "TOP2A", "NDC80", "CKS2", "NUF2",
    "CKS1B", "MKI67", "TMPO", "CENPF", "TACC3", "FAM64A", "SMC4", "CCNB2", "CKAP2L", "CKAP2",
    "AURKB", "BUB1", "KIF11", "ANP32E", "TUBB4B", "GTSE1", "KIF20B", "HJURP", "CDCA3", "HN1",
    "CDC20", "TTK", "CDC25C", "KIF2C", "RANGAP1", "NCAPD2", "DLGAP5", "CDCA2", "CDCA8",
    "ECT2", "KIF23", "HMMR", "AURKA", "PSRC1", "ANLN", "LBR", "CKAP5", "CENPE", "CTCF",
    "NEK2", "G2E3", "GAS2L3", "CBX5", "CENPA",
]  # fmt: skip

PHASES = ("G1", "S", "G2M")
MIN_PHASE_GENES = 3  # fewest S and G2M marker genes that cell-cycle scoring needs


def _match_genes(wanted: Iterable[str], var_names: Sequence[str]) -> list[str]:
    """The genes of ``wanted`` found in ``var_names`` (case-insensitively), in the data's casing.

    In the order of ``wanted``, without duplicates; when the data has several casings of one
    gene, the first is used.
    """
    lookup: dict[str, str] = {}
    for g in var_names:
        lookup.setdefault(str(g).upper(), str(g))
    out: list[str] = []
    for g in wanted:
        hit = lookup.get(g.upper())
        if hit is not None and hit not in out:
            out.append(hit)
    return out


def cell_cycle_genes(var_names: Iterable[str]) -> list[str]:
    """The S and G2M genes present in ``var_names``, in the data's own casing.

    Parameters
    ----------
    var_names
        Gene names of the data.

    Returns
    -------
    list of str
        Present S-phase genes then present G2M genes (list order, no duplicates).
    """
    names = [str(g) for g in var_names]
    out = _match_genes(S_GENES, names)
    for g in _match_genes(G2M_GENES, names):
        if g not in out:
            out.append(g)
    return out


def phase_genes(var_names: Sequence[str]) -> tuple[list[str], list[str]]:
    """The S and G2M marker genes present, each list checked to hold at least :data:`MIN_PHASE_GENES`."""
    s_genes = _match_genes(S_GENES, var_names)
    g2m_genes = _match_genes(G2M_GENES, var_names)
    if len(s_genes) < MIN_PHASE_GENES or len(g2m_genes) < MIN_PHASE_GENES:
        raise DataError(
            f"Cannot score the cell-cycle phase: only {len(s_genes)} S-phase and "
            f"{len(g2m_genes)} G2M genes of the standard lists were found among the "
            f"{len(var_names)} genes (at least {MIN_PHASE_GENES} of each are needed). Use a "
            f"matrix with more genes (e.g. --use-raw), provide your own 'phase' column in obs, "
            f"or leave 'phase' out of the conditions."
        )
    return s_genes, g2m_genes


def score_phase(adata_lognorm: anndata.AnnData, *, random_state: int = 0) -> pd.Series:
    """Score the cell-cycle phase of each cell.

    Uses ``scanpy.tl.score_genes_cell_cycle`` with :data:`S_GENES` / :data:`G2M_GENES` matched
    case-insensitively to the data's gene names (so mouse ``Mcm5`` matches ``MCM5``).

    Parameters
    ----------
    adata_lognorm
        Data whose ``.X`` is log-normalized. Not modified.
    random_state
        Seed for the control-gene sampling.

    Returns
    -------
    pandas.Series
        ``'G1'``, ``'S'`` or ``'G2M'`` per cell, indexed by ``obs_names``, named ``'phase'``.

    Raises
    ------
    DataError
        Fewer than :data:`MIN_PHASE_GENES` (3) S or G2M genes present, or scoring failed.
    """
    import scanpy as sc

    var_names = [str(g) for g in adata_lognorm.var_names]
    s_genes, g2m_genes = phase_genes(var_names)
    X = adata_lognorm.X
    X = sp.csr_matrix(X, dtype=np.float32, copy=True) if sp.issparse(X) else np.array(X, dtype=np.float32)
    work = anndata.AnnData(
        X=X,
        obs=pd.DataFrame(index=pd.Index([str(o) for o in adata_lognorm.obs_names])),
        var=pd.DataFrame(index=pd.Index(var_names)),
    )
    try:
        sc.tl.score_genes_cell_cycle(
            work, s_genes=s_genes, g2m_genes=g2m_genes, random_state=random_state
        )
    except Exception as exc:
        raise DataError(
            f"Cell-cycle scoring failed ({type(exc).__name__}: {exc}). Provide your own 'phase' "
            f"column in obs, or leave 'phase' out of the conditions."
        ) from exc
    phase = np.asarray(work.obs["phase"].astype(str))
    return pd.Series(phase, index=adata_lognorm.obs_names.copy(), name="phase", dtype=object)
