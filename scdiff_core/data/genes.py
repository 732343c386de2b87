"""Gene selection: all genes for small data, else highly variable genes plus the cell-cycle genes.

Highly variable genes use ``seurat_v3`` on counts (falling back to ``seurat`` on log values when
scikit-misc is missing or loess fails) and ``seurat`` on log-normalized input. When ``'phase'``
is a condition the cell-cycle genes present are always kept, so the phase stays learnable.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import anndata
import numpy as np
import pandas as pd

from scdiff_core.errors import DataError

from .cellcycle import cell_cycle_genes


def _select_hvg(
    counts_all: Any,
    lognorm_all: Any,
    var_names: list[str],
    kind: str,
    n_top_genes: int,
) -> tuple[np.ndarray, str, str | None]:
    """Highly variable genes mask, flavor used, and the reason for a fallback (or None)."""
    import scanpy as sc

    var = pd.DataFrame(index=pd.Index(var_names))
    fallback: str | None = None
    if kind == "counts":
        try:
            import skmisc  # noqa: F401  (seurat_v3 needs scikit-misc's loess)

            ad = anndata.AnnData(X=counts_all, var=var.copy())
            sc.pp.highly_variable_genes(ad, flavor="seurat_v3", n_top_genes=n_top_genes)
            return ad.var["highly_variable"].to_numpy(dtype=bool), "seurat_v3", None
        except ImportError:
            fallback = "scikit-misc is not installed (needed for flavor='seurat_v3')"
        except Exception as exc:  # loess can fail on degenerate data
            fallback = f"seurat_v3 failed: {type(exc).__name__}: {exc}"
    ad = anndata.AnnData(X=lognorm_all, var=var.copy())
    try:
        sc.pp.highly_variable_genes(ad, flavor="seurat", n_top_genes=n_top_genes)
    except Exception as exc:
        raise DataError(
            f"Selecting highly variable genes failed ({type(exc).__name__}: {exc}). Use fewer "
            f"genes (pre-filter the data) or raise max_all_genes to keep all genes."
        ) from exc
    return ad.var["highly_variable"].to_numpy(dtype=bool), "seurat", fallback


def _add_genes(mask: np.ndarray, var_names: Sequence[str], genes: Sequence[str]) -> list[str]:
    """Select ``genes`` (names from ``var_names``) in ``mask``, in place.

    Returns the genes that were not selected before, in the order of ``genes``.
    """
    index = {g: i for i, g in enumerate(var_names)}
    added: list[str] = []
    for g in genes:
        if not mask[index[g]]:
            mask[index[g]] = True
            added.append(g)
    return added


def _select_genes(
    X: Any,
    lognorm: Callable[[], Any],
    var_names: list[str],
    kind: str,
    conditions: Sequence[str],
    max_all_genes: int,
    n_top_genes: int,
    hvg: Callable[[int], tuple[np.ndarray, str, str | None]] | None = None,
) -> tuple[np.ndarray, dict[str, Any]]:
    """The genes to keep, as a boolean mask over ``var_names``, and a record of the choice.

    ``X`` holds the values of ``kind``; ``lognorm()`` gives their log-normalized form (called
    only when highly variable genes are needed). ``hvg(n_top_genes)``, when given, replaces
    :func:`_select_hvg` (the chunked preparation computes the same from streamed statistics).
    """
    n_genes_in = len(var_names)
    selection: dict[str, Any] = {
        "max_all_genes": int(max_all_genes),
        "n_top_genes": int(n_top_genes),
        "fallback_reason": None,
    }
    if n_genes_in <= max_all_genes or n_top_genes >= n_genes_in:
        mask = np.ones(n_genes_in, dtype=bool)
        selection["method"] = "all"
        selection["n_highly_variable"] = None
    else:
        if hvg is not None:
            mask, flavor, fallback = hvg(int(n_top_genes))
        else:
            mask, flavor, fallback = _select_hvg(
                X if kind == "counts" else None, lognorm(), var_names, kind, int(n_top_genes)
            )
        selection["method"] = f"highly_variable_genes(flavor='{flavor}')"
        selection["flavor"] = flavor
        selection["fallback_reason"] = None if kind == "lognorm" else fallback
        selection["n_highly_variable"] = int(mask.sum())
    cc_present = cell_cycle_genes(var_names) if "phase" in conditions else []
    selection["cell_cycle_genes_included"] = bool("phase" in conditions)
    selection["n_cell_cycle_genes_present"] = len(cc_present)
    selection["cell_cycle_genes_added"] = _add_genes(mask, var_names, cc_present)
    selection["n_genes"] = int(mask.sum())
    return mask, selection
