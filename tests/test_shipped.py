"""The shipped checkpoints load (hashes verified), describe themselves, generate and interpolate;
and one end-to-end path on real data (train → generate → evaluate) on pbmc68k."""
from pathlib import Path

import numpy as np
import pytest

from scdiff_core.model import SCDiffModel

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = sorted(p for p in (ROOT / "checkpoints").iterdir() if (p / "config.json").exists())


def test_default_checkpoints_are_shipped():
    names = {p.name for p in SHIPPED}
    assert {"pbmc68k", "paul15"} <= names
    for p in SHIPPED:
        size = sum(f.stat().st_size for f in p.iterdir())
        assert size <= 20 * 2**20, f"{p.name} is {size / 2**20:.1f} MB"


@pytest.mark.parametrize("path", SHIPPED, ids=[p.name for p in SHIPPED])
def test_shipped_checkpoint_generates(path):
    m = SCDiffModel.load(path)
    assert m.config["command"].startswith("scdiff train")
    col = m.conditions[0]
    value = max(m.vocab[col], key=lambda v: m.config["counts"][col][v])
    for guidance in ("free", "classifier"):
        a = m.generate({col: value, "phase": "G1"}, 64, guidance=guidance, steps=20, seed=0)
        assert a.shape == (64, len(m.genes)) and np.isfinite(a.X).all()
        zeros = (a.X == 0).mean()
        assert 0.3 < zeros < 0.95  # sampled observations, not smooth means
    other = [v for v in m.vocab[col] if v != value][0]
    tr = m.trajectory(col, value, other, n_points=3, cells_per_point=8, steps=20)
    assert tr.n_obs == 24 and "X_umap_ref" in tr.obsm


@pytest.mark.slow
def test_end_to_end_on_pbmc68k(tmp_path):
    """Train a small model on real data, generate per label, evaluate against held-out cells."""
    from scdiff_core.data import load_prepared
    from scdiff_core.evaluation import HeldOut
    from scdiff_core.training import TrainConfig, train

    prep = load_prepared("pbmc68k", ["bulk_labels"])
    cfg = TrainConfig(ae_epochs=60, diffusion_iters=1500, classifier_iters=300)
    train(prep, tmp_path / "m", cfg)
    m = SCDiffModel.load(tmp_path / "m")
    held = HeldOut(m)
    gen = m.generate([({"bulk_labels": k}, n) for k, n in held.test_counts().items()], seed=0)
    rep = held.evaluate(gen, per_label=False)
    s = rep.summary().set_index("set")
    # a briefly trained model is far from the shipped one, but it must beat nonsense by a margin
    assert s.loc["generated", "rf_auroc"] < 0.9
    assert s.loc["generated", "scc_means"] > 0.9
    assert abs(s.loc["generated", "zeros_gen"] - s.loc["generated", "zeros_real"]) < 0.1
