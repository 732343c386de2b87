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

Besides the library's guidance modes, ``--try`` takes two two-stage compositions (candidates, not
library options): ``anchor@T/MODE:W1,W2`` draws cells of the cluster alone, noises them to T·T_max
and denoises from there under the whole combination; ``switch@T/MODE:W1,W2`` guides only the
cluster above T·T_max and the whole combination below it (one pass). Each real row also scores
technical replicates of the real cells (Poisson redraws of their own counts): the fidelity a model
that draws new cells of the combination could reach (:func:`real_row`).
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
    if guidance.startswith("anchor@"):  # e.g. anchor@0.5/free: the cell type first, then re-drawn at 0.5
        t_anchor, _, mode = guidance[len("anchor@"):].partition("/")
        g = anchored(m, combo, cells, float(t_anchor), mode, sc, seed)
    elif guidance.startswith("switch@"):  # e.g. switch@0.4/free: the cell type alone above 0.4·T, all below
        t_switch, _, mode = guidance[len("switch@"):].partition("/")
        g = switched(m, combo, cells, float(t_switch), mode, sc, seed)
    else:
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


def _targets(m, combo: dict, n: int) -> tuple[list, list]:
    """One-hot targets of the whole combination, and of its first column alone (the others free)."""
    full = [m._one_hot(c, [combo.get(c)] * n) for c in m.conditions]
    return full, [y if c == m.conditions[0] else None for c, y in zip(m.conditions, full)]


def _as_cells(m, v, combo: dict, n: int, prov: dict, seed: int):
    """Diffusion vectors -> an AnnData of generated cells carrying the combination."""
    import numpy as np
    import pandas as pd

    cells = m.from_space(v, np.random.default_rng(seed))
    return m._to_anndata(cells, pd.DataFrame({c: [combo.get(c)] * n for c in m.conditions}), prov, kind="generate")


def anchored(m, combo: dict, n: int, t_anchor: float, mode: str, scales, seed: int):
    """Draw cells of the first column's value alone (classifier-free, its defaults) in the diffusion
    space, noise them to ``t_anchor``·T and denoise from there under the whole combination (``mode``,
    ``scales``)."""
    import torch

    g = torch.Generator().manual_seed(seed)
    full, alone = _targets(m, combo, n)
    free = m.default_scales("free")
    x = torch.randn(n, m.config["space_dim"], generator=g)
    v0 = m._denoise(x, alone, [free[c] for c in m.conditions], "free", "ddim", 50, 0.0, None, g, None)
    T = m.diffusion.num_timesteps
    t_a = int(round(t_anchor * (T - 1)))
    x_t = m.diffusion.q_sample(v0, torch.full((n,), t_a, dtype=torch.long), torch.randn(v0.shape, generator=g))
    sc = m._scales(scales, mode)
    v = m._denoise(x_t, full, [sc[c] for c in m.conditions], mode, "ddim", 50, 0.0, t_a, g, None)
    return _as_cells(m, v, combo, n, {"anchor": t_anchor, "guidance": mode}, seed)


def switched(m, combo: dict, n: int, t_switch: float, mode: str, scales, seed: int):
    """One DDIM pass: above ``t_switch``·T only the first column is guided (classifier-free, at its
    strength in ``scales``), below it the whole combination (``mode``, ``scales``)."""
    import torch

    from scdiff_core.diffusion.sampler import make_sampler, run_sampler
    from scdiff_core.guidance import GUIDANCE

    g = torch.Generator().manual_seed(seed)
    full, alone = _targets(m, combo, n)
    sc = m._scales(scales, mode)
    w = [sc[c] for c in m.conditions]
    late, early = GUIDANCE[mode].build(m, full, w), GUIDANCE["free"].build(m, alone, w)
    t_s = int(round(t_switch * (m.diffusion.num_timesteps - 1)))

    def eps(x, t):
        return late(x, t) if int(t[0]) <= t_s else early(x, t)

    x = torch.randn(n, m.config["space_dim"], generator=g)
    with torch.no_grad():
        v = run_sampler(make_sampler("ddim", m.diffusion, 50, eta=0.0), eps, x, generator=g)
    return _as_cells(m, v, combo, n, {"switch": t_switch, "guidance": mode}, seed)


def real_row(held, key: str, cluster: str, phase: str, seed: int, draws: int = 5) -> dict:
    """The real held-out cells of a combination scored as generated cells are, and ``draws`` technical
    replicates of them (:func:`scdiff_core.metrics.technical_replicates`, seeds seed … seed + draws − 1): a model that draws new cells of the combination cannot reproduce
    the count noise that put a real cell over a scoring threshold, so the replicates' fidelity, not
    the real cells' own, is what a perfect generator of the combination would reach."""
    import numpy as np

    from scdiff_core.metrics import score_phases, technical_replicates

    t = held.test
    real = t[(t.obs[key].astype(str) == cluster) & (t.obs["phase"].astype(str) == phase)].copy()

    def fid(cells):
        clu = float((np.asarray(held.reference.predict_labels(held.reference.project(cells))) == cluster).mean())
        return clu, float((score_phases(cells, held.train, seed=seed) == phase).mean())

    clu, pha = fid(real)
    row = {"combination": f"{cluster} x {phase}", "cluster_fidelity": clu, "phase_fidelity": pha,
           "n_real": int(real.n_obs)}
    if "counts" in real.layers:
        reps = [fid(technical_replicates(real, seed=seed + i)) for i in range(draws)]
        row.update(replicates=draws, cluster_fidelity_replicates=float(np.mean([c for c, _ in reps])),
                   phase_fidelity_replicates=float(np.mean([p for _, p in reps])))
    return row


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--select", action="store_true",
                    help="validation model: score every candidate setting on each of its excluded combinations")
    ap.add_argument("--chosen", default=None, metavar="GUIDANCE[:W_CLUSTER,W_PHASE]",
                    help="final model: the setting chosen on the validation model, scored once next to the defaults")
    ap.add_argument("--try", dest="extra", nargs="+", default=None, metavar="GUIDANCE:W_CLUSTER,W_PHASE",
                    help="with --select: these settings instead of the built-in candidates (rows are added to the file)")
    ap.add_argument("--name", default=None, help="results file name (default: from the checkpoint's name)")
    ap.add_argument("--real-only", action="store_true",
                    help="score only the held-out real cells of each combination and their technical replicates")
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

    if a.real_only:
        settings = []
    elif a.select:
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
    if a.real_only:
        role = "real held-out cells and their technical replicates (nothing generated, nothing chosen)"
    name = a.name or f"unseen{'_real' if a.real_only else '_select' if a.select else ''}_{Path(a.checkpoint).name}"
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
