"""The one label predictor of the project (scdiff_core.metrics.labels)."""
from __future__ import annotations

import numpy as np
import pytest

from scdiff_core.errors import ScdiffError
from scdiff_core.metrics import LabelPredictor


def two_clusters(n, seed, d=10):
    """Two Gaussian clusters 3 units apart along every axis (labels 'x' and 'y')."""
    rng = np.random.default_rng(seed)
    Z = np.vstack([rng.normal(0, 1, size=(n, d)), rng.normal(3, 1, size=(n, d))])
    return Z, np.repeat(["x", "y"], n)


def test_fits_and_predicts_two_clusters():
    Z, y = two_clusters(100, seed=0)
    lp = LabelPredictor().fit(Z, y)
    Zq, yq = two_clusters(200, seed=1)
    assert (lp.predict(Zq) == yq).mean() > 0.9
    assert list(lp.classes_) == ["x", "y"] and lp.n_features_ == 10
    P = lp.predict_proba(Zq)
    assert P.shape == (400, 2)
    np.testing.assert_allclose(P.sum(axis=1), 1.0)
    assert (lp.classes_[P.argmax(axis=1)] == lp.predict(Zq)).all()


def test_deterministic():
    Z, y = two_clusters(100, seed=2)
    Zq, _ = two_clusters(50, seed=3)
    a, b = LabelPredictor().fit(Z, y), LabelPredictor().fit(Z, y)
    np.testing.assert_array_equal(a.predict_proba(Zq), b.predict_proba(Zq))


def test_same_predictions_as_reference_space(data, reference):
    lp = LabelPredictor().fit(reference.Z_train, data["train"].obs["cell_type"].astype(str).to_numpy())
    for name in ("test", "gen_good", "gen_bad"):
        Z = reference.project(data[name])
        np.testing.assert_array_equal(lp.predict(Z).astype(str), reference.predict_labels(Z))
        np.testing.assert_array_equal(lp.predict_proba(Z), reference.label_predictor.predict_proba(Z))


def test_same_predictions_as_the_former_classifier(data, reference):
    """Before the LabelPredictor, ReferenceSpace fitted LogisticRegression(max_iter=2000) itself."""
    from sklearn.linear_model import LogisticRegression

    former = LogisticRegression(max_iter=2000).fit(reference.Z_train, reference.train_labels)
    Z = np.random.default_rng(0).normal(size=(300, reference.n_pcs)) * 3
    np.testing.assert_array_equal(former.predict(Z).astype(str), reference.predict_labels(Z))


def test_fitted_from_a_stored_reference(data, reference):
    vocab = ["a", "b", "c"]
    labels = data["train"].obs["cell_type"].astype(str).to_numpy()
    stored = {"pcs": reference.Z_train.astype(np.float32),
              "label_cell_type": np.array([vocab.index(v) for v in labels], dtype=np.int64)}
    Z = reference.project(data["test"])
    named = LabelPredictor.from_reference(stored, "cell_type", vocab=vocab)
    codes = LabelPredictor.from_reference(stored, "cell_type")
    assert list(named.classes_) == vocab and list(codes.classes_) == [0, 1, 2]
    np.testing.assert_array_equal(named.predict(Z), np.asarray(vocab, dtype=object)[codes.predict(Z)])
    assert (named.predict(Z) == data["test"].obs["cell_type"].astype(str).to_numpy()).mean() > 0.9
    np.testing.assert_array_equal(named.predict(Z),
                                  LabelPredictor().fit(stored["pcs"], labels).predict(Z))
    with pytest.raises(ScdiffError, match="'label_phase'"):
        LabelPredictor.from_reference(stored, "phase")
    with pytest.raises(ScdiffError, match="do not index"):
        LabelPredictor.from_reference(stored, "cell_type", vocab=["a", "b"])


def test_single_label_and_bad_input():
    Z, _ = two_clusters(10, seed=4)
    lp = LabelPredictor().fit(Z, np.full(20, "only"))
    assert lp.model_ is None and list(lp.predict(Z[:3])) == ["only"] * 3
    np.testing.assert_array_equal(lp.predict_proba(Z[:3]), np.ones((3, 1)))
    with pytest.raises(ScdiffError, match="not fitted"):
        LabelPredictor().predict(Z)
    with pytest.raises(ScdiffError, match="one label per cell"):
        LabelPredictor().fit(Z, ["x"] * 5)
    with pytest.raises(ScdiffError, match="n_cells x 10"):
        lp.predict(Z[:, :4])
