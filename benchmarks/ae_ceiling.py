"""How good can a checkpoint's decoder be? Encode held-out test cells, decode and *sample*,
then compare with the real test cells (the ceiling of any latent generator on this decoder),
and the same with decoded means (no sampling), next to the control row.

    python benchmarks/ae_ceiling.py --checkpoint runs/paul15
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.common import set_threads  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--checkpoint", required=True)
    a = ap.parse_args()
    set_threads(2)
    import anndata as ad
    import numpy as np
    import torch

    from scdiff_core.data import lognormalize
    from scdiff_core.evaluation import HeldOut
    from scdiff_core.model import SCDiffModel

    m = SCDiffModel.load(a.checkpoint)
    h = HeldOut(m)
    tr = h.train
    libt = tr.layers["counts"].sum(1) if "counts" in tr.layers else None
    vt = torch.from_numpy(m.to_space(np.asarray(tr.X), libt))
    Xt = m.from_space(vt, np.random.default_rng(0)).X
    rep0 = h.evaluate(ad.AnnData(Xt, obs=tr.obs.copy(), var=tr.var.copy()))
    print("decoded samples of TRAINING cells (what a perfect latent generator would give):")
    print(rep0.summary().round(3).to_string(index=False))
    src = h.val  # cells the model never saw; compared against test like the control row
    lib = src.layers["counts"].sum(1) if "counts" in src.layers else None
    v = torch.from_numpy(m.to_space(np.asarray(src.X), lib))
    X = m.from_space(v, np.random.default_rng(0)).X
    rec = ad.AnnData(X, obs=src.obs.copy(), var=src.var.copy())
    rep = h.evaluate(rec)
    print("decoded samples of held-out cells:")
    print(rep.summary().round(3).to_string(index=False))
    ae = m.autoencoder
    with torch.no_grad():
        z = ae.encode(torch.from_numpy(np.asarray(src.X)))
        p = ae.decode(z, torch.from_numpy(np.asarray(lib)) if lib is not None else None)
    mean = lognormalize(p["mu"].numpy()) if ae.is_count_model else (p["mu"] * torch.sigmoid(p["nonzero_logits"])).numpy()
    rep2 = h.evaluate(ad.AnnData(mean.astype(np.float32), obs=src.obs.copy(), var=src.var.copy()))
    print("decoded means:")
    print(rep2.summary().round(3).to_string(index=False))
    print("zeros real", float((np.asarray(h.test.X) == 0).mean()), "zeros sampled", float((X == 0).mean()))


if __name__ == "__main__":
    main()
