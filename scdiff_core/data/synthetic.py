"""A small synthetic dataset with cell types and cell-cycle phases, for tests and examples."""

from __future__ import annotations

import string

import anndata
import numpy as np
import pandas as pd

from scdiff_core.errors import DataError

from .cellcycle import PHASES
from .matrix import lognormalize

__all__ = ["make_synthetic"]


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
