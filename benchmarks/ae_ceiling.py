"""How good can a checkpoint's decoder be? (issue 7 item 8: the autoencoder's ceiling)

    python benchmarks/ae_ceiling.py --checkpoint checkpoints/paul15 [--against val]

Training cells are encoded, decoded and *sampled* — the cells a perfect latent generator would
produce — and compared with held-out real cells (``--against val``: the validation cells, for
choices; ``test`` for a final figure), with the same protocol as every table (docs/evaluation.md;
RF AUROC, MMD², zeros per gene). The decoded *means* (no sampling) are scored too. Count models are
decoded with each cell's own library (``obs['total_counts']``, over all its genes), as generation
decodes them.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.common import machine, save_json, set_threads  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--against", choices=["val", "test"], default="val")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--name")
    a = ap.parse_args()
    set_threads(2)
    import anndata as ad
    import numpy as np
    import torch

    from scdiff_core.common import LIBRARY_KEY
    from scdiff_core.data import lognormalize
    from scdiff_core.evaluation import HeldOut
    from scdiff_core.metrics import evaluate
    from scdiff_core.model import SCDiffModel

    m = SCDiffModel.load(a.checkpoint)
    h = HeldOut(m)
    real = h.val if a.against == "val" else h.test
    tr = h.train
    lib = tr.obs[LIBRARY_KEY].to_numpy(np.float32) if m.diffusion_space.has_library else None
    v = torch.from_numpy(m.to_space(np.asarray(tr.X), lib))
    rows = {}
    for seed in a.seeds:
        X = m.from_space(v, np.random.default_rng(seed)).X
        rep = evaluate(ad.AnnData(X, obs=tr.obs.copy(), var=tr.var.copy()), train=tr, test=real, control=None,
                       label_key=h.label_key, seed=seed, per_label=False)
        rows[f"sampled_seed{seed}"] = {k: float(rep.summary().iloc[0][k]) for k in ("rf_auroc", "mmd2", "zero_frac_gap")}
        print("decoded samples of training cells, seed", seed, rows[f"sampled_seed{seed}"], flush=True)
    ae = m.autoencoder
    with torch.no_grad():
        p = ae.decode(ae.encode(torch.from_numpy(np.asarray(tr.X))), torch.from_numpy(lib) if lib is not None else None)
    mean = (lognormalize(p["mu"][:, :ae.n_genes].numpy()) if ae.is_count_model
            else (p["mu"] * torch.sigmoid(p["nonzero_logits"])).numpy())
    rep = evaluate(ad.AnnData(mean.astype(np.float32), obs=tr.obs.copy(), var=tr.var.copy()), train=tr, test=real,
                   control=None, label_key=h.label_key, seed=0, per_label=False)
    rows["means"] = {k: float(rep.summary().iloc[0][k]) for k in ("rf_auroc", "mmd2", "zero_frac_gap")}
    print("decoded means", rows["means"])
    auc = [r["rf_auroc"] for k, r in rows.items() if k.startswith("sampled")]
    out = {"checkpoint": a.checkpoint, "against": a.against, "rows": rows, "rf_auroc_mean": float(np.mean(auc)),
           "rf_auroc_sd": float(np.std(auc, ddof=1)) if len(auc) > 1 else 0.0,
           "decoder_refit": m.config["training"]["autoencoder"].get("decoder_refit"), "machine": machine()}
    print("ceiling RF AUROC", round(out["rf_auroc_mean"], 3), "±", round(out["rf_auroc_sd"], 3))
    save_json(a.name or f"ae_ceiling_{Path(a.checkpoint).name}_{a.against}", out)


if __name__ == "__main__":
    main()
