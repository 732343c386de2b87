"""Paths through real cells (scdiff_core.trajectory.manifold): chains of training cells, re-drawn by the model."""
import numpy as np
import pytest
import scipy.sparse as sp
import torch

from scdiff_core.errors import ScdiffError
from scdiff_core.trajectory import cell_set
from scdiff_core.trajectory.manifold import (LOCAL_CELLS, _connect, along, chains, graph_coordinates, local_labels,
                                             reference_graph)


def test_along_walks_a_polyline_at_the_pace_of_its_cells():
    line = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 3.0]])  # two steps, each half of the path, whatever its length
    pts = along(line, np.array([0.0, 0.25, 0.5, 0.75, 1.0]))
    assert np.allclose(pts, [[0, 0], [0.5, 0], [1, 0], [1, 1.5], [1, 3]])
    assert np.allclose(along(np.zeros((3, 2)), np.array([0.3])), [[0, 0]])
    assert np.allclose(along(np.ones((1, 2)), np.array([0.0, 1.0])), [[1, 1], [1, 1]])  # a one-cell chain


def test_connect_joins_components_by_their_shortest_edge():
    R = np.array([[0.0], [1.0], [10.0], [11.0], [30.0]])
    G = sp.csr_matrix((np.ones(2), ([0, 2], [1, 3])), shape=(5, 5))
    G = _connect(G.maximum(G.T).tocsr(), R)
    from scipy.sparse.csgraph import connected_components

    assert connected_components(G, directed=False)[0] == 1
    assert G[1, 2] == pytest.approx(81.0) or G[2, 1] == pytest.approx(81.0)  # 1 -> 10 is the shortest bridge


def test_chains_go_through_training_cells(tiny_model):
    R = tiny_model.reference["space"].astype(np.float64)
    codes = tiny_model.reference["label_cell_type"]
    a, b = R[codes == 0][:5], R[codes == 1][:5]
    lines, longest = chains(tiny_model, a, b, 10)
    assert len(lines) == 5 and longest > 0
    for line, x, y in zip(lines, a, b):
        assert np.allclose(line[0], x) and np.allclose(line[-1], y)
        inner = line[1:-1]  # every vertex in between is a stored training cell
        d = ((inner[:, None, :] - R[None]) ** 2).sum(-1).min(1)
        assert np.allclose(d, 0.0)
    G, _, _ = reference_graph(tiny_model, 10)
    assert reference_graph(tiny_model, 10)[0] is G  # cached per model and k
    # the graph joins cells in the expression PCA of the reference map, as scanpy's neighbours do
    assert np.array_equal(graph_coordinates(tiny_model), tiny_model.reference["pcs"].astype(np.float64))
    P = graph_coordinates(tiny_model)
    rows, cols = G.nonzero()
    assert np.allclose(np.asarray(G[rows, cols]).ravel(), ((P[rows] - P[cols]) ** 2).sum(1), rtol=1e-4, atol=1e-6)


def test_local_labels_are_the_make_up_of_the_nearest_training_cells(tiny_model):
    R = tiny_model.reference["space"].astype(np.float64)
    codes = tiny_model.reference["label_cell_type"]
    y = local_labels(tiny_model, "cell_type", R[:50]).numpy()
    assert y.shape == (50, len(tiny_model.config["vocab"]["cell_type"]))
    assert np.allclose(y.sum(1), 1.0) and np.all(np.isclose(y * LOCAL_CELLS, np.round(y * LOCAL_CELLS)))
    assert np.all(y[np.arange(50), codes[:50]] >= 1.0 / LOCAL_CELLS)  # a training cell counts among its own neighbours
    # away from the cluster borders the make-up is the cluster's own label
    assert (y.argmax(1) == codes[:50]).mean() > 0.8


def test_local_weight_changes_the_condition_not_the_chain(tiny_model):
    kw = dict(method="manifold", n_points=3, cells_per_point=30, seed=0, t_start=0.2)
    ends = tiny_model.trajectory("cell_type", "A", "C", local_weight=0.0, **kw)
    local = tiny_model.trajectory("cell_type", "A", "C", local_weight=1.0, **kw)
    assert ends.uns["scdiff"]["local_weight"] == 0.0 and local.uns["scdiff"]["local_weight"] == 1.0
    assert ends.uns["scdiff"]["mean_chain_cells"] == local.uns["scdiff"]["mean_chain_cells"]
    assert not np.array_equal(np.asarray(ends.X), np.asarray(local.X))
    default = tiny_model.trajectory("cell_type", "A", "C", **kw)
    assert default.uns["scdiff"]["local_weight"] == 0.5


def _pred_share(model, X, label):
    return float((model.predict_labels(X)["predicted_cell_type"] == label).mean())


def test_manifold_path_moves_from_start_to_end(tiny_model):
    tr = tiny_model.trajectory("cell_type", "A", "B", method="manifold", n_points=5, cells_per_point=40, seed=0,
                               t_start=0.2)  # the tiny model drifts when it re-draws from more noise
    assert tr.n_obs == 200 and tr.uns["scdiff"]["method"] == "manifold"
    assert {"lambda", "point", "start_cell", "end_cell"} <= set(tr.obs)
    lam = tr.obs["lambda"].to_numpy()
    shares = [_pred_share(tiny_model, tr.X[lam == v], "B") for v in np.unique(lam)]
    # the decoder samples counts, so even B's own training cells, decoded, are not all called B
    own_b = _pred_share(tiny_model, tiny_model.from_space(
        torch.from_numpy(tiny_model.reference["space"][tiny_model.reference["label_cell_type"] == 1]),
        np.random.default_rng(0)).X, "B")
    assert shares[0] < 0.3 and shares[-1] > own_b - 0.15, (shares, own_b)
    assert np.corrcoef(np.arange(5), shares)[0, 1] > 0.8, shares
    again = tiny_model.trajectory("cell_type", "A", "B", method="manifold", n_points=5, cells_per_point=40, seed=0,
                                  t_start=0.2)
    assert np.array_equal(np.asarray(tr.X), np.asarray(again.X))  # same seed, same cells


def test_manifold_ends_reproduce_the_sets(tiny_model):
    """λ = 0 re-draws the start set's own cells and λ = 1 the end set's: their label make-up comes back."""
    ids = list(tiny_model.config["split"]["train"])
    codes = tiny_model.reference["label_cell_type"]
    a_ids = [ids[i] for i in np.flatnonzero(codes == 0)[:30]]
    c_ids = [ids[i] for i in np.flatnonzero(codes == 2)[:30]]
    start = cell_set(tiny_model, a_ids, label="A", column="cell_type")
    end = cell_set(tiny_model, c_ids, column="cell_type", name="my C cells")  # an unlabelled end
    tr = tiny_model.trajectory("cell_type", start, end, method="manifold", n_points=3, cells_per_point=60,
                               t_start=0.2, seed=1)
    lam = tr.obs["lambda"].to_numpy()
    own_a = _pred_share(tiny_model, tiny_model.from_space(torch.from_numpy(start.vectors),
                                                          np.random.default_rng(0)).X, "A")
    own_c = _pred_share(tiny_model, tiny_model.from_space(torch.from_numpy(end.vectors),
                                                          np.random.default_rng(0)).X, "C")
    assert _pred_share(tiny_model, tr.X[lam == 0], "A") > own_a - 0.15
    assert _pred_share(tiny_model, tr.X[lam == 1], "C") > own_c - 0.15
    assert tr.uns["scdiff"]["end"] == "my C cells"


@pytest.mark.parametrize("kwargs,msg", [
    (dict(neighbors=2), "neighbors"),
    (dict(neighbors=1.5), "neighbors"),
    (dict(neighbors=True), "neighbors"),
    (dict(t_start=0.0), "t_start"),
    (dict(local_weight=1.5), "local_weight"),
    (dict(local_weight=-0.1), "local_weight"),
    (dict(local_weight=True), "local_weight"),
    (dict(local_weight="half"), "local_weight"),
    (dict(local_weight=float("nan")), "local_weight"),
    (dict(pairing="matched"), "no option"),
])
def test_bad_manifold_requests(tiny_model, kwargs, msg):
    kw = dict(method="manifold", n_points=2, cells_per_point=2)
    kw.update(kwargs)
    with pytest.raises(ScdiffError, match=msg):
        tiny_model.trajectory("cell_type", "A", "B", **kw)


def test_gene_space_models_are_told_to_use_another_method(tiny_model):
    class NoCells:
        reference = {}
        conditions = tiny_model.conditions
        config = tiny_model.config

        def __getattr__(self, name):
            return getattr(tiny_model, name)

    from scdiff_core.trajectory.manifold import manifold_path

    with pytest.raises(ScdiffError, match="method='inversion'"):
        manifold_path(NoCells(), "cell_type", "A", "B", n_points=2, cells_per_point=2, start_cells="generated")
