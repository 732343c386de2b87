"""Technical replicates of real cells: the fidelity a model of *new* cells can reach.

The label and phase fidelity of real held-out cells count the labels those very cells were given.
Where a label is crossed partly by a cell's own count noise — cell-cycle phase is scored from about
a hundred low-count genes against thresholds — it is not something a new cell of the same state
shares. Redrawing each of a real cell's counts as Poisson(its observed count), the cell sequenced
again in silico at about its depth, and normalizing as the cells are, gives a yardstick for what a
generator that draws new cells of exactly those states would score: the ``replicates`` rows of
:func:`~scdiff_core.metrics.protocol.evaluate` (``replicates=True``).

The redraw adds count noise on top of the noise the observed counts already carry (a Poisson
count's variance about doubles), so the replicates are noisier than a real cell at that depth: their
fidelity is a conservative reading (what a new cell reaches lies between the replicates' figure and
the real cells' own), and their RF AUROC and zeros are not a realism floor.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from anndata import AnnData

from ..common import LIBRARY_KEY
from ..errors import ScdiffError

COUNTS_LAYER = "counts"


def technical_replicates(cells: AnnData, seed: int = 0) -> AnnData:
    """One technical replicate of each cell: counts redrawn as Poisson(observed), log-normalized.

    ``cells`` must hold raw counts in ``layers['counts']`` (the genes of ``var``) and each cell's
    total over *all* its genes in ``obs['total_counts']``. The replicate's total is that total with
    these genes' counts replaced by the redrawn ones; ``X`` is ``log1p(counts / total × 1e4)``, as
    ``normalize_total(1e4)`` + ``log1p`` on the full data gives. obs and var are copied.

    Raises
    ------
    ScdiffError
        No counts layer or no library sizes (log-normalized data has no counts to redraw).
    """
    if COUNTS_LAYER not in cells.layers or LIBRARY_KEY not in cells.obs:
        raise ScdiffError(f"Technical replicates need raw counts in layers[{COUNTS_LAYER!r}] and each cell's total "
                          f"count in obs[{LIBRARY_KEY!r}]; these cells have "
                          f"{'no counts layer' if COUNTS_LAYER not in cells.layers else 'no library sizes'}.")
    C = cells.layers[COUNTS_LAYER]
    C = np.asarray(C.todense() if sp.issparse(C) else C, dtype=np.float64)  # (N, G)
    total = cells.obs[LIBRARY_KEY].to_numpy(np.float64)  # (N,) over all genes
    if not (np.isfinite(C).all() and (C >= 0).all() and np.isfinite(total).all()):
        raise ScdiffError("Technical replicates need finite, non-negative counts and library sizes.")
    R = np.random.default_rng(seed).poisson(C).astype(np.float64)
    lib = np.maximum(total - C.sum(1) + R.sum(1), 1.0)[:, None]
    out = AnnData(np.log1p(R / lib * 1e4).astype(np.float32), obs=cells.obs.copy(), var=cells.var.copy())
    out.obs[LIBRARY_KEY] = lib[:, 0]
    return out
