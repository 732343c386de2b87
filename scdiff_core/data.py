"""Loading, checking and preparing single-cell data for training.

This module turns a user's AnnData (a file, or one of the built-in example datasets) into the
matrix the models are trained on:

* :func:`load_anndata` reads ``.h5ad`` / ``.h5ad.gz`` files or the built-in datasets
  (``pbmc68k``, ``paul15``);
* :func:`select_matrix` picks ``.X``, a layer, or ``.raw`` as the expression matrix;
* :func:`detect_kind` tells raw counts from log-normalized values and refuses scaled data;
* :func:`prepare` validates the condition columns, scores the cell-cycle phase when asked,
  selects genes and log-normalizes, returning a :class:`PreparedData`;
* :func:`split_cells` makes a stratified, deterministic train/val/test split by cell id;
* :func:`make_synthetic` builds a small synthetic dataset for tests.

Every problem the user can cause is raised as :class:`scdiff_core.errors.DataError` with a
message that says what is wrong and what to do.
"""

from __future__ import annotations

import gzip
import io
import os
import string
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

import anndata
import numpy as np
import pandas as pd
import scipy.sparse as sp

from scdiff_core.common import LIBRARY_KEY, NORMALIZATION, TARGET_SUM
from scdiff_core.errors import DataError

__all__ = [
    "KNOWN_DATASETS",
    "S_GENES",
    "G2M_GENES",
    "PreparedData",
    "load_anndata",
    "select_matrix",
    "detect_kind",
    "lognormalize",
    "score_phase",
    "cell_cycle_genes",
    "prepare",
    "condition_strata",
    "split_cells",
    "make_synthetic",
]

KNOWN_DATASETS = ("pbmc68k", "paul15")

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
LOGNORM_MAX = 30.0
_INTEGER_SAMPLE_CELLS = 2000
MIN_PHASE_GENES = 3  # fewest S and G2M marker genes that cell-cycle scoring needs
_MIN_PHASE_GENES = MIN_PHASE_GENES

_REPO_ROOT = Path(__file__).resolve().parent.parent
_PAUL15_RELATIVE = ("../shared/data/paul15.h5ad.gz", "data/paul15.h5ad.gz")
_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
_GZIP_MAGIC = b"\x1f\x8b"


# --------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------


def _paul15_candidates() -> list[Path]:
    """Local places where a copy of paul15 may be found (repo-relative, then cwd-relative)."""
    out: list[Path] = []
    for base in (_REPO_ROOT, Path.cwd()):
        for rel in _PAUL15_RELATIVE:
            p = (base / rel).resolve()
            if p not in out:
                out.append(p)
    return out


def _read_h5ad_file(path: Path) -> anndata.AnnData:
    """Read a plain or gzipped ``.h5ad`` file, raising :class:`DataError` on any problem."""
    if not path.exists():
        raise DataError(
            f"Data file not found: '{path}'. Check the path, or give one of the built-in "
            f"datasets ({', '.join(KNOWN_DATASETS)})."
        )
    if path.is_dir():
        raise DataError(
            f"'{path}' is a directory, not an .h5ad file. Give the path of an .h5ad or "
            f".h5ad.gz file (zarr stores are not supported; convert with "
            f"anndata.read_zarr(path).write_h5ad('data.h5ad'))."
        )
    convert_hint = (
        "Only AnnData .h5ad files (optionally gzipped, .h5ad.gz) are supported; convert "
        "other formats with scanpy first, e.g. scanpy.read_10x_h5(path).write_h5ad('data.h5ad') "
        "or scanpy.read_csv(path).write_h5ad('data.h5ad')."
    )
    try:
        with open(path, "rb") as fh:
            head = fh.read(8)
    except OSError as exc:
        raise DataError(f"Cannot open '{path}': {exc}. Check the file's permissions.") from exc

    if head[:2] == _GZIP_MAGIC:
        try:
            with gzip.open(path, "rb") as fh:
                payload = fh.read()
        except (OSError, EOFError, zlib.error) as exc:
            raise DataError(
                f"'{path}' is a damaged or truncated gzip file ({exc}). Download or copy it "
                f"again, or give the uncompressed .h5ad."
            ) from exc
        if payload[:8] != _HDF5_MAGIC:
            raise DataError(f"'{path}' is gzip-compressed but does not contain an .h5ad file. "
                            + convert_hint)
        source: Any = io.BytesIO(payload)
    elif head == _HDF5_MAGIC:
        source = str(path)
    else:
        raise DataError(f"'{path}' is not an .h5ad file. " + convert_hint)

    try:
        return anndata.read_h5ad(source)
    except Exception as exc:  # h5py/anndata raise many different types for bad files
        raise DataError(
            f"Could not read '{path}' as AnnData ({type(exc).__name__}: {exc}). The file may "
            f"be corrupt or not written by anndata (a 10x Genomics .h5 needs "
            f"scanpy.read_10x_h5(path).write_h5ad('data.h5ad') first)."
        ) from exc


def _has_negative(X: Any) -> bool:
    values = X.data if sp.issparse(X) else np.asarray(X)
    return bool(values.size) and bool(np.nanmin(values) < 0)


def _resolve_paul15(paul15_path: str | os.PathLike | None) -> Path | None:
    if paul15_path is not None:
        p = Path(paul15_path).expanduser()
        if not p.exists():
            raise DataError(
                f"paul15 file not found at '{p}' (given as paul15_path). Give the path of "
                f"paul15.h5ad(.gz), or leave it out to use scanpy.datasets.paul15()."
            )
        return p
    env = os.environ.get("SCDIFF_PAUL15")
    if env:
        p = Path(env).expanduser()
        if not p.exists():
            raise DataError(
                f"SCDIFF_PAUL15 points to '{p}', which does not exist. Fix or unset the "
                f"environment variable."
            )
        return p
    for cand in _paul15_candidates():
        if cand.is_file():
            return cand
    return None


def load_anndata(
    source: str | os.PathLike, *, paul15_path: str | os.PathLike | None = None
) -> tuple[anndata.AnnData, dict]:
    """Load a dataset by name or from an ``.h5ad`` / ``.h5ad.gz`` file.

    Parameters
    ----------
    source
        ``'pbmc68k'`` (scanpy's ``pbmc68k_reduced``, shipped with scanpy, returned as is: its
        ``.X`` holds scaled z-scores and its ``.raw`` the log-normalized values), ``'paul15'``
        (Paul et al. 2015 mouse myeloid progenitors, raw counts), or a path to an ``.h5ad``
        file or a gzip of one (``.h5ad.gz``).
    paul15_path
        Local copy of paul15 to use. Without it, the environment variable ``SCDIFF_PAUL15``,
        then ``../shared/data/paul15.h5ad.gz`` and ``data/paul15.h5ad.gz`` (relative to the
        repository root and to the working directory) are tried, and finally
        ``scanpy.datasets.paul15()`` (which downloads).

    Returns
    -------
    adata
        The loaded AnnData.
    info
        ``{'source': source, 'path': resolved path or None, 'default_use_raw': bool}``.
        ``default_use_raw`` is True for ``pbmc68k`` and, for files, when ``.raw`` exists and
        ``.X`` has negative values (i.e. ``.X`` looks scaled and ``.raw`` is the usable matrix).

    Raises
    ------
    DataError
        Missing file, a file that is not an ``.h5ad``, a corrupt file, or a failed download.
    """
    if source is None or not str(os.fspath(source)).strip():
        raise DataError(
            f"No data source given. Give a path to an .h5ad/.h5ad.gz file or one of "
            f"{', '.join(KNOWN_DATASETS)}."
        )
    src = os.fspath(source)
    name = str(src).strip().lower()

    if name == "pbmc68k":
        import scanpy as sc

        try:
            adata = sc.datasets.pbmc68k_reduced()
        except Exception as exc:  # pragma: no cover - ships with scanpy
            raise DataError(
                f"Could not load scanpy's built-in pbmc68k_reduced ({exc}). Reinstall scanpy "
                f"or give a path to an .h5ad file."
            ) from exc
        return adata, {"source": "pbmc68k", "path": None, "default_use_raw": True}

    if name == "paul15":
        path = _resolve_paul15(paul15_path)
        if path is not None:
            adata = _read_h5ad_file(path)
            return adata, {"source": "paul15", "path": str(path), "default_use_raw": False}
        import scanpy as sc

        try:
            adata = sc.datasets.paul15()
        except Exception as exc:
            raise DataError(
                f"paul15 is not available locally and downloading it with "
                f"scanpy.datasets.paul15() failed ({type(exc).__name__}: {exc}). Pass a local "
                f"copy (paul15_path=... / the path as the data source) or set the environment "
                f"variable SCDIFF_PAUL15 to the file's path."
            ) from exc
        return adata, {"source": "paul15", "path": None, "default_use_raw": False}

    path = Path(src).expanduser()
    adata = _read_h5ad_file(path)
    default_use_raw = False
    if adata.raw is not None and adata.X is not None:
        try:
            default_use_raw = _has_negative(adata.X)
        except (TypeError, ValueError):
            default_use_raw = False
    return adata, {"source": str(src), "path": str(path.resolve()), "default_use_raw": default_use_raw}


# --------------------------------------------------------------------------------------
# Matrix selection and kind detection
# --------------------------------------------------------------------------------------


def _as_float32(X: Any) -> np.ndarray | sp.csr_matrix:
    """A float32 copy of X: CSR if sparse, a dense ndarray otherwise."""
    if sp.issparse(X):
        return sp.csr_matrix(X, dtype=np.float32, copy=True)
    try:
        return np.array(X, dtype=np.float32, copy=True)
    except (TypeError, ValueError) as exc:
        raise DataError(
            f"The expression matrix could not be read as numbers ({exc}). Give a numeric "
            f"matrix (counts or log-normalized values)."
        ) from exc


def select_matrix(
    adata: anndata.AnnData, *, layer: str | None = None, use_raw: bool = False
) -> anndata.AnnData:
    """Return a new AnnData whose ``.X`` is the chosen expression matrix.

    Parameters
    ----------
    adata
        The input data (not modified).
    layer
        Name of a layer in ``adata.layers`` to use instead of ``.X``.
    use_raw
        Use ``adata.raw.X`` (with ``adata.raw.var_names``) instead of ``.X``.

    Returns
    -------
    anndata.AnnData
        ``.X`` a float32 copy (CSR if the source is sparse), ``obs`` and ``obsm`` copied,
        ``var`` from the chosen source, and ``uns['scdiff_matrix']`` naming the source
        (``'X'``, ``'raw'`` or ``'layers/NAME'``).

    Raises
    ------
    DataError
        Both ``layer`` and ``use_raw`` given, an unknown layer, ``use_raw`` without ``.raw``,
        or no ``.X``.
    """
    if layer is not None and use_raw:
        raise DataError(
            f"Both a layer ('{layer}') and use_raw were given; choose one: the layer, or "
            f"adata.raw."
        )
    if layer is not None:
        if layer not in adata.layers:
            available = ", ".join(repr(k) for k in adata.layers.keys()) or "none"
            raise DataError(
                f"Layer '{layer}' not found in the data. Available layers: {available}. "
                f"Give one of these, or leave the layer out to use .X."
            )
        X, var, origin = adata.layers[layer], adata.var.copy(), f"layers/{layer}"
    elif use_raw:
        if adata.raw is None:
            layers = ", ".join(repr(k) for k in adata.layers.keys()) or "none"
            raise DataError(
                f"use_raw was requested but the data has no .raw. Leave use_raw off to use .X, "
                f"or pick a layer (available layers: {layers})."
            )
        X, var, origin = adata.raw.X, adata.raw.var.copy(), "raw"
    else:
        if adata.X is None:
            layers = ", ".join(repr(k) for k in adata.layers.keys()) or "none"
            raise DataError(
                f"The data has no .X matrix. Pick a layer (available: {layers}) or use_raw."
            )
        X, var, origin = adata.X, adata.var.copy(), "X"

    out = anndata.AnnData(X=_as_float32(X), obs=adata.obs.copy(), var=var)
    for key in adata.obsm.keys():
        out.obsm[key] = adata.obsm[key].copy()
    out.uns["scdiff_matrix"] = origin
    return out


def _finite_nonneg_values(X: Any) -> tuple[np.ndarray, Any]:
    """Validate numeric, finite, non-negative values; return (stored values, row-indexable X)."""
    if sp.issparse(X):
        X = X.tocsr() if X.format not in ("csr", "csc") else X
        values = np.asarray(X.data)
    else:
        X = np.asarray(X)
        values = X
    if X.ndim != 2:
        raise DataError(
            f"The expression matrix must be 2-dimensional (cells x genes), got shape {X.shape}."
        )
    if not (np.issubdtype(values.dtype, np.number) and not np.issubdtype(values.dtype, np.complexfloating)):
        raise DataError(
            f"The expression matrix has non-numeric values (dtype {values.dtype}). Give a "
            f"numeric matrix of counts or log-normalized values."
        )
    if values.size and np.issubdtype(values.dtype, np.floating) and not np.isfinite(values).all():
        n_bad = int((~np.isfinite(values)).sum())
        raise DataError(
            f"The expression matrix contains NaN or infinite values; remove or impute them "
            f"({n_bad} entries), or choose another matrix with --layer / --use-raw."
        )
    if values.size and values.min() < 0:
        raise DataError(
            f"The expression matrix has negative values (min {float(values.min()):.3g}): it "
            f"looks scaled/centred (z-scores), which cannot be used. Give the log-normalized or "
            f"count matrix instead: --use-raw (use_raw=True) if adata.raw holds it, or --layer "
            f"NAME (layer='counts')."
        )
    return values, X


def detect_kind(X: Any) -> str:
    """Tell raw counts from log-normalized values.

    Parameters
    ----------
    X
        Cells x genes matrix, dense or ``scipy.sparse``.

    Returns
    -------
    str
        ``'counts'`` when all values are non-negative integers (raw UMI counts; checked on a
        sample of up to 2000 cells), ``'lognorm'`` when they are non-negative, non-integer and
        below 30 (typical of ``log1p(normalize_total(...))``).

    Raises
    ------
    DataError
        NaN/infinite values, negative values (scaled data), or non-integer values reaching 30
        or more (normalized but not log-transformed). NaN and negativity are checked on all
        values (the stored values for sparse input).
    """
    values, Xr = _finite_nonneg_values(X)
    if values.size == 0 or np.issubdtype(values.dtype, np.integer):
        return "counts"
    n = Xr.shape[0]
    if n > _INTEGER_SAMPLE_CELLS:
        rows = np.sort(np.random.default_rng(0).choice(n, _INTEGER_SAMPLE_CELLS, replace=False))
        sample = Xr[rows]
        sample = np.asarray(sample.data if sp.issparse(sample) else sample)
    else:
        sample = values
    if np.array_equal(sample, np.round(sample)):
        return "counts"
    vmax = float(values.max())
    if vmax < LOGNORM_MAX:
        return "lognorm"
    raise DataError(
        f"The expression matrix has non-integer values up to {vmax:.4g}: it looks normalized "
        f"but not log-transformed (e.g. CPM/TPM). Log-normalize it first "
        f"(scanpy.pp.normalize_total then scanpy.pp.log1p), or give the raw counts "
        f"(--layer counts) or a log-normalized matrix (--use-raw)."
    )


def lognormalize(counts: Any) -> np.ndarray:
    """Normalize each cell to 1e4 total counts, then ``log1p``.

    Parameters
    ----------
    counts
        Cells x genes counts (dense or sparse). Totals are taken over the given genes.

    Returns
    -------
    numpy.ndarray
        Dense float32. Cells with zero total stay all zero (no NaN).
    """
    if sp.issparse(counts):
        X = sp.csr_matrix(counts, dtype=np.float32, copy=True)
        totals = np.asarray(X.sum(axis=1, dtype=np.float64)).ravel()
    else:
        X = np.array(counts, dtype=np.float32, copy=True)
        if X.ndim != 2:
            raise DataError(f"Counts must be a cells x genes matrix, got shape {X.shape}.")
        totals = X.sum(axis=1, dtype=np.float64)
    scale = np.zeros_like(totals)
    np.divide(TARGET_SUM, totals, out=scale, where=totals > 0)
    if sp.issparse(X):
        X = sp.diags(scale.astype(np.float32)) @ X
        X.data = np.log1p(X.data)
        return np.asarray(X.toarray(), dtype=np.float32)
    X *= scale.astype(np.float32)[:, None]
    np.log1p(X, out=X)
    return X


# --------------------------------------------------------------------------------------
# Cell cycle
# --------------------------------------------------------------------------------------


def _match_genes(wanted: Iterable[str], var_names: Sequence[str]) -> list[str]:
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
        Fewer than 3 S or 3 G2M genes present, or scoring failed.
    """
    import scanpy as sc

    var_names = [str(g) for g in adata_lognorm.var_names]
    s_genes = _match_genes(S_GENES, var_names)
    g2m_genes = _match_genes(G2M_GENES, var_names)
    if len(s_genes) < _MIN_PHASE_GENES or len(g2m_genes) < _MIN_PHASE_GENES:
        raise DataError(
            f"Cannot score the cell-cycle phase: only {len(s_genes)} S-phase and "
            f"{len(g2m_genes)} G2M genes of the standard lists were found among the "
            f"{len(var_names)} genes (at least {_MIN_PHASE_GENES} of each are needed). Use a "
            f"matrix with more genes (e.g. --use-raw), provide your own 'phase' column in obs, "
            f"or leave 'phase' out of the conditions."
        )
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


# --------------------------------------------------------------------------------------
# Preparation
# --------------------------------------------------------------------------------------


@dataclass
class PreparedData:
    """Data ready for training.

    Attributes
    ----------
    adata
        ``X``: dense float32 log-normalized values over the selected genes;
        ``layers['counts']``: dense float32 counts over the selected genes (only when
        ``kind == 'counts'``); ``obs``: condition columns as pandas Categorical with sorted
        string categories, other columns kept.
    kind
        ``'counts'`` or ``'lognorm'`` (what the input matrix held).
    conditions
        Condition column names.
    genes
        Selected genes, in input order.
    vocab
        Per condition, the sorted category values.
    counts_per_value
        Per condition, the number of cells of each value.
    preprocessing
        JSON-serialisable record of what was done.
    """

    adata: anndata.AnnData
    kind: str
    conditions: list[str]
    genes: list[str]
    vocab: dict[str, list[str]] = field(default_factory=dict)
    counts_per_value: dict[str, dict[str, int]] = field(default_factory=dict)
    preprocessing: dict = field(default_factory=dict)


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (np.bool_,)):
        return bool(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if isinstance(obj, (str, int, float, bool)) or obj is None:
        return obj
    return str(obj)


def _examples(values: Sequence[Any], k: int = 5) -> str:
    shown = ", ".join(repr(str(v)) for v in list(values)[:k])
    return shown + (f", ... ({len(values)} in all)" if len(values) > k else "")


def _check_condition_values(
    labels: pd.Series, name: str, min_cells: int, *, computed: bool = False
) -> None:
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


def _to_categorical(labels: pd.Series) -> pd.Categorical:
    values = labels.astype(str).to_numpy()
    return pd.Categorical(values, categories=sorted(set(values)))


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


def prepare(
    adata: anndata.AnnData,
    conditions: list[str],
    *,
    kind: str | None = None,
    max_all_genes: int = 3000,
    n_top_genes: int = 2000,
    compute_phase: bool | None = None,
    min_cells_per_value: int = 2,
    source_info: dict | None = None,
) -> PreparedData:
    """Validate, select genes and normalize an AnnData for training.

    Steps: (1) validate cells, gene names and the condition columns; (2) detect the kind of
    values and drop empty cells; (3) score the cell-cycle phase on all genes when needed;
    (4) select genes (all if ``n_genes <= max_all_genes``, else ``n_top_genes`` highly
    variable genes: ``seurat_v3`` on counts, ``seurat`` on log values; the cell-cycle genes
    are added when ``'phase'`` is a condition); (5) build the final matrix (counts are
    log-normalized over the selected genes).

    Parameters
    ----------
    adata
        Input data (usually from :func:`select_matrix`); not modified.
    conditions
        obs columns to condition on. ``'phase'`` is computed when it is missing.
    kind
        ``'counts'`` or ``'lognorm'``; detected with :func:`detect_kind` when None.
    max_all_genes
        Keep all genes when there are at most this many.
    n_top_genes
        Number of highly variable genes to select otherwise.
    compute_phase
        None: compute ``'phase'`` if it is a condition and missing from obs. True: always
        (re)compute it (stored in obs even if not a condition). False: never.
    min_cells_per_value
        Minimum number of cells for every value of every condition.
    source_info
        The ``info`` dict from :func:`load_anndata`, recorded in ``preprocessing``.

    Returns
    -------
    PreparedData

    Raises
    ------
    DataError
        For any problem with the data or the arguments (the message says what to do).
    """
    # ---------------- arguments ----------------
    if isinstance(conditions, str):
        conditions = [conditions]
    conditions = [str(c) for c in (conditions or [])]
    dupes = sorted({c for c in conditions if conditions.count(c) > 1})
    if dupes:
        raise DataError(f"Conditions are listed more than once: {dupes}. List each column once.")
    if kind is not None and kind not in ("counts", "lognorm"):
        raise DataError(f"kind must be 'counts' or 'lognorm' (or left out to detect it), got {kind!r}.")
    for arg, val in (("max_all_genes", max_all_genes), ("n_top_genes", n_top_genes),
                     ("min_cells_per_value", min_cells_per_value)):
        if not isinstance(val, (int, np.integer)) or isinstance(val, bool) or val < 1:
            raise DataError(f"{arg} must be a positive integer, got {val!r}.")

    # ---------------- 1. validate ----------------
    if adata.n_obs == 0:
        raise DataError("The data has no cells. Check the file, or the filtering done before.")
    if adata.n_vars == 0:
        raise DataError("The data has no genes. Check the file, or choose another matrix.")
    if adata.X is None:
        raise DataError("The data has no .X matrix. Choose a layer or .raw with select_matrix().")
    var_names = [str(g) for g in adata.var_names]
    if not adata.var_names.is_unique:
        dup = adata.var_names[adata.var_names.duplicated()].unique().tolist()
        raise DataError(
            f"Gene names are not unique ({len(dup)} duplicated, e.g. {_examples(dup)}). Make them "
            f"unique first: adata.var_names_make_unique()."
        )
    if not adata.obs_names.is_unique:
        dup = adata.obs_names[adata.obs_names.duplicated()].unique().tolist()
        raise DataError(
            f"Cell names are not unique ({len(dup)} duplicated, e.g. {_examples(dup)}). Make them "
            f"unique first: adata.obs_names_make_unique()."
        )
    phase_exists = "phase" in adata.obs.columns
    if compute_phase is None:
        need_phase = "phase" in conditions and not phase_exists
    else:
        need_phase = bool(compute_phase)
    available = ", ".join(repr(str(c)) for c in adata.obs.columns) or "none"
    for c in conditions:
        if c == "phase" and need_phase:
            continue
        if c not in adata.obs.columns:
            extra = (
                " ('phase' is computed only when compute_phase is not False.)" if c == "phase" else ""
            )
            raise DataError(
                f"Condition column '{c}' not found in obs. Available columns: {available}.{extra}"
            )
        n_nan = int(adata.obs[c].isna().sum())
        if n_nan:
            raise DataError(
                f"Condition '{c}' has {n_nan} cells without a label (NaN). Drop those cells "
                f"(adata = adata[adata.obs['{c}'].notna()].copy()) or fill in a label."
            )

    # ---------------- 2. kind, empty cells ----------------
    X = adata.X
    if kind is None:
        kind_used, detected = detect_kind(X), True
    else:
        _finite_nonneg_values(X)
        kind_used, detected = kind, False
    X = _as_float32(X)
    totals = np.asarray(X.sum(axis=1, dtype=np.float64)).ravel()
    keep = totals > 0
    n_in = int(adata.n_obs)
    n_empty = int((~keep).sum())
    if n_empty == n_in:
        raise DataError(
            "All cells are empty (every value is zero). Check that the right matrix was chosen "
            "(--layer / --use-raw)."
        )
    obs = adata.obs.copy()
    if n_empty:
        X = X[keep]
        obs = obs.iloc[np.flatnonzero(keep)].copy()
    for c in conditions:
        if c == "phase" and need_phase:
            continue
        _check_condition_values(obs[c], c, min_cells_per_value)

    # ---------------- 3/4. phase on all genes ----------------
    lognorm_all: Any = None

    def _lognorm_all() -> Any:
        nonlocal lognorm_all
        if lognorm_all is None:
            lognorm_all = lognormalize(X) if kind_used == "counts" else X
        return lognorm_all

    phase_record: dict[str, Any] = {"computed": False}
    if need_phase:
        ad_all = anndata.AnnData(
            X=_lognorm_all(), obs=pd.DataFrame(index=obs.index.copy()),
            var=pd.DataFrame(index=pd.Index(var_names)),
        )
        phase = score_phase(ad_all)
        obs["phase"] = pd.Categorical(phase.to_numpy(dtype=str), categories=list(PHASES))
        phase_record = {
            "computed": True,
            "method": "scanpy.tl.score_genes_cell_cycle (Tirosh 2016 genes, on all genes)",
            "replaced_existing_column": bool(phase_exists),
            "n_s_genes": len(_match_genes(S_GENES, var_names)),
            "n_g2m_genes": len(_match_genes(G2M_GENES, var_names)),
            "counts": {p: int((phase == p).sum()) for p in PHASES},
        }
        if "phase" in conditions:
            _check_condition_values(obs["phase"], "phase", min_cells_per_value, computed=True)

    # ---------------- 3. gene selection ----------------
    n_genes_in = len(var_names)
    cc_present = cell_cycle_genes(var_names) if "phase" in conditions else []
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
        mask, flavor, fallback = _select_hvg(
            X if kind_used == "counts" else None, _lognorm_all(), var_names, kind_used,
            int(n_top_genes),
        )
        if kind_used == "lognorm":
            fallback = None
        selection["method"] = f"highly_variable_genes(flavor='{flavor}')"
        selection["flavor"] = flavor
        selection["fallback_reason"] = fallback
        selection["n_highly_variable"] = int(mask.sum())
    added: list[str] = []
    if cc_present:
        index = {g: i for i, g in enumerate(var_names)}
        for g in cc_present:
            if not mask[index[g]]:
                mask[index[g]] = True
                added.append(g)
    selection["cell_cycle_genes_included"] = bool("phase" in conditions)
    selection["n_cell_cycle_genes_present"] = len(cc_present)
    selection["cell_cycle_genes_added"] = added
    genes = [g for g, m in zip(var_names, mask) if m]
    selection["n_genes"] = len(genes)

    # ---------------- 5. final matrix ----------------
    cols = np.flatnonzero(mask)
    sub = X[:, cols]
    layers: dict[str, np.ndarray] = {}
    if kind_used == "counts":
        counts_sel = np.asarray(sub.toarray() if sp.issparse(sub) else sub, dtype=np.float32)
        # each cell's library is its total over ALL its genes, as scanpy's normalize_total uses it
        library = totals[keep].astype(np.float32)
        final_X = np.log1p(counts_sel / library[:, None] * TARGET_SUM).astype(np.float32)
        layers["counts"] = counts_sel
        obs[LIBRARY_KEY] = library
        normalization = NORMALIZATION
        n_zero_after = int((counts_sel.sum(axis=1) == 0).sum())
    else:
        final_X = np.asarray(sub.toarray() if sp.issparse(sub) else sub, dtype=np.float32)
        normalization = "none (log-normalized values used as given)"
        n_zero_after = int((final_X.sum(axis=1) == 0).sum())

    vocab: dict[str, list[str]] = {}
    counts_per_value: dict[str, dict[str, int]] = {}
    for c in conditions:
        cat = _to_categorical(obs[c])
        obs[c] = cat
        vocab[c] = [str(v) for v in cat.categories]
        vc = pd.Series(cat).value_counts()
        counts_per_value[c] = {str(v): int(vc.get(v, 0)) for v in cat.categories}

    var = adata.var.iloc[cols].copy()
    var.index = pd.Index(genes)
    out = anndata.AnnData(X=final_X, obs=obs, var=var, layers=layers or None)

    preprocessing = {
        "source": _jsonable(dict(source_info)) if source_info else None,
        "matrix": str(adata.uns.get("scdiff_matrix", "X")),
        "kind": kind_used,
        "kind_detected": detected,
        "conditions": list(conditions),
        "min_cells_per_value": int(min_cells_per_value),
        "n_cells_in": n_in,
        "n_cells_dropped_empty": n_empty,
        "n_cells": int(out.n_obs),
        "n_cells_zero_over_selected_genes": n_zero_after,
        "n_genes_in": n_genes_in,
        "n_genes": len(genes),
        "gene_selection": selection,
        "phase": phase_record,
        "normalization": normalization,
    }
    return PreparedData(
        adata=out,
        kind=kind_used,
        conditions=list(conditions),
        genes=genes,
        vocab=vocab,
        counts_per_value=counts_per_value,
        preprocessing=_jsonable(preprocessing),
    )


# --------------------------------------------------------------------------------------
# Splitting
# --------------------------------------------------------------------------------------


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
    try:
        fr = np.asarray(fractions, dtype=float)
    except (TypeError, ValueError) as exc:
        raise DataError(f"fractions must be three numbers (train, val, test), got {fractions!r}.") from exc
    if fr.shape != (3,) or not np.all(np.isfinite(fr)) or np.any(fr < 0) or fr[0] <= 0:
        raise DataError(
            f"fractions must be three non-negative numbers (train, val, test) with train > 0, "
            f"got {fractions!r}."
        )
    fr = fr / fr.sum()
    f_val, f_test = fr[1], fr[2]
    small_order = ["train"] + (["test"] if f_test > 0 else []) + (["val"] if f_val > 0 else [])

    assign = np.empty(n, dtype=object)
    by_label: dict[str, list[int]] = {}
    for i, lab in enumerate(labels):
        by_label.setdefault(lab, []).append(i)
    for lab in sorted(by_label):
        idx = np.asarray(by_label[lab])
        rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, zlib.crc32(lab.encode("utf-8"))])
        idx = idx[rng.permutation(len(idx))]
        m = len(idx)
        if m < len(small_order):
            for i, split in zip(idx, small_order):
                assign[i] = split
            continue
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
        n_train = m - n_val - n_test
        assign[idx[:n_train]] = "train"
        assign[idx[n_train:n_train + n_val]] = "val"
        assign[idx[n_train + n_val:]] = "test"
    return {s: [names[i] for i in range(n) if assign[i] == s] for s in ("train", "val", "test")}


# --------------------------------------------------------------------------------------
# Synthetic data
# --------------------------------------------------------------------------------------

_SYN_S = ["Mcm5", "Pcna", "Tyms", "Fen1", "Mcm2"]
_SYN_G2M = ["Hmgb2", "Cdk1", "Nusap1", "Ube2c", "Birc5"]


def make_synthetic(
    n_cells: int = 300,
    n_genes: int = 60,
    n_types: int = 3,
    seed: int = 0,
    counts: bool = True,
) -> anndata.AnnData:
    """A small synthetic dataset with cell types and cell-cycle phases.

    Negative-binomial counts whose means depend on ``obs['cell_type']`` (``'A'``, ``'B'``, ...)
    and ``obs['phase']`` (``'G1'``, ``'S'``, ``'G2M'``). Genes are ``'g0'``, ``'g1'``, ...,
    except the first ten, named after mouse cell-cycle genes (``Mcm5 Pcna Tyms Fen1 Mcm2``,
    higher in S cells; ``Hmgb2 Cdk1 Nusap1 Ube2c Birc5``, higher in G2M cells).

    Parameters
    ----------
    n_cells, n_genes, n_types
        Shape and number of cell types (``n_genes >= 20``, ``1 <= n_types <= 26``).
    seed
        Random seed.
    counts
        True: ``.X`` holds the integer counts (float32). False: ``.X`` holds
        :func:`lognormalize` of them; the counts are in ``layers['counts']`` either way.

    Returns
    -------
    anndata.AnnData
    """
    if n_genes < 20 or not 1 <= n_types <= 26 or n_cells < 1:
        raise DataError("make_synthetic needs n_genes >= 20, 1 <= n_types <= 26 and n_cells >= 1.")
    rng = np.random.default_rng(seed)
    types = np.array(list(string.ascii_uppercase[:n_types]))
    cell_type = types[rng.integers(0, n_types, n_cells)]
    phase = np.array(PHASES)[rng.choice(3, size=n_cells, p=[0.5, 0.25, 0.25])]

    base = rng.lognormal(mean=0.5, sigma=1.0, size=n_genes)
    base[:10] = rng.uniform(1.5, 3.0, size=10)  # cell-cycle genes: moderate baseline
    type_effect = np.ones((n_types, n_genes))
    other = np.arange(10, n_genes)
    for t in range(n_types):
        markers = rng.choice(other, size=max(3, len(other) // (2 * n_types)), replace=False)
        type_effect[t, markers] = rng.uniform(3.0, 6.0, size=len(markers))
    t_index = np.searchsorted(types, cell_type) if n_types > 1 else np.zeros(n_cells, int)
    mu = base[None, :] * type_effect[t_index]
    mu[phase == "S", 0:5] *= 6.0
    mu[phase == "G2M", 5:10] *= 6.0
    mu *= rng.lognormal(0.0, 0.3, size=(n_cells, 1))  # library size
    r = 5.0
    X = rng.negative_binomial(r, r / (r + mu)).astype(np.float32)

    var_names = [f"g{i}" for i in range(n_genes)]
    var_names[0:5] = _SYN_S
    var_names[5:10] = _SYN_G2M
    obs = pd.DataFrame(
        {
            "cell_type": pd.Categorical(cell_type, categories=list(types)),
            "phase": pd.Categorical(phase, categories=list(PHASES)),
        },
        index=pd.Index([f"cell{i}" for i in range(n_cells)]),
    )
    ad = anndata.AnnData(
        X=X.copy() if counts else lognormalize(X),
        obs=obs,
        var=pd.DataFrame(index=pd.Index(var_names)),
    )
    ad.layers["counts"] = X
    return ad


# --------------------------------------------------------------------------------------
# One call: source -> prepared data
# --------------------------------------------------------------------------------------


def load_prepared(
    source: str | os.PathLike,
    conditions: Sequence[str],
    *,
    layer: str | None = None,
    use_raw: bool | None = None,
    paul15_path: str | os.PathLike | None = None,
    n_top_genes: int = 2000,
    genes: Sequence[str] | None = None,
) -> PreparedData:
    """Load a dataset by name or path and prepare it for training or evaluation.

    ``use_raw=None`` follows the dataset's default (``.raw`` for pbmc68k, whose ``.X`` is
    scaled). ``genes``: restrict to a model's genes (evaluation), in that order — a gene the
    data lacks is an error. Cells left with no counts over the selected genes are dropped
    (their library size would be zero) and the number is recorded.
    """
    adata, info = load_anndata(source, paul15_path=paul15_path)
    if use_raw is None:
        use_raw = bool(info.get("default_use_raw")) and layer is None
    mat = select_matrix(adata, layer=layer, use_raw=bool(use_raw))
    prep = prepare(mat, list(conditions), n_top_genes=n_top_genes, source_info=info)
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
