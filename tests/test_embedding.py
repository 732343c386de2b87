"""The reference map (scdiff_core.embedding): cells placed as UMAP's transform places them."""
import numpy as np

from scdiff_core.embedding import ReferenceMap, fuzzy_memberships, umap_curve


def _two_clusters():
    """Training cells in two overlapping groups, 4 apart in 'PCA' space (identity PCA), 8 apart on the map."""
    rng = np.random.default_rng(0)
    pcs = np.concatenate([rng.normal(0, 1, (150, 5)), rng.normal(0, 1, (150, 5)) + [4, 0, 0, 0, 0]])
    umap = np.concatenate([rng.normal(0, 0.5, (150, 2)), rng.normal(0, 0.5, (150, 2)) + [8, 0]])
    return ReferenceMap(np.zeros(5, np.float32), np.eye(5, dtype=np.float32), pcs.astype(np.float32), umap), pcs, umap


def test_memberships_follow_umaps_normalisation():
    d = np.sort(np.random.default_rng(1).random((20, 15)), axis=1)
    w = fuzzy_memberships(d)
    assert np.allclose(w[:, 0], 1.0) and (w <= 1).all() and (w > 0).all()
    assert np.allclose(w.sum(1), np.log2(15), atol=1e-3)
    a, b = umap_curve(0.1)
    assert abs(a - 1.58) < 0.05 and abs(b - 0.90) < 0.05  # umap's find_ab_params for min_dist 0.1


def test_a_cell_between_clusters_goes_to_the_one_it_resembles():
    rm, pcs, umap = _two_clusters()
    between = np.array([[1.6, 0, 0, 0, 0], [2.4, 0, 0, 0, 0]], np.float32)  # nearer the first, nearer the second
    mean = rm.project(between, how="mean")
    placed = rm.project(between)
    # the plain mean of mixed neighbours leaves them part-way into the gap (measured x 0.81 and 6.67);
    # the layout pulls each into the cluster it is nearer to (-0.76 and 7.51; centres at 0 and 8)
    assert abs(placed[0, 0]) < abs(mean[0, 0]) and abs(placed[0, 0]) < 1.0
    assert abs(placed[1, 0] - 8) < abs(mean[1, 0] - 8) and abs(placed[1, 0] - 8) < 1.0
    assert np.array_equal(placed, rm.project(between))  # deterministic


def test_training_cells_land_near_their_own_positions():
    rm, pcs, umap = _two_clusters()
    y = rm.project(pcs[:40].astype(np.float32))
    err = np.linalg.norm(y - umap[:40], axis=1)
    spread = np.linalg.norm(umap[:150] - umap[:150].mean(0), axis=1).mean()
    assert np.median(err) < spread  # within their own cluster's spread of their own place
    assert rm.project(np.zeros((0, 5), np.float32)).shape == (0, 2)


def test_a_cell_lands_in_the_same_place_whatever_cells_come_with_it():
    rm, pcs, _ = _two_clusters()
    x = (pcs[:30] + 0.3).astype(np.float32)
    together = rm.project(x)
    alone = np.concatenate([rm.project(x[i:i + 1]) for i in range(len(x))])
    assert np.allclose(together, alone, atol=1e-5)
    assert np.allclose(rm.project(x[10:20]), together[10:20], atol=1e-5)
