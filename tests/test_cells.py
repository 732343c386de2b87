"""Training cells in memory and on disk (scdiff_core.cells) and training from data read in chunks."""
import numpy as np
import pytest
import torch

from scdiff_core.errors import ScdiffError

FAST = dict(ae_epochs=3, diffusion_iters=30, classifier_iters=10, latent_dim=4, ae_hidden=(16,),
            backbone_hparams={"widths": [16, 16]}, classifier_hidden=(16,), save_every=1000, calibrate=False)


@pytest.fixture(scope="module")
def both(synthetic_path, tmp_path_factory):
    """The same file prepared in memory and in chunks (a small chunk size: several chunks)."""
    from scdiff_core.data import load_prepared
    from scdiff_core.data.chunked import prepare_chunked

    conds = ["cell_type", "phase"]
    mem = load_prepared(str(synthetic_path), conds)
    disk = prepare_chunked(synthetic_path, conds, workdir=tmp_path_factory.mktemp("prep"), chunk_cells=70)
    return mem, disk


def test_memory_and_store_rows_give_the_same_cells(both):
    from scdiff_core.cells import MemoryRows, StoreRows

    mem, disk = both
    assert list(mem.adata.obs_names) == list(disk.adata.obs_names) and mem.genes == disk.genes
    m = MemoryRows.from_adata(mem.adata, counts=True)
    s = StoreRows(disk.store, np.arange(disk.adata.n_obs))
    idx = torch.tensor([5, 0, 299, 5, 17])  # any order, repeats allowed (a shuffled batch)
    a, b = m.rows(idx), s.rows(idx)
    for x, y in zip(a, b):
        np.testing.assert_allclose(x.numpy(), y.numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(m.positive_floor(), s.positive_floor(), rtol=1e-5)
    assert sum(c.X.shape[0] for c in s.chunks(64)) == s.n  # chunks cover every cell once
    assert list(s.sample(1000, 0)) == list(range(s.n))
    sub = s.sample(50, 0)
    assert len(sub) == 50 and np.all(np.diff(sub) > 0) and list(sub) == list(s.sample(50, 0))


def test_training_from_chunks_matches_training_in_memory(both, tmp_path):
    from scdiff_core.training import TrainConfig, train

    mem, disk = both
    a = train(mem, tmp_path / "mem", TrainConfig(**FAST))
    b = train(disk, tmp_path / "disk", TrainConfig(**FAST))
    assert a.config["split"] == b.config["split"]
    # same batches, same values up to float rounding of the normalization: close, not identical
    for (k, x), (_, y) in zip(sorted(a.autoencoder.state_dict().items()), sorted(b.autoencoder.state_dict().items())):
        np.testing.assert_allclose(x.numpy(), y.numpy(), atol=1e-3, err_msg=k)
    n_train = len(b.config["split"]["train"])
    assert sum(r[-1] for r in b.config["combination_counts"]) == n_train
    assert b.reference["umap"].shape == (n_train, 2)
    assert b.generate({"cell_type": mem.vocab["cell_type"][0]}, 20, seed=0).n_obs == 20
    assert not (tmp_path / "disk" / ".train_state").exists()


def test_reference_map_is_a_sample_above_its_cap(both, tmp_path, monkeypatch):
    import scdiff_core.training as T
    from scdiff_core.summaries import training_count

    monkeypatch.setattr(T, "REFERENCE_MAX_CELLS", 40)
    m = T.train(both[1], tmp_path / "m", T.TrainConfig(**FAST))
    assert m.reference["umap"].shape == (40, 2) and len(m.reference["label_cell_type"]) == 40
    n_train = len(m.config["split"]["train"])
    assert training_count(m, {}) == n_train  # counts come from the whole training set, not the map
    v = m.vocab["cell_type"][1]
    obs = both[0].adata.obs.loc[m.config["split"]["train"]]
    assert training_count(m, {"cell_type": v}) == int((obs["cell_type"].astype(str) == v).sum())
    # a selection on the map, and a trajectory from its cells, name the sampled cells themselves
    from scdiff_core.selection import reference_ids, selection_ids, selection_labels
    from scdiff_core.trajectory import cell_set

    ids = reference_ids(m)
    assert len(ids) == 40 and set(ids) <= set(m.config["split"]["train"])
    assert selection_ids(m, [3, 0]) == [ids[0], ids[3]]  # in reference order
    lab = selection_labels(m, [3])
    assert lab["cell_type"].iloc[0] == str(obs.loc[ids[3], "cell_type"])
    with pytest.raises(ScdiffError, match="0…39"):
        selection_ids(m, [40])
    cell_set(m, ids[:5], label=v, column="cell_type")


def test_gene_space_needs_the_data_in_memory(both, tmp_path):
    from scdiff_core.training import TrainConfig, train

    with pytest.raises(ScdiffError, match="needs the data in memory"):
        train(both[1], tmp_path / "g", TrainConfig(**{**FAST, "space": "gene", "backbone": "mlp"}))


def test_cli_trains_from_disk_and_resumes_its_prepared_data(synthetic_path, tmp_path, capsys):
    from scdiff_core.cli import main
    from scdiff_core.model import SCDiffModel

    out = tmp_path / "m"
    args = ["train", "--data", str(synthetic_path), "--conditions", "cell_type,phase", "--out", str(out),
            "--data-mode", "chunked", "--ae-epochs", "2", "--diffusion-iters", "20", "--classifier-iters", "10",
            "--latent-dim", "4", "--config", '{"calibrate": false, "ae_hidden": [16]}']
    assert main(args) == 0
    assert "in chunks" in capsys.readouterr().err
    m = SCDiffModel.load(out)
    assert m.config["data"]["preprocessing"]["data_mode"] == "chunked"
    assert not (out / ".train_state").exists()  # the prepared copy goes with the state
    # a folder holding only the prepared data of a killed run is the run's, not the user's
    from scdiff_core.outdir import check_out_dir

    (tmp_path / "k" / ".train_state" / "data").mkdir(parents=True)
    check_out_dir(tmp_path / "k")
    assert main(["train", "--data", "pbmc68k", "--conditions", "x", "--out", str(tmp_path / "z"),
                 "--data-mode", "chunked"]) == 2  # a built-in name cannot be read in chunks: a clear error
    assert "error" in capsys.readouterr().err
