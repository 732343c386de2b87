"""Technical replicates of real cells (scdiff_core.metrics.replicates) and evaluate's replicates rows."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from anndata import AnnData

from scdiff_core.errors import ScdiffError
from scdiff_core.metrics import evaluate, technical_replicates

LABELS = ("a", "b", "c")
_RATES = np.random.default_rng(7).gamma(2.0, 2.0, size=(len(LABELS), 30))  # mean counts per label and gene


def count_cells(n_per_label: int, seed: int, sparse: bool = False) -> AnnData:
    """Three labels of Poisson counts over 30 genes, each cell with 500 more counts on genes outside them;
    X log-normalized per 1e4 of the cell's total over all its genes, as users normalize."""
    rng = np.random.default_rng(seed)
    C = np.vstack([rng.poisson(_RATES[i], size=(n_per_label, _RATES.shape[1])) for i in range(len(LABELS))])
    total = C.sum(1) + 500.0
    X = np.log1p(C / total[:, None] * 1e4).astype(np.float32)
    obs = pd.DataFrame({"cell_type": pd.Categorical(np.repeat(LABELS, n_per_label), categories=list(LABELS)),
                        "total_counts": total}, index=[f"c{seed}_{i}" for i in range(len(C))])
    a = AnnData(X, obs=obs, var=pd.DataFrame(index=[f"g{j}" for j in range(C.shape[1])]))
    a.layers["counts"] = sp.csr_matrix(C.astype(np.float32)) if sparse else C.astype(np.float32)
    return a


def test_replicates_redraw_counts_and_normalize_over_the_whole_library():
    cells = count_cells(20, seed=1, sparse=True)
    C = cells.layers["counts"].toarray().astype(np.float64)
    rep = technical_replicates(cells, seed=3)
    assert rep.shape == cells.shape and list(rep.obs_names) == list(cells.obs_names)
    assert list(rep.var_names) == list(cells.var_names)
    assert list(rep.obs["cell_type"]) == list(cells.obs["cell_type"])  # labels travel with the cells
    counts = np.expm1(rep.X.astype(np.float64)) * rep.obs["total_counts"].to_numpy()[:, None] / 1e4
    R = np.round(counts)
    assert np.allclose(counts, R, atol=1e-2)  # X is log1p(whole counts / total × 1e4)
    # the total is the cell's own, with these genes' counts replaced by the redrawn ones
    assert np.allclose(rep.obs["total_counts"], cells.obs["total_counts"] - C.sum(1) + R.sum(1))
    assert (R[C == 0] == 0).all()  # a gene with no counts stays at none
    assert not np.array_equal(R, C)
    assert np.array_equal(technical_replicates(cells, seed=3).X, rep.X)  # same seed, same replicate
    assert not np.array_equal(technical_replicates(cells, seed=4).X, rep.X)
    # unbiased: averaged over replicates, the counts are the observed ones
    mean = np.mean([np.round(np.expm1(technical_replicates(cells, seed=s).X.astype(np.float64))
                             * technical_replicates(cells, seed=s).obs["total_counts"].to_numpy()[:, None] / 1e4)
                    for s in range(40)], axis=0)
    assert np.abs(mean - C).mean() < 0.3


def test_replicates_refuse_cells_without_counts():
    cells = count_cells(5, seed=1)
    del cells.layers["counts"]
    with pytest.raises(ScdiffError, match="raw counts"):
        technical_replicates(cells)
    cells = count_cells(5, seed=1)
    del cells.obs["total_counts"]
    with pytest.raises(ScdiffError, match="no library sizes"):
        technical_replicates(cells)


def test_evaluate_adds_replicates_rows_only_when_asked_and_possible(fast_rf):
    train, test, control, gen = (count_cells(40, seed=s) for s in (1, 2, 3, 4))
    kw = dict(train=train, test=test, label_key="cell_type", per_label=False, seed=0)
    plain = evaluate(gen, control=control, **kw)
    assert list(plain.summary()["set"]) == ["generated", "control"]
    rep = evaluate(gen, control=control, replicates=True, **kw)
    s = rep.summary().set_index("set")
    assert list(s.index) == ["generated", "control", "replicates"]
    assert s.loc["replicates", "n"] == s.loc["control", "n"]
    # these labels are far apart: a re-sequenced cell keeps its label, as the cell itself does
    assert s.loc["replicates", "label_fidelity"] > 0.9 and s.loc["control", "label_fidelity"] > 0.9
    # the generated and control rows are the same with or without the replicates
    pd.testing.assert_frame_equal(plain.summary(), rep.summary().iloc[:2])
    log_only = control.copy()
    del log_only.layers["counts"]
    no_counts = evaluate(gen, control=log_only, replicates=True, **kw)
    assert list(no_counts.summary()["set"]) == ["generated", "control"]
    assert any("No replicates rows" in n and "raw counts" in n for n in no_counts.notes)
    no_control = evaluate(gen, control=None, replicates=True, **kw)
    assert any("replicates rows" in n for n in no_control.notes)
