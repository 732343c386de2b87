"""Loading, checking and preparing single-cell data for training.

The flow, one module per step:

1. read (:mod:`.io`): :func:`load_anndata` reads ``.h5ad`` / ``.h5ad.gz`` files or the built-in
   datasets (``pbmc68k``, ``paul15``);
2. choose the matrix (:mod:`.matrix`): :func:`select_matrix` picks ``.X``, a layer, or ``.raw``;
3. detect the kind (:mod:`.matrix`): :func:`detect_kind` tells raw counts from log-normalized
   values and refuses scaled data; :func:`lognormalize` normalizes counts;
4. cell cycle (:mod:`.cellcycle`): :func:`score_phase` scores each cell's phase from the
   :data:`S_GENES` / :data:`G2M_GENES` markers;
5. prepare (:mod:`.preparation`, with :mod:`.conditions` and :mod:`.genes`): :func:`prepare`
   validates the condition columns, computes the phase when asked, selects genes and
   log-normalizes, returning a :class:`PreparedData`; :func:`load_prepared`
   (:mod:`.from_source`) does steps 1-5 in one call;
6. split (:mod:`.split`): :func:`split_cells` makes a stratified, deterministic train/val/test
   split by cell id.

:func:`make_synthetic` (:mod:`.synthetic`) builds a small synthetic dataset for tests.
Every problem the user can cause is raised as :class:`scdiff_core.errors.DataError` with a
message that says what is wrong and what to do.
"""

from .cellcycle import G2M_GENES, MIN_PHASE_GENES, PHASES, S_GENES, cell_cycle_genes, score_phase
from .from_source import load_prepared
from .io import KNOWN_DATASETS, load_anndata
from .matrix import LOGNORM_MAX, detect_kind, lognormalize, select_matrix
from .preparation import PreparedData, prepare
from .split import condition_strata, split_cells
from .synthetic import make_synthetic

__all__ = [
    "KNOWN_DATASETS",
    "S_GENES",
    "G2M_GENES",
    "PHASES",
    "MIN_PHASE_GENES",
    "LOGNORM_MAX",
    "PreparedData",
    "load_anndata",
    "select_matrix",
    "detect_kind",
    "lognormalize",
    "score_phase",
    "cell_cycle_genes",
    "prepare",
    "load_prepared",
    "condition_strata",
    "split_cells",
    "make_synthetic",
]
