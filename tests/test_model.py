"""End to end on tiny synthetic data: train, save/load, generate, trajectories, bad requests."""
import numpy as np
import pytest
import torch

from scdiff_core.errors import CheckpointError, ScdiffError
from scdiff_core.model import SCDiffModel


def test_checkpoint_contents(tiny_model_dir, tiny_model):
    import json

    cfg = json.loads((tiny_model_dir / "config.json").read_text())
    for key in ("schema_version", "genes", "vocab", "counts", "split", "backbone", "training", "files", "command"):
        assert key in cfg
    assert set(cfg["split"]) == {"train", "val", "test"}
    assert not set(cfg["split"]["train"]) & set(cfg["split"]["test"])
    assert cfg["training"]["diffusion"]["loss_curve"]
    assert not (tiny_model_dir / ".train_state").exists()
    ref = tiny_model.reference
    assert ref["umap"].shape == (len(cfg["split"]["train"]), 2)
    assert "X" not in ref  # no expression matrix shipped


@pytest.mark.parametrize("guidance", ["free", "classifier"])
def test_generate_output(tiny_model, guidance):
    a = tiny_model.generate({"cell_type": "A", "phase": "S"}, 40, guidance=guidance, seed=3)
    assert a.shape == (40, len(tiny_model.genes))
    assert list(a.var_names) == tiny_model.genes
    assert (a.obs["cell_type"] == "A").all() and (a.obs["phase"] == "S").all()
    counts = a.layers["counts"]
    assert np.all(counts == np.round(counts)) and counts.min() >= 0
    # X: the sampled counts normalized by the generated library over ALL genes (scanpy's convention)
    lib = a.obs["total_counts"].to_numpy()[:, None]
    assert np.allclose(a.X, np.log1p(counts / lib * 1e4), atol=1e-4)
    assert "normalize_total" in a.uns["scdiff"]["normalization"]
    assert a.obsm["X_umap_ref"].shape == (40, 2)
    prov = a.uns["scdiff"]
    assert prov["guidance"] == guidance and prov["seed"] == 3 and len(prov["checkpoint_sha256"]) == 64


def test_same_seed_same_cells(tiny_model):
    a = tiny_model.generate({"cell_type": "B"}, 20, seed=5)
    b = tiny_model.generate({"cell_type": "B"}, 20, seed=5)
    c = tiny_model.generate({"cell_type": "B"}, 20, seed=6)
    assert np.array_equal(a.X, b.X) and not np.array_equal(a.X, c.X)


def test_groups_and_any(tiny_model):
    a = tiny_model.generate([({"cell_type": "A"}, 5), ({"cell_type": "C", "phase": "any"}, 7)], seed=0)
    assert a.n_obs == 12 and list(a.obs["cell_type"]).count("C") == 7
    assert (a.obs["phase"] == "any").all()


def test_guidance_moves_cells_towards_requested_type(tiny_model):
    """Cells generated for a type are classified (by a classifier on real cells) as that type."""
    from sklearn.linear_model import LogisticRegression

    from scdiff_core.data import make_synthetic, prepare

    real = prepare(make_synthetic(n_cells=300, n_genes=60, n_types=3, seed=0), ["cell_type", "phase"]).adata
    clf = LogisticRegression(max_iter=2000).fit(real.X, real.obs["cell_type"].astype(str))
    for guidance in ("free", "classifier"):
        acc = {}
        for t in ("A", "B", "C"):
            a = tiny_model.generate({"cell_type": t}, 60, guidance=guidance, scales=3.0, seed=1)
            acc[t] = (clf.predict(a.X) == t).mean()
        # chance is 1/3; the tiny model is trained for seconds
        assert np.mean(list(acc.values())) > 0.55 and min(acc.values()) > 0.4, (guidance, acc)


def test_trajectory(tiny_model):
    tr = tiny_model.trajectory("cell_type", "A", "B", method="gradient", n_points=5, cells_per_point=12, seed=0)
    assert tr.n_obs == 60
    assert np.allclose(sorted(tr.obs["lambda"].unique()), np.linspace(0, 1, 5))
    assert tr.uns["scdiff"]["t_start"] == 0.6
    tr2 = tiny_model.trajectory("cell_type", "A", "B", n_points=3, cells_per_point=4, guidance="free",
                                start_cells="generated", t_start=0.3, seed=0)
    assert tr2.n_obs == 12


def test_trajectory_starts_from_t_start(tiny_model, monkeypatch):
    """The sampler's first timestep is t_start·(T−1), not T−1 (scDiffusion's restart bug)."""
    import scdiff_core.model as M

    seen = {}
    real = M.make_sampler

    def spy(name, diffusion, steps, eta=0.0, t_max=None):
        s = real(name, diffusion, steps, eta=eta, t_max=t_max)
        seen["first"] = int(s.timesteps[0])
        return s

    monkeypatch.setattr(M, "make_sampler", spy)
    tiny_model.trajectory("cell_type", "A", "B", n_points=2, cells_per_point=2, t_start=0.4)
    assert seen["first"] == round(0.4 * 999)


@pytest.mark.parametrize("kwargs,msg", [
    (dict(conditions={"tissue": "x"}, n_cells=5), "no condition column"),
    (dict(conditions={"cell_type": "Z"}, n_cells=5), "not a value"),
    (dict(conditions={"cell_type": "A"}, n_cells=0), "Number of cells"),
    (dict(conditions={"cell_type": "A"}, n_cells=10**7), "At most 100,000 cells"),
    (dict(conditions={"cell_type": "A"}, n_cells=5, sampler="euler"), "Unknown sampler"),
    (dict(conditions={"cell_type": "A"}, n_cells=5, steps=0), "Steps"),
    (dict(conditions={"cell_type": "A"}, n_cells=5, guidance="magic"), "Unknown guidance"),
    (dict(conditions={"cell_type": "A"}, n_cells=5, scales={"tissue": 1.0}), "not a condition"),
    (dict(conditions={"cell_type": "A"}, n_cells=5, scales={"cell_type": float("nan")}), "between"),
])
def test_bad_generate_requests(tiny_model, kwargs, msg):
    with pytest.raises(ScdiffError, match=msg):
        tiny_model.generate(**kwargs)


def test_bad_trajectory_requests(tiny_model):
    with pytest.raises(ScdiffError, match="same"):
        tiny_model.trajectory("cell_type", "A", "A")
    with pytest.raises(ScdiffError, match="t_start"):
        tiny_model.trajectory("cell_type", "A", "B", t_start=1.5)
    with pytest.raises(ScdiffError, match="not a value"):
        tiny_model.trajectory("cell_type", "A", "Q")


def test_seen_combinations(tiny_model):
    assert tiny_model.is_seen({"cell_type": "A", "phase": "S"})
    assert tiny_model.is_seen({"cell_type": "A", "phase": None})


def test_tampered_checkpoint_refused(tiny_model_dir, tmp_path):
    import shutil

    d = tmp_path / "copy"
    shutil.copytree(tiny_model_dir, d)
    p = d / "denoiser.safetensors"
    b = bytearray(p.read_bytes())
    b[len(b) // 2] ^= 1
    p.write_bytes(bytes(b))
    with pytest.raises(CheckpointError, match="sha256"):
        SCDiffModel.load(d)


def _assert_same_weights(m1, m2):
    pairs = [(m1.denoiser, m2.denoiser), (m1.autoencoder, m2.autoencoder)]
    pairs += [(m1.classifiers[k], m2.classifiers[k]) for k in m1.classifiers]
    for a, b in pairs:
        for (k, v1), v2 in zip(a.state_dict().items(), b.state_dict().values()):
            assert torch.allclose(v1, v2, atol=1e-5), k


def test_training_resumes_after_interruption(tiny_prep, tmp_path, tiny_config):
    """Kill training mid-diffusion; running again resumes and gives the same weights as one run."""
    from scdiff_core.training import TrainConfig, train

    cfg = TrainConfig(**{**tiny_config, "diffusion_iters": 300, "classifier_iters": 50, "ae_epochs": 5, "save_every": 100})
    calls = {"n": 0}

    class Kill(Exception):
        pass

    def killer(stage, step, total, info):
        if stage == "diffusion" and step >= 200:
            raise Kill

    with pytest.raises(Kill):
        train(tiny_prep, tmp_path / "a", cfg, progress=killer)
    assert (tmp_path / "a" / ".train_state" / "diffusion.json").exists()

    def counter(stage, step, total, info):
        if stage == "diffusion":
            calls["n"] += 1
            calls.setdefault("first", step)

    m1 = train(tiny_prep, tmp_path / "a", cfg, progress=counter)
    assert calls["first"] > 200  # resumed, did not start over
    m2 = train(tiny_prep, tmp_path / "b", cfg)
    _assert_same_weights(m1, m2)


def test_training_resumes_inside_the_autoencoder_and_classifier_stages(tiny_prep, tmp_path, tiny_config):
    """A kill in any stage resumes to the same weights as an uninterrupted run."""
    from scdiff_core.training import TrainConfig, train

    cfg = TrainConfig(**{**tiny_config, "diffusion_iters": 100, "classifier_iters": 300, "ae_epochs": 30,
                         "save_every": 20})  # the autoencoder saves every 10 epochs

    class Kill(Exception):
        pass

    for stage, at in (("autoencoder", 45), ("classifier_phase", 250)):
        seen = []

        def killer(s, step, total, info, stage=stage, at=at):
            seen.append(s)
            if s == stage and step >= at:
                raise Kill

        with pytest.raises(Kill):
            train(tiny_prep, tmp_path / "a", cfg, progress=killer)
        assert stage in seen
        assert (tmp_path / "a" / ".train_state" / f"{stage}.json").exists()
    m1 = train(tiny_prep, tmp_path / "a", cfg)
    m2 = train(tiny_prep, tmp_path / "b", cfg)
    _assert_same_weights(m1, m2)


def test_predicted_labels_are_the_evaluations(tiny_model):
    """One label predictor: the app's (model.predict_labels) agrees with Evaluate's label fidelity."""
    from scdiff_core.evaluation import HeldOut

    gen = tiny_model.generate([({"cell_type": t}, 40) for t in "ABC"], seed=3)
    pred = tiny_model.predict_labels(gen.X)
    assert list(pred.columns) == [f"predicted_{c}" for c in tiny_model.conditions]
    held = HeldOut(tiny_model)
    theirs = held.reference.predict_labels(held.reference.project(gen))
    assert (pred["predicted_cell_type"].to_numpy() == theirs).mean() >= 0.98
