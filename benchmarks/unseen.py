"""Unseen combination: a paul15 model trained with every 7MEP × G2M cell held out generates
7MEP × G2M cells; how often are they 7MEP (label classifier) and G2M (cell-cycle scoring of the
generated cells together with the training cells), against the held-out real 7MEP × G2M cells?

    scdiff train --data paul15 --conditions paul15_clusters,phase --exclude paul15_clusters=7MEP,phase=G2M \\
        --out runs/paul15_no_mep_g2m
    python benchmarks/unseen.py --checkpoint runs/paul15_no_mep_g2m
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
    ap.add_argument("--cluster", default="7MEP")
    ap.add_argument("--phase", default="G2M")
    ap.add_argument("--cells", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    set_threads(2)
    import numpy as np

    from scdiff_core.evaluation import HeldOut
    from scdiff_core.metrics import evaluate, score_phases
    from scdiff_core.model import SCDiffModel

    m = SCDiffModel.load(a.checkpoint)
    held = HeldOut(m)
    key = held.label_key
    combo = {key: a.cluster, "phase": a.phase}
    assert not m.is_seen(combo), "this checkpoint saw the combination in training"
    t = held.test
    real = t[(t.obs[key].astype(str) == a.cluster) & (t.obs["phase"].astype(str) == a.phase)].copy()
    rows = []
    settings = [("free", None), ("classifier", None),  # the checkpoint's defaults (calibrated on validation cells)
                ("free", {key: 1.0, "phase": 1.0}), ("free", {key: 1.0, "phase": 2.0}),
                ("classifier", {key: 2.0, "phase": 2.0}), ("classifier", {key: 2.0, "phase": 5.0})]
    for guidance, scales in settings:
        g = m.generate(combo, a.cells, guidance=guidance, scales=scales, seed=a.seed)
        rep = evaluate(g, train=held.train, test=real, control=None, label_key=key, phase_key="phase",
                       min_label_cells=10**9, seed=a.seed, reference=held.reference)
        s = rep.summary().iloc[0].to_dict()
        # fidelities on all generated cells (the row above subsamples to the 32 real cells)
        clu = float((np.asarray(held.reference.predict_labels(held.reference.project(g))) == a.cluster).mean())
        pha = float((score_phases(g, held.train, seed=a.seed) == a.phase).mean())
        rows.append({"guidance": guidance, "scales": scales or {"defaults": m.default_scales(guidance)},
                     "cluster_fidelity": clu,
                     "phase_fidelity": pha, "rf_auroc_vs_real_combo": s["rf_auroc"],
                     "mmd2_vs_real_combo": s["mmd2"], "n_real": int(real.n_obs)})
        print(rows[-1])
    # the real cells themselves, scored the same way (the ceiling)
    ctrl = {"cluster_fidelity": float((np.asarray(held.reference.predict_labels(held.reference.project(real)))
                                       == a.cluster).mean()),
            "phase_fidelity": float((score_phases(real, held.train, seed=a.seed) == a.phase).mean()),
            "n_real": int(real.n_obs)}
    print("real held-out combination:", ctrl)
    save_json(f"unseen_{Path(a.checkpoint).name}", {"checkpoint": a.checkpoint, "combination": combo, "rows": rows,
                                                   "real": ctrl, "machine": machine()})


if __name__ == "__main__":
    main()
