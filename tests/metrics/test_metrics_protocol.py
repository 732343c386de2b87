"""The evaluation protocol, evaluate() (scdiff_core.metrics.protocol), on tiny synthetic data."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from anndata import AnnData
from metrics_synthetic import LABELS, N_GENES, make_cells

import scdiff_core.metrics as metrics_module
from scdiff_core.errors import ScdiffError
from scdiff_core.metrics import TABLE_COLUMNS, evaluate


def test_evaluate_rows_columns_and_control(report, data):
    t = report.table
    assert list(t.columns) == TABLE_COLUMNS
    assert list(zip(t["set"], t["scope"])) == [
        ("generated", "all"), ("generated", "a"), ("generated", "b"), ("generated", "c"),
        ("control", "all"), ("control", "a"), ("control", "b"), ("control", "c"),
    ]
    assert list(t["n"]) == [150, 50, 50, 50, 150, 50, 50, 50]
    s = report.summary()
    assert list(s["set"]) == ["generated", "control"] and (s["scope"] == "all").all()
    ctrl = s.iloc[1]
    assert ctrl["rf_auroc"] < 0.65
    assert abs(ctrl["mmd2"]) < 0.01
    assert ctrl["scc_means"] > 0.95
    assert ctrl["label_fidelity"] > 0.9
    assert 0 < ctrl["zeros_real"] < 1 and ctrl["zero_frac_gap"] < 0.1
    assert math.isnan(ctrl["phase_fidelity"])
    assert report.settings["n_pcs"] == 39 and report.settings["label_key"] == "cell_type"
    assert report.settings["rf"]["n_estimators"] == 200


def test_shifted_generated_is_worse_than_control(data, reference):
    rep = evaluate(data["gen_bad"], train=data["train"], test=data["test"], control=data["control"],
                   label_key="cell_type", reference=reference, per_label=False)
    g, c = rep.summary().iloc[0], rep.summary().iloc[1]
    assert g["rf_auroc"] > 0.9 and c["rf_auroc"] < 0.65
    assert g["mmd2"] > c["mmd2"] + 0.01 and g["energy"] > c["energy"]
    assert len(rep.table) == 2


def test_per_label_rows_respect_min_cells_and_presence(data, reference, fast_rf):
    gen = make_cells({"a": 20, "b": 20}, seed=6)  # no 'c' generated
    test = make_cells({"a": 30, "b": 30, "c": 3}, seed=7)  # 'c' too rare in test
    rep = evaluate(gen, train=data["train"], test=test, control=None, label_key="cell_type",
                   reference=reference, min_label_cells=5)
    assert list(zip(rep.table["set"], rep.table["scope"])) == [("generated", "all"), ("generated", "a"),
                                                               ("generated", "b")]
    assert list(rep.table["n"]) == [40, 20, 20]
    assert any("control" in n for n in rep.notes) and any("fewer than 5" in n for n in rep.notes)


def test_collapsed_generated_has_high_label_fidelity_but_is_detected(data, reference, fast_rf):
    train = data["train"]
    labs = train.obs["cell_type"].astype(str).to_numpy()
    idx = np.concatenate([np.repeat(np.flatnonzero(labs == lab)[0], 50) for lab in LABELS])
    collapsed = AnnData(X=np.asarray(train.X)[idx], obs=pd.DataFrame({"cell_type": labs[idx]}, index=[f"k{i}" for i in range(len(idx))]),
                        var=train.var.copy())
    rep = evaluate(collapsed, train=train, test=data["test"], control=data["control"],
                   label_key="cell_type", reference=reference, per_label=False)
    g, c = rep.summary().iloc[0], rep.summary().iloc[1]
    assert g["label_fidelity"] > 0.95
    assert g["mmd2"] > c["mmd2"] + 0.01 and g["energy"] > c["energy"]


def test_gene_mismatch_raises_and_reorder_works(data, reference, report, fast_rf):
    gen = data["gen_good"]
    renamed = gen.copy()
    renamed.var_names = [f"x{j}" if j < 3 else f"g{j}" for j in range(N_GENES)]
    with pytest.raises(ScdiffError, match="3 of 40 training genes are missing"):
        evaluate(renamed, train=data["train"], test=data["test"], control=None, label_key="cell_type",
                 reference=reference)
    perm = np.random.default_rng(0).permutation(N_GENES)
    shuffled = gen[:, perm].copy()
    rep = evaluate(shuffled, train=data["train"], test=data["test"], control=None,
                   label_key="cell_type", reference=reference, per_label=False)
    cols = [c for c in TABLE_COLUMNS if c != "rf_auroc"]  # rf stubbed here
    pd.testing.assert_frame_equal(rep.table[cols], report.summary().iloc[:1][cols])


def test_missing_label_column_raises(data, reference, fast_rf):
    gen = data["gen_good"].copy()
    del gen.obs["cell_type"]
    with pytest.raises(ScdiffError, match="'cell_type' is missing from the generated"):
        evaluate(gen, train=data["train"], test=data["test"], control=None, label_key="cell_type",
                 reference=reference)
    with pytest.raises(ScdiffError, match="reference space was built for label column"):
        evaluate(data["gen_good"], train=data["train"], test=data["test"], control=None, label_key=None,
                 reference=reference)


def test_sparse_input_and_reference_reuse_match(data, report, fast_rf):
    sparse = {k: data[k].copy() for k in ("train", "test", "control", "gen_good")}
    for a in sparse.values():
        a.X = sp.csr_matrix(a.X)
    rep = evaluate(sparse["gen_good"], train=sparse["train"], test=sparse["test"], control=sparse["control"],
                   label_key="cell_type", per_label=False)  # builds its own reference
    cols = [c for c in TABLE_COLUMNS if c != "rf_auroc"]  # rf stubbed here
    pd.testing.assert_frame_equal(rep.summary()[cols], report.summary()[cols], check_exact=False, rtol=1e-6)


def test_rf_auroc_replaced_on_the_package_is_used(data, reference, monkeypatch):
    """Callers (tests of the CLI and of HeldOut) stub the slow forest as scdiff_core.metrics.rf_auroc."""
    monkeypatch.setattr(metrics_module, "rf_auroc", lambda a, b, seed=0: 0.123)
    rep = evaluate(data["gen_good"], train=data["train"], test=data["test"], control=None,
                   label_key="cell_type", reference=reference, per_label=False)
    assert list(rep.table["rf_auroc"]) == [0.123]


def test_non_finite_and_empty_sets_raise(data, reference, fast_rf):
    gen = data["gen_good"].copy()
    gen.X[3, 5] = np.nan
    with pytest.raises(ScdiffError, match="1 of the generated cells contain NaN"):
        evaluate(gen, train=data["train"], test=data["test"], control=None, label_key="cell_type",
                 reference=reference)
    with pytest.raises(ScdiffError, match="control set has no cells"):
        evaluate(data["gen_good"], train=data["train"], test=data["test"], control=data["control"][:0].copy(),
                 label_key="cell_type", reference=reference)
