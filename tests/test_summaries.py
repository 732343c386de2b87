"""scdiff_core.summaries: checkpoint configs, generated sets and trajectories summarised."""
from __future__ import annotations

import json
from types import SimpleNamespace

import anndata as ad
import numpy as np
import pandas as pd
import pytest

from scdiff_core.common import ANY
from scdiff_core.summaries import (MIXED, combination_status, combination_table, config_summary, dataset_name,
                                   label_agreement, matching_cells, nearest_seen, top_variable_genes, training_count,
                                   trust_verdict, try_read_config)
from scdiff_core.trajectory.summaries import gene_trends, label_shares, trajectory_lambdas, trajectory_means

CFG = {"data": {"source": {"source": "/data/sets/mine.h5ad", "path": "/data/sets/mine.h5ad"}, "kind": "counts"},
       "split": {"train": ["a", "b", "c"], "val": ["d"], "test": ["e", "f"]}, "genes": ["g1", "g2"],
       "space": "latent", "backbone": {"name": "mlp", "parameters": 1234},
       "conditions": ["cell_type", "phase"], "vocab": {"cell_type": ["A", "B", "C"], "phase": ["G1", "S"]},
       "training": {"seconds_total": 90}}


def test_try_read_config(tmp_path):
    assert try_read_config(tmp_path) is None  # no config.json
    (tmp_path / "config.json").write_text("{not json")
    assert try_read_config(tmp_path) is None
    (tmp_path / "config.json").write_text(json.dumps({"schema_version": 0}))  # old schemas are read too
    assert try_read_config(str(tmp_path)) == {"schema_version": 0}


@pytest.mark.parametrize("source, name", [({"source": "pbmc68k"}, "pbmc68k"), ("paul15", "paul15"),
                                          ("/x/y/file.h5ad", "file.h5ad"), (None, "?")])
def test_dataset_name(source, name):
    assert dataset_name({"data": {"source": source}}) == name


def test_config_summary():
    s = config_summary(CFG)
    assert s["dataset"] == "mine.h5ad"
    assert (s["cells_train"], s["cells_val"], s["cells_test"], s["genes"]) == (3, 1, 2, 2)
    assert (s["kind"], s["space"], s["backbone"], s["parameters"]) == ("counts", "latent", "mlp", 1234)
    assert s["conditions"] == ["cell_type", "phase"] and s["n_values"] == {"cell_type": 3, "phase": 2}
    assert s["n_combinations"] == 6 and s["minutes"] == pytest.approx(1.5)
    empty = config_summary({})
    assert empty["dataset"] == "?" and empty["genes"] == 0 and empty["n_combinations"] == 0


def test_training_count():
    ref = {"umap": np.zeros((5, 2)), "label_cell_type": np.array([0, 0, 1, 2, 0]), "label_phase": np.array([0, 1, 1, 0, 0])}
    model = SimpleNamespace(reference=ref, vocab=CFG["vocab"])
    assert training_count(model, {}) == 5
    assert training_count(model, {"cell_type": "A", "phase": ANY}) == 3
    assert training_count(model, {"cell_type": "A", "phase": "S"}) == 1
    assert training_count(model, {"cell_type": None, "phase": "G1"}) == 3
    assert training_count(SimpleNamespace(reference={}, vocab={}), {}) == -1  # no reference map
    # newer checkpoints count every training cell in config (the map may hold only a sample of them)
    table = [["A", "G1", 7], ["A", "S", 2], ["B", "S", 30]]
    model = SimpleNamespace(reference=ref, vocab=CFG["vocab"], conditions=["cell_type", "phase"],
                            config={"combination_counts": table})
    assert training_count(model, {}) == 39 and training_count(model, {"cell_type": "A", "phase": ANY}) == 9
    assert training_count(model, {"cell_type": "B", "phase": "S"}) == 30
    assert training_count(model, {"cell_type": "C", "phase": "S"}) == 0


def _cells(X, obs=None, genes=None):
    X = np.asarray(X, dtype=np.float32)
    genes = genes or [f"g{i}" for i in range(X.shape[1])]
    return ad.AnnData(X=X, obs=pd.DataFrame(obs or {}, index=[f"c{i}" for i in range(len(X))]),
                      var=pd.DataFrame(index=genes))


def test_top_variable_genes():
    a = _cells([[0, 1, 5], [0, 3, 0], [0, 2, 5]])
    assert top_variable_genes(a, 2) == ["g2", "g1"]


def test_label_agreement():
    a = _cells(np.zeros((4, 1)), {"cell_type": ["A"] * 4, "phase": ["G1", "S", "S", "S"],
                                  "predicted_cell_type": ["A", "A", "A", "B"], "predicted_phase": ["S"] * 4})
    t = label_agreement(a, ["cell_type", "phase", "other"]).set_index("column")
    assert list(t.index) == ["cell_type", "phase"]  # no predictions for 'other'
    assert t.loc["cell_type", "requested"] == "A" and t.loc["cell_type", "predicted = requested"] == 0.75
    assert t.loc["cell_type", "predicted"] == "A 75%, B 25%"
    assert t.loc["phase", "requested"] == MIXED and pd.isna(t.loc["phase", "predicted = requested"])
    anyset = _cells(np.zeros((2, 1)), {"cell_type": [ANY, ANY], "predicted_cell_type": ["A", "B"]})
    assert pd.isna(label_agreement(anyset, ["cell_type"]).iloc[0]["predicted = requested"])
    unasked = _cells(np.zeros((2, 1)), {"predicted_cell_type": ["A", "B"]})
    assert label_agreement(unasked, ["cell_type"]).iloc[0]["requested"] == MIXED


def test_matching_cells():
    obs = pd.DataFrame({"cell_type": ["A", "B", "A"], "phase": pd.Categorical(["S", "S", "G1"])})
    assert matching_cells(obs, {"cell_type": "A"}).tolist() == [True, False, True]
    assert matching_cells(obs, {"cell_type": "A", "phase": "S"}).tolist() == [True, False, False]
    assert matching_cells(obs, {"cell_type": ANY, "phase": None, "absent": "x"}).all()


def _trajectory():
    """3 points × 2 cells: g0 rises, g1 falls, g2 is flat; map positions move right."""
    pts = np.repeat(np.arange(3), 2)
    X = np.stack([pts * 1.0, 2.0 - pts, np.ones(6)], axis=1)
    a = _cells(X, {"point": pts, "lambda": np.repeat([0.0, 0.5, 1.0], 2).astype(np.float32),
                   "predicted_cell_type": ["A", "A", "A", "B", "B", "C"]})
    a.obsm["X_umap_ref"] = np.stack([pts * 2.0 + np.tile([0, 1], 3), np.zeros(6)], axis=1)
    return a


def test_trajectory_lambdas_and_means():
    a = _trajectory()
    assert trajectory_lambdas(a).tolist() == [0.0, 0.5, 1.0]
    lam, means = trajectory_means(a)
    assert lam.tolist() == [0.0, 0.5, 1.0]
    np.testing.assert_allclose(means, [[0.5, 0], [2.5, 0], [4.5, 0]])
    del a.obs["lambda"]
    assert trajectory_lambdas(a).tolist() == [0.0, 0.5, 1.0]  # evenly spaced without recorded λ


def test_gene_trends():
    lam, df, top = gene_trends(_trajectory(), k=2)
    assert lam.tolist() == [0.0, 0.5, 1.0]
    assert df.shape == (3, 3) and df["g0"].tolist() == [0, 1, 2] and df["g1"].tolist() == [2, 1, 0]
    assert top == ["g0", "g1"]  # the rising gene, then the falling one; not the flat one
    assert gene_trends(_trajectory(), k=6)[2] == ["g0", "g1"]


def test_label_shares():
    s = label_shares(_trajectory(), "cell_type", ["A", "B"])
    assert s.index.tolist() == [0.0, 0.5, 1.0]
    assert s["A"].tolist() == [1.0, 0.5, 0.0] and s["B"].tolist() == [0.0, 0.5, 0.5]
    assert s["other"].tolist() == [0.0, 0.0, 0.5]


def _combo_model():
    # cell_type A/B/C × phase G1/S: (A, G1) 12 cells, (A, S) 3, (B, G1) 10, (B, S) 0, (C, G1) 0, (C, S) 11
    pairs = [(0, 0)] * 12 + [(0, 1)] * 3 + [(1, 0)] * 10 + [(2, 1)] * 11
    ct, ph = map(np.array, zip(*pairs))
    return SimpleNamespace(conditions=["cell_type", "phase"], vocab={"cell_type": ["A", "B", "C"], "phase": ["G1", "S"]},
                           reference={"label_cell_type": ct, "label_phase": ph})


def test_combination_status():
    assert [combination_status(n) for n in (0, 1, 9, 10, 500)] == ["unseen", "rare", "rare", "seen", "seen"]
    assert combination_status(0, asked=False) == "any"


def test_combination_table():
    t = combination_table(_combo_model())
    assert list(t.columns) == ["cell_type", "phase", "training cells", "status"]
    assert len(t) == 6 and t["training cells"].sum() == 36
    rows = {(r.cell_type, r.phase): (r._3, r.status) for r in t.itertuples()}
    assert rows[("B", "S")] == (0, "unseen") and rows[("C", "G1")] == (0, "unseen")
    assert rows[("A", "S")] == (3, "rare") and rows[("B", "G1")] == (10, "seen")
    assert list(t["status"]) == ["unseen", "unseen", "rare", "seen", "seen", "seen"]  # unseen first
    empty = combination_table(SimpleNamespace(conditions=["x"], vocab={"x": ["a"]}, reference={}))
    assert len(empty) == 0 and "status" in empty


def test_nearest_seen():
    t = combination_table(_combo_model())
    near = nearest_seen(t, {"cell_type": "B", "phase": "S"})
    # one value changed: (B, G1) 10 cells, (C, S) 11 cells — most cells first; (A, G1) changes both
    assert near == [{"cell_type": "C", "phase": "S"}, {"cell_type": "B", "phase": "G1"},
                    {"cell_type": "A", "phase": "G1"}]
    assert nearest_seen(t, {"cell_type": "A", "phase": ANY}, k=5) == [{"cell_type": "C"}, {"cell_type": "B"}]
    assert nearest_seen(t, {"cell_type": ANY}) == []


def test_trust_verdict():
    bad = trust_verdict("unseen", {"cell_type": 0.19, "phase": 0.02}, {"cell_type": 0.9, "phase": 0.6})
    assert bad.startswith("doubtful") and "cell_type, phase" in bad and "real 90%" in bad and "unseen" in bad
    good = trust_verdict("rare", {"cell_type": 0.8, "phase": 0.4}, {"cell_type": 0.9, "phase": 0.6})
    assert good.startswith("plausible") and "rare" in good
    assert trust_verdict("rare", {"phase": 0.4}, None).startswith("doubtful")  # 0.5 without a reference
    assert trust_verdict("rare", {}, None).startswith("no verdict")
