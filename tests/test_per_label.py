"""One denoiser per label (scdiff_core.backbones.per_label): routing, training, saving, generating."""
import numpy as np
import pytest
import torch

from scdiff_core.backbones import build_backbone
from scdiff_core.backbones.per_label import PerLabel
from scdiff_core.errors import ScdiffError


def test_rows_go_to_their_labels_network():
    torch.manual_seed(0)
    net = build_backbone("mlp", 6, [3, 2], widths=[16, 8], per_label=True)
    assert isinstance(net, PerLabel) and len(net.nets) == 4  # three labels and "any"
    assert net.hparams["per_label"] is True and net.nets[0].n_classes == [2]  # the rest of the columns
    x, t = torch.randn(8, 6), torch.randint(0, 1000, (8,))
    cond = torch.tensor([[0, 1], [1, 0], [2, 2], [3, 1], [0, 0], [1, 1], [3, 2], [2, 0]])
    before = net(x, t, cond)
    with torch.no_grad():  # change label 1's network only
        for p in net.nets[1].parameters():
            p.add_(0.5)
    after = net(x, t, cond)
    moved = ~torch.isclose(before, after).all(1)
    assert moved.tolist() == (cond[:, 0] == 1).tolist()
    single = net.nets[2](x[2:3], t[2:3], cond[2:3, 1:])
    assert torch.allclose(after[2:3], single, atol=1e-6)  # the same as the label's own network alone
    assert net(x, t).shape == (8, 6)  # no condition: every row to the shared "any" network


def test_per_label_needs_a_column_and_a_boolean():
    with pytest.raises(ScdiffError, match="condition column"):
        build_backbone("mlp", 4, [], per_label=True)
    from scdiff_core.training import TrainConfig

    with pytest.raises(ScdiffError, match="per_label"):
        TrainConfig(backbone_hparams={"per_label": "yes"}).validate()
    TrainConfig(backbone="dit", backbone_hparams={"per_label": True, "patch_size": 2}).validate()


def test_per_label_model_trains_saves_and_generates(tiny_prep, tiny_model_dir, tmp_path, tiny_config):
    """Gene space, as scRDiT; generation for a label and for 'any', the same cells after reloading."""
    from scdiff_core.model import SCDiffModel
    from scdiff_core.training import TrainConfig, train

    cfg = TrainConfig(**{**tiny_config, "space": "gene", "diffusion_iters": 200,
                         "backbone_hparams": {"widths": [32, 16], "per_label": True}})
    m = train(tiny_prep, tmp_path / "pl", cfg)
    assert isinstance(m.denoiser, PerLabel) and len(m.denoiser.nets) == len(m.vocab["cell_type"]) + 1
    a = m.generate({"cell_type": "A"}, 12, seed=3)
    b = m.generate({"cell_type": "any"}, 5, seed=3)
    assert a.shape == (12, len(m.genes)) and b.n_obs == 5 and np.isfinite(np.asarray(a.X)).all()
    again = SCDiffModel.load(tmp_path / "pl")
    assert again.config["backbone"]["hparams"]["per_label"] is True
    assert np.allclose(np.asarray(again.generate({"cell_type": "A"}, 12, seed=3).X), np.asarray(a.X))
