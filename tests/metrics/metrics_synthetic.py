"""Tiny synthetic cells for the tests of scdiff_core.metrics (imported by conftest.py and the tests)."""
from __future__ import annotations

import numpy as np
import pandas as pd
from anndata import AnnData

N_GENES = 40
LABELS = ("a", "b", "c")
# fixed cluster centres: non-negative log-like values, some genes ~0 so that clipping makes zeros
_CENTERS = np.clip(np.random.default_rng(123).normal(1.0, 1.2, size=(len(LABELS), N_GENES)), 0, None)

S_MARKERS = ["Mcm5", "Pcna", "Tyms", "Fen1", "Mcm2"]
G2M_MARKERS = ["Hmgb2", "Cdk1", "Nusap1", "Ube2c", "Birc5"]


def make_cells(n_per_label, seed, shift=0.0, genes=None, labels=LABELS) -> AnnData:
    """3 Gaussian clusters in 40 'genes', clipped at 0 (log-normalized-like, with zeros)."""
    rng = np.random.default_rng(seed)
    if isinstance(n_per_label, int):
        n_per_label = {lab: n_per_label for lab in labels}
    blocks, labs = [], []
    for i, lab in enumerate(LABELS):
        n = n_per_label.get(lab, 0)
        blocks.append(np.clip(_CENTERS[i] + shift + rng.normal(0, 0.5, size=(n, N_GENES)), 0, None))
        labs += [lab] * n
    X = np.vstack(blocks).astype(np.float32)
    genes = genes if genes is not None else [f"g{j}" for j in range(N_GENES)]
    obs = pd.DataFrame({"cell_type": pd.Categorical(labs, categories=list(LABELS))},
                       index=[f"s{seed}_{i}" for i in range(len(labs))])
    return AnnData(X=X, obs=obs, var=pd.DataFrame(index=genes))


def make_cycling(n_per_phase, seed) -> AnnData:
    """Cells whose S / G2M marker genes (mouse casing) are elevated in S / G2M cells."""
    rng = np.random.default_rng(seed)
    genes = [f"g{j}" for j in range(60)] + S_MARKERS + G2M_MARKERS
    phases = np.repeat(["G1", "S", "G2M"], n_per_phase)
    # spread of mean expressions, markers interleaved, so every marker has control genes in its bin
    base = np.random.default_rng(0).permutation(np.linspace(0.2, 3.0, len(genes)))
    X = base + rng.normal(0, 0.3, size=(len(phases), len(genes)))
    s_idx = [genes.index(g) for g in S_MARKERS]
    g_idx = [genes.index(g) for g in G2M_MARKERS]
    X[np.ix_(phases == "S", s_idx)] += 1.5
    X[np.ix_(phases == "G2M", g_idx)] += 1.5
    obs = pd.DataFrame({"phase": phases, "cell_type": "a"}, index=[f"p{seed}_{i}" for i in range(len(phases))])
    return AnnData(X=np.clip(X, 0, None).astype(np.float32), obs=obs, var=pd.DataFrame(index=genes))
