"""Unseen combinations: a paul15 model trained with every cell of a cluster × phase combination held
out generates that combination; how often are the cells of the cluster (label classifier) and of the
phase (cell-cycle scoring of the generated cells together with the training cells), and how well
are they told from the held-out real cells of the combination (RF AUROC)?

Selection discipline: the guidance method and strengths for unseen combinations are chosen on a
*validation* model that holds out two other combinations (10GMP × G2M, 14Mo × S); the final figure
for 7MEP × G2M is measured once, with the chosen setting, on a model that never saw it:

    scdiff train --data paul15 --conditions paul15_clusters,phase --exclude paul15_clusters=10GMP,phase=G2M \\
        --exclude paul15_clusters=14Mo,phase=S --out runs/paul15_val_unseen
    python benchmarks/unseen.py --select --checkpoint runs/paul15_val_unseen      # every setting, both combos
    scdiff train --data paul15 --conditions paul15_clusters,phase --exclude paul15_clusters=7MEP,phase=G2M \\
        --out runs/paul15_no_mep_g2m
    python benchmarks/unseen.py --checkpoint runs/paul15_no_mep_g2m                 # defaults + the chosen one

Excluded combinations go to the test part of the split in full (scdiff_core/data/split.py), so the
real cells of a held-out combination are never seen in training or calibration.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.common import machine, save_json, set_threads  # noqa: E402

#: Settings tried on the validation model: (guidance, {column: strength} or None for the checkpoint's defaults).
CANDIDATES = [("free", None), ("chained", None), ("classifier", None),
              ("free", (1.0, 1.0)), ("free", (1.0, 2.0)),
              ("chained", (1.0, 1.0)), ("chained", (1.0, 2.0)), ("chained", (1.0, 3.0)), ("chained", (1.5, 2.0)),
              ("chained", (1.5, 3.0)), ("chained", (2.0, 2.0)), ("chained", (2.0, 4.0)),
              ("classifier", (2.0, 2.0)), ("classifier", (2.0, 5.0))]


def score(m, held, key: str, cluster: str, phase: str, guidance: str, scales, cells: int, seed: int) -> dict:
    import numpy as np

    from scdiff_core.metrics import evaluate, score_phases

    t = held.test
    real = t[(t.obs[key].astype(str) == cluster) & (t.obs["phase"].astype(str) == phase)].copy()
    combo = {key: cluster, "phase": phase}
    sc = None if scales is None else {key: float(scales[0]), "phase": float(scales[1])}
    g = m.generate(combo, cells, guidance=guidance, scales=sc, seed=seed)
    rep = evaluate(g, train=held.train, test=real, control=None, label_key=key, phase_key="phase",
                   min_label_cells=10**9, seed=seed, reference=held.reference)
    s = rep.summary().iloc[0].to_dict()
    # fidelities on all generated cells (the row above subsamples to the real cells' number)
    clu = float((np.asarray(held.reference.predict_labels(held.reference.project(g))) == cluster).mean())
    pha = float((score_phases(g, held.train, seed=seed) == phase).mean())
    return {"combination": f"{cluster} x {phase}", "guidance": guidance,
            "scales": sc or {"defaults": m.default_scales(guidance)},
            "cluster_fidelity": clu, "phase_fidelity": pha, "rf_auroc_vs_real_combo": s["rf_auroc"],
            "mmd2_vs_real_combo": s["mmd2"], "n_real": int(real.n_obs)}


def real_row(held, key: str, cluster: str, phase: str, seed: int) -> dict:
    import numpy as np

    from scdiff_core.metrics import score_phases

    t = held.test
    real = t[(t.obs[key].astype(str) == cluster) & (t.obs["phase"].astype(str) == phase)].copy()
    return {"combination": f"{cluster} x {phase}",
            "cluster_fidelity": float((np.asarray(held.reference.predict_labels(held.reference.project(real)))
                                       == cluster).mean()),
            "phase_fidelity": float((score_phases(real, held.train, seed=seed) == phase).mean()),
            "n_real": int(real.n_obs)}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--select", action="store_true",
                    help="validation model: score every candidate setting on each of its excluded combinations")
    ap.add_argument("--chosen", default=None, metavar="GUIDANCE[:W_CLUSTER,W_PHASE]",
                    help="final model: the setting chosen on the validation model, scored once next to the defaults")
    ap.add_argument("--try", dest="extra", nargs="+", default=None, metavar="GUIDANCE:W_CLUSTER,W_PHASE",
                    help="with --select: these settings instead of the built-in candidates (rows are added to the file)")
    ap.add_argument("--cells", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    set_threads(2)
    from scdiff_core.evaluation import HeldOut
    from scdiff_core.model import SCDiffModel

    m = SCDiffModel.load(a.checkpoint)
    held = HeldOut(m)
    key = held.label_key
    combos = [(c[key], c["phase"]) for c in m.config["excluded_combinations"]]
    if not combos:
        sys.exit(f"{a.checkpoint} held out no combination in training (scdiff train --exclude).")
    for cl, ph in combos:
        assert not m.is_seen({key: cl, "phase": ph}), "this checkpoint saw the combination in training"
    def parse(x: str):
        g, _, w = x.partition(":")
        return g, tuple(float(v) for v in w.split(",")) if w else None

    if a.select:
        settings = [parse(x) for x in a.extra] if a.extra else CANDIDATES
    else:
        settings = [("free", None), ("classifier", None), ("chained", None)]
        if a.chosen:
            settings.append(parse(a.chosen))
    rows, real = [], []
    for cl, ph in combos:
        real.append(real_row(held, key, cl, ph, a.seed))
        print("real held-out combination:", real[-1])
        for guidance, scales in settings:
            rows.append(score(m, held, key, cl, ph, guidance, scales, a.cells, a.seed))
            print(rows[-1], flush=True)
    role = "validation (choices)" if a.select else "final (measured once)"
    name = f"unseen{'_select' if a.select else ''}_{Path(a.checkpoint).name}"
    if a.select and a.extra:  # a further round of choices: keep the earlier rows
        from benchmarks.common import RESULTS
        import json

        prev = RESULTS / f"{name}.json"
        if prev.exists():
            rows = json.loads(prev.read_text())["rows"] + rows
    save_json(name,
              {"checkpoint": a.checkpoint, "role": role, "combinations": [f"{c} x {p}" for c, p in combos],
               "rows": rows, "real": real, "chosen": a.chosen, "machine": machine()})


if __name__ == "__main__":
    main()
