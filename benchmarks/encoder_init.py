"""Does a pretrained encoder start help small data and rare types? (issue 13, item 1)

    python benchmarks/encoder_init.py --seeds 0 1 2

scDiffusion starts its autoencoder from a foundation model's encoder (SCimilarity). No such
model ships here, so the start is a scdiff model pretrained on *another part* of the data:

* **source**: paul15's erythroid, megakaryocyte and GMP clusters (1–10), all their cells;
* **target**: 500 cells drawn (stratified, seeded) from the other clusters (11DC, 12–13Baso,
  14–15Mo, 16–17Neu, 18Eos, 19Lymph), split 40/20/40, so each model sees 200 training cells —
  the small-data case — with 18Eos and 19Lymph rare among them.

Each split seed trains the target twice with the same settings, from scratch and with
``encoder_init=<source checkpoint>`` (genes matched by name; the source's genes are its own
2,000 HVG), and scores as many generated cells per label as the target's test split holds
against those test cells (docs/evaluation.md: RF AUROC, MMD², label fidelity with its control),
plus the rare types' own figures and the autoencoder's validation NLL. Choices: none are made
here (the settings are the shipped ones); test cells are used for this table only. Raw paul15
counts come from ../shared/data or scanpy (never committed).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.common import ROOT, machine, save_json, set_threads  # noqa: E402

SOURCE = [f"{i}{n}" for i, n in [(1, "Ery"), (2, "Ery"), (3, "Ery"), (4, "Ery"), (5, "Ery"), (6, "Ery"),
                                   (7, "MEP"), (8, "Mk"), (9, "GMP"), (10, "GMP")]]
RARE = ("18Eos", "19Lymph")
KEY = "paul15_clusters"
OUT = ROOT / "runs" / "encoder_init"
SETTINGS = dict(threads=2, calibrate=False)  # calibration off in both arms: the same guidance for both


def parts(seed: int, n_target: int = 500):
    """(source AnnData, target AnnData) of raw paul15 counts."""
    from scdiff_core.data import load_anndata

    raw, _ = load_anndata("paul15")
    lab = raw.obs[KEY].astype(str).to_numpy()
    src = raw[np.isin(lab, SOURCE)].copy()
    rest = np.flatnonzero(~np.isin(lab, SOURCE))
    rng = np.random.default_rng(seed)
    # stratified: each cluster in proportion, at least 3 cells of each (rare types stay rare)
    take = []
    for c in np.unique(lab[rest]):
        idx = rest[lab[rest] == c]
        k = max(3, int(round(n_target * len(idx) / len(rest))))
        take.append(rng.choice(idx, min(k, len(idx)), replace=False))
    tgt = raw[np.sort(np.concatenate(take))].copy()
    return src, tgt


def train_one(adata_path: Path, out: Path, seed: int, **extra):
    from scdiff_core.data import load_prepared
    from scdiff_core.training import TrainConfig, train

    if (out / "config.json").exists():
        return out
    prep = load_prepared(str(adata_path), [KEY])
    t0 = time.perf_counter()
    train(prep, out, TrainConfig(seed=seed, **SETTINGS, **extra), command=f"benchmarks/encoder_init.py seed {seed}")
    print(f"trained {out.name} in {time.perf_counter() - t0:.0f} s", flush=True)
    return out


def score(ckpt: Path, seed: int) -> dict:
    from scdiff_core.evaluation import HeldOut
    from scdiff_core.model import SCDiffModel

    m = SCDiffModel.load(ckpt)
    held = HeldOut(m)
    n = held.test_counts()
    gen = m.generate([({KEY: lab}, k) for lab, k in n.items()], guidance="free", seed=seed)
    rep = held.evaluate(gen, seed=seed)
    t = rep.table
    glob = t[t["scope"] == "all"].set_index("set")
    row = {"rf_auroc": float(glob.loc["generated", "rf_auroc"]), "mmd2": float(glob.loc["generated", "mmd2"]),
           "label_fidelity": float(glob.loc["generated", "label_fidelity"]),
           "label_fidelity_control": float(glob.loc["control", "label_fidelity"]),
           "control_rf_auroc": float(glob.loc["control", "rf_auroc"]),
           "ae_val_nll": m.config["training"]["autoencoder"]["val_nll"],
           "train_cells": len(m.config["split"]["train"]), "test_cells": int(sum(n.values()))}
    for r in RARE:
        sub = t[(t["scope"] == r) & (t["set"] == "generated")]
        if len(sub):
            row[f"{r}_label_fidelity"] = float(sub["label_fidelity"].iloc[0])
            row[f"{r}_rf_auroc"] = float(sub["rf_auroc"].iloc[0])
            row[f"{r}_test_cells"] = int(n.get(r, 0))
    init = m.config["training"]["autoencoder"].get("encoder_init")
    if init:
        row["genes_matched"] = init.get("genes_matched")
        row["genes_missing"] = init.get("genes_missing")
    return row


DOC = ROOT / "docs" / "benchmarks_encoder_init.md"
METRICS = [("rf_auroc", "RF AUROC"), ("mmd2", "MMD²"), ("label_fidelity", "label fidelity"),
           ("label_fidelity_control", "control's label fidelity"), ("ae_val_nll", "autoencoder val NLL"),
           ("18Eos_label_fidelity", "18Eos fidelity"), ("19Lymph_label_fidelity", "19Lymph fidelity")]


def report(name: str) -> str:
    """docs/benchmarks_encoder_init.md from benchmarks/results/<name>.json: one row per arm, per seed and mean."""
    import json

    d = json.loads((ROOT / "benchmarks" / "results" / f"{name}.json").read_text())
    rows, m = d["rows"], d["machine"]
    seeds = sorted({r["seed"] for r in rows})
    out = ["# A pretrained encoder start for small data (issue 13, item 1)", "",
           f"`python benchmarks/encoder_init.py --seeds {' '.join(map(str, seeds))}`, rendered by "
           f"`python benchmarks/encoder_init.py --report` ({m['date']}, git {m['git']}, {m['torch_threads']} threads). "
           f"Source: a scdiff model trained on paul15's clusters 1–10 ({d['source_cells']:,} cells). Target: 500 "
           "cells of the other clusters, split 40/20/40 per seed (about 200 training cells), trained from scratch "
           "and from the source's encoder (genes matched by name), same settings, no calibration; scored against "
           "the target's held-out test cells (classifier-free guidance, DDIM-50, docs/evaluation.md). A cell "
           "'nan' or '–': too few cells of that type in the test split for the figure.", "",
           "| seed | arm | " + " | ".join(label for _, label in METRICS) + " |",
           "|---|---|" + "---|" * len(METRICS)]

    def cell(v):
        return "–" if v is None or v != v else f"{v:.3f}" if abs(v) < 10 else f"{v:.1f}"

    for r in sorted(rows, key=lambda r: (r["seed"], r["arm"] != "scratch")):
        out.append(f"| {r['seed']} | {r['arm']} | " + " | ".join(cell(r.get(k)) for k, _ in METRICS) + " |")
    for arm in ("scratch", "pretrained"):
        sel = [r for r in rows if r["arm"] == arm]
        means = []
        for k, _ in METRICS:
            v = [r[k] for r in sel if r.get(k) is not None and r[k] == r[k]]
            means.append(f"{np.mean(v):.3f} ± {np.std(v):.3f}" if v and abs(np.mean(v)) < 10
                         else f"{np.mean(v):.1f}" if v else "–")
        out.append(f"| mean | {arm} | " + " | ".join(means) + " |")
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--name", default="encoder_init_paul15")
    ap.add_argument("--report", action="store_true", help="render docs/benchmarks_encoder_init.md from the results")
    a = ap.parse_args()
    if a.report:
        DOC.write_text(report(a.name))
        print(DOC.read_text())
        return
    set_threads(2)
    OUT.mkdir(parents=True, exist_ok=True)
    src, _ = parts(0)
    src_path = OUT / "source.h5ad"
    if not src_path.exists():
        src.write_h5ad(src_path)
    source = train_one(src_path, OUT / "source", 0)
    rows = []
    for seed in a.seeds:
        _, tgt = parts(seed)
        p = OUT / f"target_s{seed}.h5ad"
        tgt.write_h5ad(p)
        for arm, extra in (("scratch", {}), ("pretrained", {"encoder_init": str(source)})):
            ck = train_one(p, OUT / f"target_s{seed}_{arm}", seed, split=(0.4, 0.2, 0.4), **extra)
            r = dict(score(ck, seed), seed=seed, arm=arm)
            print({k: (round(v, 3) if isinstance(v, float) else v) for k, v in r.items()}, flush=True)
            rows.append(r)
            save_json(a.name, {"rows": rows, "source_cells": int(src.n_obs), "source_clusters": SOURCE,
                               "machine": machine()})


if __name__ == "__main__":
    main()
