"""The White-Box claim over three seeds: CRATE vs DiT at equal width, depth and wall time (issue 13, item 3).

    python benchmarks/whitebox.py --dataset pbmc68k --seeds 0 1 2
    python benchmarks/whitebox.py --report          # the table in docs/benchmarks_whitebox.md

Cui et al. report that the White-Box Diffusion Transformer (CRATE's MSSA + ISTA blocks) needs about
half DiT's parameters and ~1.7-1.8x less time per iteration at comparable quality. Here, for each
dataset, diffusion space (latent: the shipped autoencoder's 16/17-d code, patches of 2; gene:
the expression vector, patches of 32 genes) and training seed (same split, split seed 0):

1. both backbones are built at the same width (128), depth (4) and heads (4), and their time per
   training iteration is measured in this process, on the same tokens, back to back;
2. DiT trains for ``--dit-iters-latent`` / ``--dit-iters-gene`` iterations and CRATE for as many
   iterations as fit in DiT's measured wall time (equal wall time);
3. each is scored by benchmarks/quality.py against the held-out *test* cells (the final table: no
   setting is chosen here), classifier-free guidance at the per-column strengths that training
   calibrated on validation cells, DDIM-50: RF AUROC and label fidelity. Training calibrates the
   classifier-free mode only (``calibration_modes``), the one scored; rows before 2026-12-07
   calibrated all three modes, which gives the same classifier-free strengths (each mode's sweep is
   independent) in three times the time.

Latent-space runs reuse the shipped checkpoint's autoencoder (``autoencoder_from``), so they
differ only in the denoiser. Results: benchmarks/results/whitebox_<dataset>.json.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.common import RESULTS, ROOT, fmt, machine, save_json, set_threads  # noqa: E402

DOC = ROOT / "docs" / "benchmarks_whitebox.md"
#: DiT keeps the tanh GELU that every row of the table was trained and probed with (models trained
#: by the library use the exact form since 2026-12-07, 3x faster on CPU: DiT's time per iteration,
#: and so CRATE's time-matched budget, would change between seeds).
EXTRA = {"dit": {"gelu": "tanh"}}


def measure(dataset: str, seeds: list[int], iters: dict[str, int], out: Path,
            spaces: tuple[str, ...] = ("latent", "gene")) -> dict:
    from benchmarks.backbones import CONDITIONS, GENE_PATCH, TRANSFORMER, iteration_time, run_one
    from scdiff_core.data import load_prepared

    prep = load_prepared(dataset, CONDITIONS[dataset])
    ncls = [len(prep.vocab[c]) for c in CONDITIONS[dataset]]
    dims = {"latent": (17 if prep.kind == "counts" else 16, 2), "gene": (len(prep.genes), GENE_PATCH)}
    ae_from = str(ROOT / "checkpoints" / dataset)
    name = f"whitebox_{dataset}"
    prev = RESULTS / f"{name}.json"
    res = json.loads(prev.read_text()) if prev.exists() else {"rows": []}
    done = {(r["seed"], r["space"], r["backbone"]) for r in res["rows"]}
    for seed in seeds:
        for space in spaces:
            if {(seed, space, "dit"), (seed, space, "crate")} <= done:
                continue
            dim, patch = dims[space]
            hp = dict(TRANSFORMER, patch_size=patch)
            t = {b: iteration_time(b, dim, ncls, {**hp, **EXTRA.get(b, {})}) for b in ("dit", "crate")}  # back to back
            n_dit = iters[space]
            n_crate = int(round(n_dit * t["dit"] / t["crate"]))  # CRATE's iterations in DiT's wall time
            for b, n in (("dit", n_dit), ("crate", n_crate)):
                if (seed, space, b) in done:  # an interrupted pair: only the missing backbone
                    continue
                row = run_one(dataset, b, space, n, out / f"s{seed}", ae_from if space == "latent" else None, seed=seed,
                              split_seed=0, result_name=f"exploration/whitebox_{dataset}_{b}_{space}_s{seed}",
                              time_ddpm=False, calibration_modes=("free",), extra_hparams=EXTRA.get(b))
                rep = {r["set"]: r for r in row["report"]["table"] if r["scope"] == "all"}
                res["rows"].append({
                    "dataset": dataset, "seed": seed, "space": space, "backbone": b, "iters": n,
                    "parameters": row["parameters"], "seconds_per_iter_probe": t[b],
                    "seconds_per_iter_training": row["seconds_per_iter"],
                    "diffusion_train_seconds": row["diffusion_train_seconds"],
                    "rf_auroc": rep["generated"]["rf_auroc"], "label_fidelity": rep["generated"]["label_fidelity"],
                    "control_rf_auroc": rep["control"]["rf_auroc"],
                    "control_label_fidelity": rep["control"]["label_fidelity"],
                    "ddim50_1000_cells_s": row["ddim50_1000_cells_s"]})
                res.update(iters=iters, machine=machine())
                save_json(name, res)
    return res


def _ms(vals):
    import numpy as np

    v = np.asarray([x for x in vals if x is not None and x == x], dtype=float)
    if not len(v):
        return "–"
    return f"{v.mean():.3f} ± {v.std(ddof=1):.3f}" if len(v) > 1 else f"{v.mean():.3f}"


def report() -> str:
    lines = ["# The White-Box claim, measured (issue 13)", "",
             "Generated by `python benchmarks/whitebox.py --dataset D --seeds 0 1 2` per dataset, rendered by "
             "`python benchmarks/whitebox.py --report`. Equal width (128), depth (4) and heads (4), the same tokens (latent: 8 tokens of 2 coordinates, the default until 2026-12-07; gene: patches of 32); DiT trained for a "
             "fixed number of iterations, CRATE for as many as fit in DiT's wall time (from the time per iteration of "
             "both, measured back to back in the same process; that ratio is the table's DiT / CRATE column, CRATE's "
             "iterations over DiT's). Scored against held-out **test** cells "
             "(classifier-free guidance, DDIM-50; docs/evaluation.md); mean ± sd over the training seeds listed under each "
             "table (one number: one seed), on split seed 0. Latent runs share the shipped autoencoder.", ""]
    for ds in ("pbmc68k", "paul15"):
        p = RESULTS / f"whitebox_{ds}.json"
        if not p.exists():
            continue
        d = json.loads(p.read_text())
        rows = d["rows"]
        lines += [f"## {ds} ({d['machine']['date']}, git {d['machine']['git']}, {d['machine']['torch_threads']} threads)",
                  "", "| space | backbone | parameters | iterations | s / iteration (probe) | DiT / CRATE time per iteration "
                  "| training s | RF AUROC | label fidelity (control) | 1,000 cells DDIM-50 s |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        for space in ("latent", "gene"):
            sel = {b: [r for r in rows if r["space"] == space and r["backbone"] == b] for b in ("dit", "crate")}
            if not sel["dit"]:
                continue
            # the ratio that set CRATE's iterations (DiT's iterations x DiT / CRATE time, probed back to back in the
            # process that trained CRATE): always one process's, even when a pair was finished by a second process
            crate_by_seed = {c["seed"]: c for c in sel["crate"]}
            ratio = [crate_by_seed[a["seed"]]["iters"] / a["iters"] for a in sel["dit"] if a["seed"] in crate_by_seed]
            for b, rs in sel.items():
                if not rs:
                    continue
                iters = ", ".join(f"{r['iters']:,}" for r in rs)
                lines.append(
                    f"| {space} | {b} | {rs[0]['parameters']:,} | {iters} | "
                    f"{_ms([r['seconds_per_iter_probe'] for r in rs])} | {_ms(ratio) if b == 'dit' else ''} | "
                    f"{_ms([r['diffusion_train_seconds'] for r in rs])} | {_ms([r['rf_auroc'] for r in rs])} | "
                    f"{_ms([r['label_fidelity'] for r in rs])} ({_ms([r['control_label_fidelity'] for r in rs])}) | "
                    f"{_ms([r['ddim50_1000_cells_s'] for r in rs])} |")
        ctrl = [r["control_rf_auroc"] for r in rows]
        lines += ["", f"Control row (held-out real vs test cells) RF AUROC {_ms(ctrl)}; seeds {sorted({r['seed'] for r in rows})}."
                  + (f" {d['notes']}" if d.get("notes") else ""), ""]
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", choices=["pbmc68k", "paul15"])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--spaces", nargs="+", choices=["latent", "gene"], default=["latent", "gene"],
                    help="which pairs to run (a session too short for the gene pair can still add latent seeds)")
    ap.add_argument("--dit-iters-latent", type=int, default=2000)
    ap.add_argument("--dit-iters-gene", type=int, default=1000)
    ap.add_argument("--out", default=str(ROOT / "runs" / "whitebox"))
    ap.add_argument("--report", action="store_true")
    a = ap.parse_args()
    if a.report:
        DOC.write_text(report())
        print(DOC.read_text())
        return
    set_threads(2)
    measure(a.dataset, a.seeds, {"latent": a.dit_iters_latent, "gene": a.dit_iters_gene}, Path(a.out), tuple(a.spaces))
    print(report())


if __name__ == "__main__":
    main()
