"""Tests of the evaluation protocol (scdiff_core.metrics) on tiny synthetic data."""
from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from anndata import AnnData

import scdiff_core.metrics as metrics_module
from scdiff_core.errors import ScdiffError
from scdiff_core.metrics import (
    TABLE_COLUMNS,
    EvaluationReport,
    ReferenceSpace,
    energy_distance,
    evaluate,
    gaussian_baseline,
    mmd2_unbiased,
    rf_auroc,
)

N_GENES = 40
LABELS = ("a", "b", "c")
# fixed cluster centres: non-negative log-like values, some genes ~0 so that clipping makes zeros
_CENTERS = np.clip(np.random.default_rng(123).normal(1.0, 1.2, size=(len(LABELS), N_GENES)), 0, None)


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


@pytest.fixture(scope="module")
def data():
    return {
        "train": make_cells(80, seed=1),
        "test": make_cells(50, seed=2),
        "control": make_cells(50, seed=3),
        "gen_good": make_cells(50, seed=4),
        "gen_bad": make_cells(50, seed=5, shift=1.0),
    }


@pytest.fixture
def fast_rf(monkeypatch):
    """Replace the (slow: 1000 trees per call) random-forest test inside evaluate by a stub.

    Used by tests about something else than the classifier test; the real one is exercised by
    test_rf_auroc_same_vs_shifted, the ``report`` fixture and test_shifted_generated_is_worse_than_control.
    """
    monkeypatch.setattr(metrics_module, "rf_auroc",
                        lambda a, b, seed=0: float("nan") if min(len(a), len(b)) < 10 else 0.5)


@pytest.fixture(scope="module")
def reference(data):
    return ReferenceSpace(data["train"], "cell_type", seed=0)


@pytest.fixture(scope="module")
def report(data, reference):
    with pytest.MonkeyPatch.context() as mp:  # always the real classifier test, whatever ran before
        mp.setattr(metrics_module, "rf_auroc", rf_auroc)
        return evaluate(data["gen_good"], train=data["train"], test=data["test"], control=data["control"],
                        label_key="cell_type", reference=reference)


# ------------------------------------------------------------------------------------------
# MMD²
# ------------------------------------------------------------------------------------------


def _sigma2s(X):
    from scipy.spatial.distance import pdist

    med = np.median(pdist(X, "sqeuclidean"))
    return [f * med for f in (0.25, 0.5, 1, 2, 4)]


def test_mmd_same_distribution_near_zero_and_shifted_positive():
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(300, 5)), rng.normal(size=(300, 5))
    s2 = _sigma2s(X)
    assert abs(mmd2_unbiased(X, Y, s2)) < 0.01
    assert mmd2_unbiased(X, Y + 1.0, s2) > 0.05


def test_mmd_unbiased_can_be_negative():
    rng = np.random.default_rng(1)
    vals = [mmd2_unbiased(rng.normal(size=(30, 3)), rng.normal(size=(30, 3)), [1.0, 2.0]) for _ in range(10)]
    assert min(vals) < 0 < max(vals)


def test_mmd_matches_brute_force():
    rng = np.random.default_rng(2)
    X, Y = rng.normal(size=(5, 3)), rng.normal(size=(4, 3)) + 0.3
    s2 = [0.5, 1.0, 3.0]

    def k(a, b):
        d2 = float(((a - b) ** 2).sum())
        return sum(math.exp(-d2 / (2 * s)) for s in s2) / len(s2)

    m, n = len(X), len(Y)
    kxx = sum(k(X[i], X[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    kyy = sum(k(Y[i], Y[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    kxy = sum(k(X[i], Y[j]) for i in range(m) for j in range(n)) / (m * n)
    assert mmd2_unbiased(X, Y, s2) == pytest.approx(kxx + kyy - 2 * kxy, rel=1e-10, abs=1e-12)
    assert math.isnan(mmd2_unbiased(X[:1], Y, s2))


# ------------------------------------------------------------------------------------------
# energy distance, classifier test
# ------------------------------------------------------------------------------------------


def test_energy_matches_hand_computation():
    rng = np.random.default_rng(3)
    X, Y = rng.normal(size=(5, 3)), rng.normal(size=(4, 3)) + 0.5
    d = lambda a, b: float(np.sqrt(((a - b) ** 2).sum()))  # noqa: E731
    m, n = len(X), len(Y)
    exy = sum(d(x, y) for x in X for y in Y) / (m * n)
    exx = sum(d(X[i], X[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    eyy = sum(d(Y[i], Y[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    assert energy_distance(X, Y) == pytest.approx(2 * exy - exx - eyy, rel=1e-10)


def test_energy_nonnegative_for_different_sets_and_small_for_same():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(200, 4))
    assert energy_distance(X, rng.normal(size=(200, 4)) + 1.0) > 0.3
    assert abs(energy_distance(X, rng.normal(size=(200, 4)))) < 0.1


def test_rf_auroc_same_vs_shifted():
    rng = np.random.default_rng(5)
    X = rng.normal(size=(150, 5))
    assert rf_auroc(X, rng.normal(size=(150, 5)), seed=0) < 0.65
    assert rf_auroc(X, rng.normal(size=(150, 5)) + 1.5, seed=0) > 0.9
    assert math.isnan(rf_auroc(X[:9], X[9:30]))


# ------------------------------------------------------------------------------------------
# evaluate
# ------------------------------------------------------------------------------------------


def test_reference_space(data, reference):
    assert reference.n_pcs == min(50, N_GENES - 1, data["train"].n_obs - 1)
    assert reference.bandwidth > 0
    assert reference.sigma2s == pytest.approx([f * reference.bandwidth for f in (0.25, 0.5, 1, 2, 4)])
    Z = reference.project(data["test"])
    assert Z.shape == (data["test"].n_obs, reference.n_pcs)
    np.testing.assert_allclose(reference.project(data["test"].X), Z)


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


def test_report_roundtrip(report):
    d = report.to_dict()
    text = json.dumps(d, allow_nan=False)  # NaN must have become None
    back = EvaluationReport.from_dict(json.loads(text))
    pd.testing.assert_frame_equal(back.table, report.table)
    assert back.settings == json.loads(json.dumps(report.settings, default=float))
    assert back.notes == report.notes
    assert d["table"][0]["phase_fidelity"] is None


def test_gaussian_baseline(data, reference, fast_rf):
    gen = gaussian_baseline(data["train"], "cell_type", {"a": 30, "c": 20}, seed=0)
    assert gen.shape == (50, N_GENES)
    assert list(gen.var_names) == list(data["train"].var_names)
    assert gen.obs["cell_type"].value_counts().to_dict() == {"a": 30, "c": 20}
    assert (np.asarray(gen.X) >= 0).all()
    rep = evaluate(gen, train=data["train"], test=data["test"], control=None, label_key="cell_type",
                   reference=reference, per_label=False)
    assert rep.summary().iloc[0]["label_fidelity"] > 0.9
    with pytest.raises(ScdiffError, match="do not occur"):
        gaussian_baseline(data["train"], "cell_type", {"zzz": 3})


# ------------------------------------------------------------------------------------------
# phase fidelity
# ------------------------------------------------------------------------------------------

S_MARKERS = ["Mcm5", "Pcna", "Tyms", "Fen1", "Mcm2"]
G2M_MARKERS = ["Hmgb2", "Cdk1", "Nusap1", "Ube2c", "Birc5"]


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


def test_phase_fidelity_of_real_cells_is_high(fast_rf):
    train, test, control = make_cycling(60, 10), make_cycling(30, 11), make_cycling(30, 12)
    rep = evaluate(control.copy(), train=train, test=test, control=control, label_key=None,
                   phase_key="phase")
    s = rep.summary()
    assert (s["phase_fidelity"] > 0.6).all()
    assert s["label_fidelity"].isna().all()
    # a sparse training matrix is scored the same way
    train_sp = train.copy()
    train_sp.X = sp.csr_matrix(train_sp.X)
    rep_sp = evaluate(control.copy(), train=train_sp, test=test, control=None, label_key=None, phase_key="phase")
    assert rep_sp.summary().iloc[0]["phase_fidelity"] == pytest.approx(s.iloc[0]["phase_fidelity"])
    # shuffled requested phases: fidelity drops to chance level
    wrong = control.copy()
    wrong.obs["phase"] = np.roll(wrong.obs["phase"].to_numpy(), 30)
    rep2 = evaluate(wrong, train=train, test=test, control=None, label_key=None, phase_key="phase")
    assert rep2.summary().iloc[0]["phase_fidelity"] < 0.4
    # cells with no requested phase ('any') are left out of the fraction
    partial = control.copy()
    partial.obs["phase"] = partial.obs["phase"].astype(object)
    partial.obs.iloc[:30, partial.obs.columns.get_loc("phase")] = "any"
    rep3 = evaluate(partial, train=train, test=test, control=None, label_key=None, phase_key="phase")
    assert rep3.summary().iloc[0]["phase_fidelity"] > 0.6


def test_phase_fidelity_nan_without_marker_genes(data, reference, fast_rf):
    gen = data["gen_good"].copy()
    gen.obs["phase"] = "G1"
    rep = evaluate(gen, train=data["train"], test=data["test"], control=None, label_key="cell_type",
                   reference=reference, phase_key="phase", per_label=False)
    assert math.isnan(rep.summary().iloc[0]["phase_fidelity"])
    assert any("Phase fidelity not computed" in n for n in rep.notes)
