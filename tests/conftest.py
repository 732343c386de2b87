"""Shared fixtures: one tiny model trained once per test session on synthetic counts."""
from __future__ import annotations

import os

import pytest
import torch

torch.set_num_threads(1)
os.environ.setdefault("NUMBA_NUM_THREADS", "1")

TINY = dict(ae_epochs=300, diffusion_iters=600, classifier_iters=300, latent_dim=8, ae_hidden=(64,),
            backbone_hparams={"widths": [64, 64, 32]}, classifier_hidden=(64,), save_every=200,
            diffusion_batch=128, calibrate=False)


@pytest.fixture(scope="session")
def tiny_config():
    """The tiny model's training settings (a copy: tests override some of them)."""
    return dict(TINY)


@pytest.fixture(scope="session")
def synthetic():
    from scdiff_core.data import make_synthetic

    return make_synthetic(n_cells=300, n_genes=60, n_types=3, seed=0, counts=True)


@pytest.fixture(scope="session")
def synthetic_path(synthetic, tmp_path_factory):
    """The synthetic data as an .h5ad file (so checkpoints record a source that can be re-read)."""
    p = tmp_path_factory.mktemp("data") / "synthetic.h5ad"
    synthetic.write_h5ad(p)
    return p


@pytest.fixture(scope="session")
def tiny_prep(synthetic_path):
    from scdiff_core.data import load_prepared

    return load_prepared(str(synthetic_path), ["cell_type", "phase"])


@pytest.fixture(scope="session")
def tiny_model_dir(tiny_prep, tmp_path_factory):
    from scdiff_core.training import TrainConfig, train

    out = tmp_path_factory.mktemp("ckpt") / "tiny"
    train(tiny_prep, out, TrainConfig(**TINY), command="pytest tiny model")
    return out


@pytest.fixture(scope="session")
def tiny_model(tiny_model_dir):
    from scdiff_core.model import SCDiffModel

    return SCDiffModel.load(tiny_model_dir)
