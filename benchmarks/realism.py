"""Realism over several split seeds, with scVI and GGE side by side (issue 7's final table).

    python benchmarks/realism.py --dataset paul15 --seeds 0 1 2 [--scvi] [--gge]

For each split seed: a model trained with that seed (the shipped checkpoint for seed 0, whose
command is the same; `runs/realism/` otherwise), as many generated cells per label as the test set
holds, compared with the test cells normalized the standard way (counts per 1e4 over all genes,
log1p, then the model's genes; docs/evaluation.md). Rows: held-out real cells (the control: the
validation cells), scdiff, a Gaussian per label (trivial), and scVI (scvi-tools, trained on the
same training cells and genes, z from the posterior of random training cells of each label, counts
sampled from its likelihood, normalized by the source cell's total over all genes). Test cells are
used for this table only; no setting was chosen on them. Writes
benchmarks/results/realism_<dataset>.json; benchmarks/report.py renders it.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.common import ROOT, machine, save_json, set_threads  # noqa: E402

TRAIN_ARGS = {"paul15": {}, "pbmc68k": {"ae_epochs": 300}}  # as the shipped checkpoints were trained
METRICS = ("rf_auroc", "mmd2", "energy", "scc_means", "zero_frac_gap", "label_fidelity")


def checkpoint_for(dataset: str, seed: int) -> Path:
    """The shipped checkpoint for seed 0; otherwise train the same command with another split seed."""
    if seed == 0:
        return ROOT / "checkpoints" / dataset
    out = ROOT / "runs" / "realism" / f"{dataset}_s{seed}"
    if not (out / "config.json").exists():
        from scdiff_core.data import load_prepared
        from scdiff_core.training import TrainConfig, train

        conds = {"paul15": ["paul15_clusters", "phase"], "pbmc68k": ["bulk_labels", "phase"]}[dataset]
        prep = load_prepared(dataset, conds)
        train(prep, out, TrainConfig(seed=seed, threads=2, **TRAIN_ARGS[dataset]),
              command=f"benchmarks/realism.py --dataset {dataset} (split seed {seed})")
    return out


def _global(report) -> dict[str, dict[str, float]]:
    s = report.summary().set_index("set")
    return {name: {m: float(s.loc[name, m]) for m in METRICS if m in s.columns} for name in s.index}


def scvi_cells(held, key: str, n_per_label: dict[str, int], seed: int, epochs: int):
    """scVI (sampled counts) on the same training cells and genes, normalized the standard way."""
    import anndata as ad
    import scvi
    import torch

    from scdiff_core.common import LIBRARY_KEY, TARGET_SUM

    scvi.settings.seed = seed
    tr = held.train.copy()
    counts = "counts" in tr.layers
    if counts:
        tr.X = tr.layers["counts"].copy()
        scvi.model.SCVI.setup_anndata(tr)
        model = scvi.model.SCVI(tr, n_latent=10, gene_likelihood="zinb")
    else:  # log-normalized data only (pbmc68k): scVI's Gaussian likelihood on the values
        scvi.model.SCVI.setup_anndata(tr)
        model = scvi.model.SCVI(tr, n_latent=10, gene_likelihood="normal")
    torch.set_num_threads(2)
    model.train(max_epochs=epochs, accelerator="cpu", enable_progress_bar=False)
    rng = np.random.default_rng(seed)
    labels = tr.obs[key].astype(str).to_numpy()
    idx = np.concatenate([rng.choice(np.flatnonzero(labels == lab), n, replace=True) for lab, n in n_per_label.items()])
    sample = model.posterior_predictive_sample(tr, indices=idx, n_samples=1)
    X = np.asarray(sample.todense() if hasattr(sample, "todense") else sample, dtype=np.float32).reshape(len(idx), -1)
    if counts:
        lib = tr.obs[LIBRARY_KEY].to_numpy()[idx][:, None]  # the source cell's total over all its genes
        X = np.log1p(np.maximum(X, 0) / lib * TARGET_SUM).astype(np.float32)
    else:
        X = np.maximum(X, 0)
    obs = tr.obs.iloc[idx][[key]].copy()
    obs.index = [f"scvi{i}" for i in range(len(idx))]
    return ad.AnnData(X, obs=obs, var=tr.var[[]].copy())


def gge_scores(real, generated, key: str) -> dict:
    """GGE (gge-eval): per-gene correlations and distances, in gene space and in PC space."""
    import gge

    out = {}
    for name, fn in (("genes", gge.evaluate), ("pc", gge.evaluate_pc_space)):
        try:
            res = fn(real, generated, [key], verbose=False) if name == "pc" else fn(real, generated, [key], verbose=False)
            agg = res.aggregate_metrics if hasattr(res, "aggregate_metrics") else getattr(res, "summary", lambda: {})()
            out[name] = {str(k): (float(v) if np.isscalar(v) else str(v)) for k, v in dict(agg).items()}
        except Exception as e:  # a third-party evaluator: record why, keep our own table
            out[name] = {"error": f"{type(e).__name__}: {e}"[:300]}
    return out


def one_seed(dataset: str, seed: int, steps: int, sampler: str, do_scvi: bool, do_gge: bool, epochs: int) -> dict:
    from scdiff_core.evaluation import HeldOut
    from scdiff_core.metrics import gaussian_baseline
    from scdiff_core.model import SCDiffModel

    ckpt = checkpoint_for(dataset, seed)
    model = SCDiffModel.load(ckpt)
    held = HeldOut(model)
    key = held.label_key
    n = held.test_counts()
    t0 = time.perf_counter()
    gen = model.generate([({key: lab}, k) for lab, k in n.items()], guidance="free", sampler=sampler,
                         steps=steps, seed=seed)
    rows = {"seconds_generate": time.perf_counter() - t0}
    rows.update(_global(held.evaluate(gen, seed=seed, per_label=False)))
    rows["gaussian"] = _global(held.evaluate(gaussian_baseline(held.train, key, n, seed=seed), seed=seed,
                                             per_label=False))["generated"]
    if do_scvi:
        t0 = time.perf_counter()
        sv = scvi_cells(held, key, n, seed, epochs)
        rows["scvi"] = _global(held.evaluate(sv, seed=seed, per_label=False))["generated"]
        rows["scvi"]["seconds"] = time.perf_counter() - t0
    if do_gge:
        rows["gge"] = {"scdiff": gge_scores(held.test, gen, key), "control": gge_scores(held.test, held.val, key)}
        if do_scvi:
            rows["gge"]["scvi"] = gge_scores(held.test, sv, key)
    rows["checkpoint"] = str(ckpt.relative_to(ROOT))
    return rows


ROWS = (("control", "held-out real cells (control)"), ("generated", "**scdiff**"), ("scvi", "scVI (sampled counts)"),
        ("gaussian", "Gaussian per label (trivial)"))


def _row(per_seed: dict, key: str) -> list[str]:
    cells = []
    for m in METRICS:
        vals = [r[key][m] for r in per_seed.values() if key in r and m in r[key] and r[key][m] == r[key][m]]
        if not vals:
            cells.append("–")
            continue
        nd = 4 if m in ("mmd2", "energy") else 3
        cells.append(f"{np.mean(vals):.{nd}f} ± {np.std(vals):.{nd}f}" if len(vals) > 1 else f"{vals[0]:.{nd}f}")
    return cells


def _gge_means(vals: dict) -> str:
    """The '<metric>_mean' aggregates of GGE's 'all' split, or the error it raised."""
    import ast

    if "error" in vals:
        return "not computed: " + vals["error"]
    try:
        agg = ast.literal_eval(vals["splits"])["all"]["aggregates"]
    except (KeyError, ValueError, SyntaxError):
        return "no aggregates reported"
    return ", ".join(f"{k[:-5]} {v:.4g}" for k, v in agg.items() if k.endswith("_mean") and isinstance(v, float))


def markdown(results: dict[str, dict]) -> str:
    """The table of docs/benchmarks_realism.md from benchmarks/results/realism_<dataset>.json files."""
    md = ["# Realism against held-out test cells, standard normalization\n",
          "Generated by `python benchmarks/realism.py --dataset D --seeds … --scvi --gge` (per dataset), "
          "rendered by `python benchmarks/realism.py --report`. Test cells normalized as users normalize "
          "them (counts per 1e4 over all genes, log1p, then the model's genes); PCA fitted on training "
          "cells; equal n per side; classifier-free guidance, DDIM-50; mean ± sd over the split seeds "
          "listed (one number: one seed). Protocol: docs/evaluation.md.\n"]
    for ds, res in results.items():
        seeds = ", ".join(res["per_seed"])
        md += [f"\n## {ds} (split seeds {seeds}; {res['machine']['date']}, git {res['machine']['git']})\n",
               "| row | " + " | ".join(METRICS) + " |", "|---|" + "---|" * len(METRICS)]
        md += [f"| {label} | " + " | ".join(_row(res["per_seed"], key)) + " |" for key, label in ROWS]
        gge = [(s, r["gge"]) for s, r in res["per_seed"].items() if "gge" in r]
        if gge:
            md.append("\nGGE (gge-eval 1.0.1) aggregate metrics, first seed, test cells as the real side:\n")
            s, g = gge[0]
            for who, spaces in g.items():
                for space, vals in spaces.items():
                    txt = _gge_means(vals)
                    md.append(f"- {who}, {space} space: {txt}")
    return "\n".join(md) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", choices=sorted(TRAIN_ARGS))
    ap.add_argument("--report", action="store_true", help="render docs/benchmarks_realism.md from the results")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--sampler", default="ddim")
    ap.add_argument("--scvi", action="store_true", help="train scVI on the same cells (needs scvi-tools)")
    ap.add_argument("--scvi-epochs", type=int, default=400)
    ap.add_argument("--gge", action="store_true", help="also score with gge-eval (needs gge-eval)")
    ap.add_argument("--threads", type=int, default=2, help="torch threads (state it with the timings)")
    ap.add_argument("--rescore", action="store_true",
                    help="re-score only the scdiff rows of an earlier run's seeds (after the checkpoints were "
                         "re-calibrated), keeping its scVI, Gaussian and control rows: the same split and cells")
    a = ap.parse_args()
    if a.report:
        import json

        res = {d: json.loads((ROOT / "benchmarks" / "results" / f"realism_{d}.json").read_text())
               for d in sorted(TRAIN_ARGS) if (ROOT / "benchmarks" / "results" / f"realism_{d}.json").exists()}
        (ROOT / "docs" / "benchmarks_realism.md").write_text(markdown(res))
        return
    if not a.dataset:
        ap.error("--dataset is required (or --report)")
    set_threads(a.threads)
    per_seed = {}
    prev = ROOT / "benchmarks" / "results" / f"realism_{a.dataset}.json"
    if prev.exists():  # keep the other seeds of an earlier run with the same settings (one seed per call is fine)
        import json

        old = json.loads(prev.read_text())
        if (old.get("steps"), old.get("sampler")) == (a.steps, a.sampler):
            per_seed = {k: v for k, v in old["per_seed"].items() if int(k) not in a.seeds}
    if a.rescore:
        import json

        earlier = json.loads(prev.read_text())["per_seed"]
        per_seed = dict(earlier)
    for s in a.seeds:
        if a.rescore:
            new = one_seed(a.dataset, s, a.steps, a.sampler, False, a.gge, a.scvi_epochs)
            row = dict(earlier[str(s)], generated=new["generated"], seconds_generate=new["seconds_generate"],
                       rescored=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()))
            if a.gge and "gge" in row:
                row["gge"] = dict(row["gge"], scdiff=new["gge"]["scdiff"])
            per_seed[str(s)] = row
        else:
            per_seed[str(s)] = one_seed(a.dataset, s, a.steps, a.sampler, a.scvi, a.gge, a.scvi_epochs)
        per_seed = dict(sorted(per_seed.items(), key=lambda kv: int(kv[0])))
        save_json(f"realism_{a.dataset}", {"dataset": a.dataset, "per_seed": per_seed, "steps": a.steps,
                                           "sampler": a.sampler, "machine": machine(),
                                           "command": "python benchmarks/realism.py " + " ".join(sys.argv[1:])})
        print(s, {k: v for k, v in per_seed[str(s)].items() if k != "gge"}, flush=True)


if __name__ == "__main__":
    main()
