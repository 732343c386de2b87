"""Starting the autoencoder's encoder from a pretrained one (scDiffusion starts from SCimilarity).

Two sources, both read as safetensors + JSON (nothing unpickled at training time):

* another scdiff checkpoint folder: its autoencoder's encoder;
* a foundation model's MLP encoder converted once by :func:`convert_encoder`
  (``scdiff convert-encoder``) from the published SCimilarity layout — a state dict with
  ``network.<i>.1`` Linear, ``network.<i>.2`` BatchNorm1d and ``network.<i>.3`` PReLU per hidden
  layer and a final ``network.<n>`` Linear, plus its gene order file (one gene per line). The
  state dict is read from a ``.safetensors`` file only: scdiff never unpickles a file it is
  handed, not even with PyTorch's restricted loader. A published ``.ckpt``/``.pt`` is turned
  into safetensors once by the user, with the one line in the README ("Starting from a
  pretrained encoder").

The encoder's layers are copied into :class:`~scdiff_core.autoencoder.Autoencoder`'s encoder
(Linear → LayerNorm → SiLU per hidden layer, then a Linear to the code). A converted BatchNorm
(eval statistics) is folded into its Linear, y = γ (Wx + b − μ)/√(σ² + ε) + β; activations differ
(PReLU vs SiLU), so the copy is a *start*, fine-tuned with the rest of the autoencoder. Genes are
aligned by name (case-insensitive): the first layer's column of each of the user's genes is
taken from the pretrained gene order; genes the pretrained model does not know start at zero and
are reported.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Sequence

import torch

from .errors import ScdiffError

ENCODER_WEIGHTS = "encoder.safetensors"
ENCODER_META = "encoder.json"
FORMAT = "scdiff-pretrained-encoder-1"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


PICKLE_SUFFIXES = (".ckpt", ".pt", ".pth", ".bin", ".pkl", ".pickle")


def _read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """A state dict of tensors from a ``.safetensors`` file (pickle-based files are refused)."""
    if not path.is_file():
        raise ScdiffError(f"No encoder weights at {path}. Pass the encoder's weights as a .safetensors file.")
    if path.suffix.lower() in PICKLE_SUFFIXES:
        raise ScdiffError(f"{path.name} is a pickle-based PyTorch file, and scdiff does not unpickle files it is "
                          f"handed (loading one can run code). Convert it to .safetensors once, in your own Python, "
                          f"with the one line in the README (\"Starting from a pretrained encoder\"), then pass "
                          f"the .safetensors file.")
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        sd = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as e:
        raise ScdiffError(f"{path} could not be read as safetensors ({e}); pass the encoder's weights saved with "
                          f"safetensors.torch.save_file.") from None
    return {str(k).removeprefix("encoder."): v for k, v in sd.items()}


def _scimilarity_layers(sd: dict[str, torch.Tensor]) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(W, b) per layer, BatchNorm folded in, from the SCimilarity encoder layout."""
    layers = []
    i = 0
    while f"network.{i}.1.weight" in sd:  # hidden block i: Dropout, Linear, BatchNorm1d, PReLU
        W, b = sd[f"network.{i}.1.weight"].float(), sd[f"network.{i}.1.bias"].float()
        if f"network.{i}.2.running_mean" in sd:
            g, beta = sd[f"network.{i}.2.weight"].float(), sd[f"network.{i}.2.bias"].float()
            mu, var = sd[f"network.{i}.2.running_mean"].float(), sd[f"network.{i}.2.running_var"].float()
            k = g / torch.sqrt(var + 1e-5)  # (H,)
            W, b = W * k[:, None], (b - mu) * k + beta
        layers.append((W, b))
        i += 1
    if f"network.{i}.weight" not in sd or not layers:
        keys = ", ".join(list(sd)[:6])
        raise ScdiffError(f"The state dict is not in the SCimilarity encoder layout (network.<i>.1 Linear blocks "
                          f"and a final network.<n> Linear); its first keys are: {keys}.")
    layers.append((sd[f"network.{i}.weight"].float(), sd[f"network.{i}.bias"].float()))
    for (W1, _), (W2, _) in zip(layers, layers[1:]):
        if W2.shape[1] != W1.shape[0]:
            raise ScdiffError("The encoder's layer sizes do not chain; the file is damaged.")
    return layers


def convert_encoder(weights: str | os.PathLike, gene_order: str | os.PathLike, out: str | os.PathLike) -> Path:
    """Convert a SCimilarity-layout encoder to a folder scdiff trains from (safetensors + JSON).

    Returns the folder. The gene order file has one gene per line (its first column if tab-separated).
    """
    weights, gene_order, out = Path(weights), Path(gene_order), Path(out)
    layers = _scimilarity_layers(_read_state_dict(weights))
    if not gene_order.is_file():
        raise ScdiffError(f"No gene order file at {gene_order}. Pass the model's gene_order.tsv (one gene per line).")
    genes = [ln.split("\t")[0].strip() for ln in gene_order.read_text().splitlines() if ln.strip()]
    if len(genes) != layers[0][0].shape[1]:
        raise ScdiffError(f"{gene_order} lists {len(genes)} genes but the encoder takes {layers[0][0].shape[1]} "
                          f"inputs; pass the gene order file that belongs to these weights.")
    from safetensors.torch import save_file

    from .checkpoint import write_json_atomic

    out.mkdir(parents=True, exist_ok=True)
    tensors = {f"layer{i}.{n}": t.contiguous() for i, (W, b) in enumerate(layers) for n, t in (("weight", W), ("bias", b))}
    tmp = out / f".{ENCODER_WEIGHTS}.tmp"
    save_file(tensors, str(tmp))
    os.replace(tmp, out / ENCODER_WEIGHTS)
    meta = {"format": FORMAT, "genes": genes, "hidden": [int(W.shape[0]) for W, _ in layers[:-1]],
            "latent_dim": int(layers[-1][0].shape[0]), "source": str(weights),
            "sha256": _sha256(out / ENCODER_WEIGHTS)}
    write_json_atomic(out / ENCODER_META, meta)
    return out


def load_pretrained(path: str | os.PathLike) -> tuple[list[tuple[torch.Tensor, torch.Tensor]], list[str]]:
    """(layers, genes) of a converted encoder folder or of an scdiff checkpoint's autoencoder."""
    from safetensors.torch import load_file

    path = Path(path)
    if (path / ENCODER_META).is_file():
        meta = json.loads((path / ENCODER_META).read_text())
        if meta.get("format") != FORMAT or _sha256(path / ENCODER_WEIGHTS) != meta.get("sha256"):
            raise ScdiffError(f"{path / ENCODER_WEIGHTS} does not match {ENCODER_META} (format or sha256); "
                              f"convert the encoder again with `scdiff convert-encoder`.")
        t = load_file(str(path / ENCODER_WEIGHTS))
        n = len(meta["hidden"]) + 1
        return [(t[f"layer{i}.weight"], t[f"layer{i}.bias"]) for i in range(n)], list(meta["genes"])
    if (path / "config.json").is_file():
        from .model import SCDiffModel

        m = SCDiffModel.load(path)
        if m.autoencoder is None:
            raise ScdiffError(f"{path} is a gene-space checkpoint: it has no autoencoder to start from.")
        body = [mod for mod in m.autoencoder.encoder_body if isinstance(mod, torch.nn.Linear)]
        layers = [(lin.weight.detach(), lin.bias.detach()) for lin in body]
        layers.append((m.autoencoder.encoder_out.weight.detach(), m.autoencoder.encoder_out.bias.detach()))
        return layers, m.genes
    raise ScdiffError(f"{path} is neither a converted encoder (no {ENCODER_META}) nor an scdiff checkpoint "
                      f"(no config.json). Convert a SCimilarity encoder with `scdiff convert-encoder` first.")


def pretrained_shape(path: str | os.PathLike) -> tuple[list[int], int]:
    """(hidden widths, latent size) of a pretrained encoder: the autoencoder must be built with them."""
    layers, _ = load_pretrained(path)
    return [int(W.shape[0]) for W, _ in layers[:-1]], int(layers[-1][0].shape[0])


@torch.no_grad()
def init_encoder(ae, path: str | os.PathLike, genes: Sequence[str]) -> dict:
    """Copy a pretrained encoder into ``ae``'s encoder, genes aligned by name; returns a summary.

    Raises :class:`ScdiffError` when the widths differ or no gene is shared.
    """
    layers, pre_genes = load_pretrained(path)
    linears = [m for m in ae.encoder_body if isinstance(m, torch.nn.Linear)] + [ae.encoder_out]
    shapes = [tuple(W.shape) for W, _ in layers]
    if len(linears) != len(layers) or any(lin.weight.shape[0] != W.shape[0] for lin, (W, _) in zip(linears, layers)):
        raise ScdiffError(f"The pretrained encoder's layers {[s[0] for s in shapes]} do not match this "
                          f"autoencoder's {[lin.weight.shape[0] for lin in linears]}; build it with the same hidden "
                          f"widths and latent size.")
    index = {g.upper(): i for i, g in enumerate(pre_genes)}
    cols = [index.get(str(g).upper()) for g in genes]
    found = [j for j, c in enumerate(cols) if c is not None]
    if not found:
        raise ScdiffError("None of the data's genes is among the pretrained encoder's genes (matched by name, "
                          "case-insensitive); check the species and the gene naming (symbols vs Ensembl ids).")
    W0, b0 = layers[0]
    first = torch.zeros_like(linears[0].weight)  # (H, G): genes the pretrained model does not know start at 0
    first[:, found] = W0[:, [cols[j] for j in found]]
    linears[0].weight.copy_(first)
    linears[0].bias.copy_(b0)
    for lin, (W, b) in zip(linears[1:], layers[1:]):
        lin.weight.copy_(W)
        lin.bias.copy_(b)
    missing = [str(genes[j]) for j, c in enumerate(cols) if c is None]
    return {"from": str(path), "genes_matched": len(found), "genes_missing": len(missing),
            "missing_examples": missing[:10], "pretrained_genes": len(pre_genes)}
