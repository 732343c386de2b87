"""Fixtures of the app tests: a tiny model trained once from a synthetic .h5ad *file* (so the
Evaluate page can re-read its held-out cells), with one condition combination (cell_type C in G2M)
left out of the data, so the Generate page has an unseen combination to mark; and the app's
folders pointed at it (a fresh user folder per test)."""
from __future__ import annotations

import pytest

TINY = dict(ae_epochs=300, diffusion_iters=600, classifier_iters=300, latent_dim=8, ae_hidden=(64,),
            backbone_hparams={"widths": [64, 64, 32]}, classifier_hidden=(64,), save_every=200,
            diffusion_batch=128)


@pytest.fixture(scope="session")
def app_dirs(tmp_path_factory):
    from scdiff_core.data import load_prepared, make_synthetic
    from scdiff_core.training import TrainConfig, train

    root = tmp_path_factory.mktemp("app")
    a = make_synthetic(n_cells=300, n_genes=60, n_types=3, seed=0)
    ph = a.obs["phase"].astype(str).to_numpy()
    ph[(a.obs["cell_type"].astype(str).to_numpy() == "C") & (ph == "G2M")] = "G1"  # (C, G2M) never seen
    a.obs["phase"] = ph
    data = root / "synthetic.h5ad"
    a.write_h5ad(data)
    prep = load_prepared(str(data), ["cell_type", "phase"])
    ckpts = root / "checkpoints"
    train(prep, ckpts / "tiny", TrainConfig(**TINY), command="pytest app model")
    return {"root": root, "checkpoints": ckpts, "data": data, "ckpt": ckpts / "tiny"}


@pytest.fixture
def env(app_dirs, monkeypatch, tmp_path):
    user = tmp_path / "models"
    user.mkdir()
    monkeypatch.setenv("SCDIFF_CHECKPOINTS", str(app_dirs["checkpoints"]))
    monkeypatch.setenv("SCDIFF_MODELS", str(user))
    monkeypatch.setenv("SCDIFF_SESSIONS", str(tmp_path / "sessions"))  # results kept on disk: per test
    monkeypatch.setenv("SCDIFF_APP_WARM_UMAP", "0")
    return {**app_dirs, "user": user}
