"""Starting the encoder from a pretrained one (scdiff_core.encoder_init): conversion, alignment, training."""
import json

import numpy as np
import pytest
import torch
from torch import nn

from scdiff_core.errors import ScdiffError


def _scimilarity_encoder(n_genes, hidden=(16, 12), latent=6, seed=0):
    """An encoder in SCimilarity's published layout: Dropout, Linear, BatchNorm1d, PReLU blocks + Linear."""
    torch.manual_seed(seed)
    blocks, d = [], n_genes
    for h in hidden:
        blocks.append(nn.Sequential(nn.Dropout(0.4), nn.Linear(d, h), nn.BatchNorm1d(h), nn.PReLU()))
        d = h
    net = nn.Module()
    net.network = nn.ModuleList(blocks + [nn.Linear(d, latent)])
    for b in blocks:  # non-trivial running statistics, as a trained model has
        b[2].running_mean.uniform_(-1, 1)
        b[2].running_var.uniform_(0.5, 2)
    return net


def _save(net, path):
    """Save as a user does after converting a published checkpoint (README one-liner), Lightning prefix included."""
    from safetensors.torch import save_file

    save_file({f"encoder.{k}": v.contiguous() for k, v in net.state_dict().items()}, str(path))


@pytest.fixture
def converted(tmp_path):
    genes = [f"Gene{i}" for i in range(30)]
    net = _scimilarity_encoder(len(genes))
    _save(net, tmp_path / "encoder.safetensors")
    (tmp_path / "gene_order.tsv").write_text("\n".join(genes) + "\n")
    from scdiff_core.encoder_init import convert_encoder

    return convert_encoder(tmp_path / "encoder.safetensors", tmp_path / "gene_order.tsv", tmp_path / "enc"), net, genes


def test_conversion_folds_batchnorm_and_keeps_the_genes(converted):
    from scdiff_core.encoder_init import load_pretrained

    out, net, genes = converted
    layers, pre_genes = load_pretrained(out)
    assert pre_genes == genes and [W.shape for W, _ in layers] == [(16, 30), (12, 16), (6, 12)]
    blk = net.network[0].eval()
    x = torch.randn(5, 30)
    W, b = layers[0]
    np.testing.assert_allclose((x @ W.T + b).numpy(), blk[2](blk[1](x)).detach().numpy(), atol=1e-5)


def test_genes_aligned_by_name_reordered_missing_and_extra(converted):
    from scdiff_core.autoencoder import Autoencoder
    from scdiff_core.encoder_init import init_encoder, load_pretrained

    out, _, genes = converted
    layers, _ = load_pretrained(out)
    ours = ["gene5", "Gene2", "NotInModel", "Gene29"]  # reordered, other casing, one unknown
    ae = Autoencoder(len(ours), 6, [16, 12], "nb")
    info = init_encoder(ae, out, ours)
    assert info["genes_matched"] == 3 and info["genes_missing"] == 1 and info["missing_examples"] == ["NotInModel"]
    W = ae.encoder_body[0].weight.detach()
    for j, src in ((0, 5), (1, 2), (3, 29)):
        np.testing.assert_allclose(W[:, j].numpy(), layers[0][0][:, src].numpy())
    assert torch.all(W[:, 2] == 0)
    np.testing.assert_allclose(ae.encoder_out.weight.detach().numpy(), layers[2][0].numpy())


def test_widths_that_differ_and_no_shared_gene_are_refused(converted):
    from scdiff_core.autoencoder import Autoencoder
    from scdiff_core.encoder_init import init_encoder

    out, _, _ = converted
    with pytest.raises(ScdiffError, match="do not match"):
        init_encoder(Autoencoder(4, 6, [8], "nb"), out, ["Gene1"] * 4)
    with pytest.raises(ScdiffError, match="None of the data's genes"):
        init_encoder(Autoencoder(2, 6, [16, 12], "nb"), out, ["X", "Y"])


def test_a_converted_encoder_is_checked_by_its_hash(converted):
    from scdiff_core.encoder_init import ENCODER_WEIGHTS, load_pretrained

    out, _, _ = converted
    p = out / ENCODER_WEIGHTS
    p.write_bytes(p.read_bytes()[:-1] + b"\x00")
    with pytest.raises(ScdiffError, match="sha256"):
        load_pretrained(out)


def test_conversion_refuses_what_it_cannot_read_safely(tmp_path):
    import pickle

    from safetensors.torch import save_file

    from scdiff_core.encoder_init import convert_encoder

    class Evil:
        def __reduce__(self):
            return (print, ("ran",))

    (tmp_path / "g.tsv").write_text("A\n")
    for name in ("bad.ckpt", "bad.pt", "bad.pth"):  # pickle-based files are refused before a byte is read
        (tmp_path / name).write_bytes(pickle.dumps({"network.0.1.weight": Evil()}))
        with pytest.raises(ScdiffError, match="does not unpickle.*README"):
            convert_encoder(tmp_path / name, tmp_path / "g.tsv", tmp_path / "o")
    (tmp_path / "junk.safetensors").write_bytes(b"not a safetensors file at all")
    with pytest.raises(ScdiffError, match="could not be read as safetensors"):
        convert_encoder(tmp_path / "junk.safetensors", tmp_path / "g.tsv", tmp_path / "o")
    save_file({"foo": torch.zeros(2)}, str(tmp_path / "other.safetensors"))
    with pytest.raises(ScdiffError, match="SCimilarity encoder layout"):
        convert_encoder(tmp_path / "other.safetensors", tmp_path / "g.tsv", tmp_path / "o")
    _save(_scimilarity_encoder(3), tmp_path / "enc.safetensors")
    with pytest.raises(ScdiffError, match="lists 1 genes but the encoder takes 3"):
        convert_encoder(tmp_path / "enc.safetensors", tmp_path / "g.tsv", tmp_path / "o")
    assert not (tmp_path / "o").exists()  # nothing written for a refused input


def test_training_starts_from_another_checkpoints_encoder(tiny_prep, tiny_model_dir, tiny_model, tmp_path, tiny_config):
    from scdiff_core.model import SCDiffModel
    from scdiff_core.training import TrainConfig, train

    cfg = TrainConfig(**{**tiny_config, "encoder_init": str(tiny_model_dir), "ae_epochs": 1, "diffusion_iters": 20,
                         "classifier_iters": 10, "latent_dim": 4, "ae_hidden": (8,)})
    train(tiny_prep, tmp_path / "m", cfg)
    m = SCDiffModel.load(tmp_path / "m")
    init = m.config["training"]["autoencoder"]["encoder_init"]
    assert init["genes_matched"] == len(tiny_model.genes) and init["genes_missing"] == 0
    # widths come from the pretrained encoder, not from the config
    assert m.autoencoder.hparams()["hidden"] == tiny_model.autoencoder.hparams()["hidden"]
    assert m.autoencoder.latent_dim == tiny_model.autoencoder.latent_dim
    assert m.generate({}, 5, seed=0).n_obs == 5


def test_cli_convert_encoder(converted, tmp_path, capsys):
    from scdiff_core.cli import main

    src = converted[0].parent
    assert main(["convert-encoder", "--weights", str(src / "encoder.safetensors"), "--genes", str(src / "gene_order.tsv"),
                 "--out", str(tmp_path / "c")]) == 0
    assert json.loads((tmp_path / "c" / "encoder.json").read_text())["latent_dim"] == 6
    assert main(["convert-encoder", "--weights", str(tmp_path / "none.safetensors"), "--genes", "x", "--out", "y"]) == 2
    assert main(["convert-encoder", "--weights", str(tmp_path / "enc.ckpt"), "--genes", "x", "--out", "y"]) == 2
    assert "error:" in capsys.readouterr().err
