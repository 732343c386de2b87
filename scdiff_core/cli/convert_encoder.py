"""``scdiff convert-encoder``: a foundation model's encoder (SCimilarity layout) → safetensors + JSON, once."""
from __future__ import annotations

import argparse

HELP = "convert a pretrained SCimilarity-layout encoder for --encoder-init"


def add_parser(sub) -> None:
    c = sub.add_parser("convert-encoder", help=HELP,
                       description="Read a SCimilarity-layout MLP encoder (its state dict as .safetensors; a "
                                   "pickle-based .ckpt/.pt is refused: convert it once with the README's one line) "
                                   "and its gene order file, and write a folder (encoder.safetensors + encoder.json with the genes "
                                   "and a sha256) that `scdiff train --encoder-init FOLDER` starts from.",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    c.add_argument("--weights", required=True, help="the encoder's state dict as .safetensors (e.g. encoder.safetensors)")
    c.add_argument("--genes", required=True, help="its gene order file (e.g. gene_order.tsv, one gene per line)")
    c.add_argument("--out", required=True, help="folder to write")
    c.set_defaults(func=run)


def run(a) -> int:
    import json

    from ..encoder_init import ENCODER_META, convert_encoder

    out = convert_encoder(a.weights, a.genes, a.out)
    meta = json.loads((out / ENCODER_META).read_text())
    print(f"wrote {out}: {len(meta['genes']):,} genes, hidden {meta['hidden']}, code {meta['latent_dim']}")
    return 0
