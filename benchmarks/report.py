"""Write docs/benchmarks.md from benchmarks/results/*.json (every figure comes from a result file).

    python benchmarks/report.py
"""
from __future__ import annotations

import json
import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.common import RESULTS, ROOT, fmt  # noqa: E402

OUT = ROOT / "docs" / "benchmarks.md"


def load(name):
    p = RESULTS / f"{name}.json"
    return json.loads(p.read_text()) if p.exists() else None


def rows(report, scope="all"):
    return {r["set"]: r for r in report["table"] if r["scope"] == scope}


def quality_section(ds, key_label):
    out = []
    f, c = load(f"quality_{ds}_free"), load(f"quality_{ds}_classifier")
    if not f:
        return [f"_quality_{ds}: not run_\n"]
    m = f["machine"]
    out.append(f"### {ds}\n")
    out.append(f"`python benchmarks/quality.py --checkpoint checkpoints/{ds} --guidance free|classifier"
               f"{' --rare CD34+' if ds == 'pbmc68k' else ''}` ({m['date']}, git {m['git']}, "
               f"{m['torch_threads']} torch threads). As many generated cells per label as the test set holds "
               f"({f['n_generated']} cells), DDIM-50; every comparison subsamples both sides to equal n.\n")
    out.append("| row | n | RF AUROC ↓ (0.5 best) | MMD² ↓ | energy ↓ | Spearman gene means ↑ | zeros per gene, mean abs gap ↓ "
               "| zeros (real / gen) | label fidelity |")
    out.append("|---|---|---|---|---|---|---|---|---|")
    ctrl = rows(f["report"])["control"]
    gauss = rows(f["gaussian"])["generated"] if f.get("gaussian") else None

    def line(name, r):
        return (f"| {name} | {r['n']} | {fmt(r['rf_auroc'])} | {fmt(r['mmd2'], 4)} | {fmt(r['energy'])} | "
                f"{fmt(r['scc_means'])} | {fmt(r['zero_frac_gap'])} | {fmt(r['zeros_real'])} / {fmt(r['zeros_gen'])} | "
                f"{fmt(r['label_fidelity'])} |")

    out.append(line("**held-out real (control)**", ctrl))
    out.append(line("scdiff, classifier-free (w = 1)", rows(f["report"])["generated"]))
    if c:
        out.append(line("scdiff, classifier guidance (s = 2)", rows(c["report"])["generated"]))
    if gauss:
        out.append(line("Gaussian per label in PCA space", gauss))
    out.append("")
    g = rows(f["report"])["generated"]
    checks = [("RF AUROC ≤ 0.65", g["rf_auroc"] is not None and g["rf_auroc"] <= 0.65),
              ("MMD² ≤ 0.01", g["mmd2"] <= 0.01),
              ("Spearman ≥ 0.98", g["scc_means"] >= 0.98),
              ("zeros gap ≤ 0.05", g["zero_frac_gap"] <= 0.05),
              ("label fidelity within 0.05 of control", abs(g["label_fidelity"] - ctrl["label_fidelity"]) <= 0.05)]
    out.append("Targets (classifier-free row): " + "; ".join(f"{n}: {'met' if ok else '**missed**'}" for n, ok in checks)
               + f". Control Spearman here is {fmt(ctrl['scc_means'])}."
               + (" For reference (the project guide, same split and protocol, not re-measured here): scVI with sampled "
                  "ZINB counts scored RF AUROC 0.62, MMD² 0.0004, label fidelity 0.69; scDiffusion's own code 0.96."
                  if ds == "paul15" else "") + "\n")
    both = [(g, load(f"quality_{ds}_both_{g}")) for g in ("free", "classifier")]
    both = [(g, b) for g, b in both if b]
    if both:
        out.append(f"Conditioned on **every** column (cluster × phase, the test set's combinations; "
                   f"`--all-conditions`), which adds phase fidelity by cell-cycle scoring together with the "
                   f"training cells:\n")
        out.append("| row | RF AUROC | MMD² | label fidelity | phase fidelity |")
        out.append("|---|---|---|---|---|")
        cb = rows(both[0][1]["report"])["control"]
        out.append(f"| **held-out real (control)** | {fmt(cb['rf_auroc'])} | {fmt(cb['mmd2'], 4)} | "
                   f"{fmt(cb['label_fidelity'])} | {fmt(cb['phase_fidelity'])} |")
        sweep = sorted(RESULTS.glob(f"phasesweep_{ds}_*.json"))
        entries = [(g, b, "default strengths") for g, b in both]
        entries += [(b["guidance"], b, f"phase strength {fmt(b['scales']['phase'], 0)}")
                    for b in (json.loads(x.read_text()) for x in sweep)]
        for g, b, how in sorted(entries, key=lambda e: e[0] != "free"):
            gb = rows(b["report"])["generated"]
            out.append(f"| scdiff, {'classifier-free' if g == 'free' else 'classifier guidance'}, {how} | "
                       f"{fmt(gb['rf_auroc'])} | {fmt(gb['mmd2'], 4)} | {fmt(gb['label_fidelity'])} | "
                       f"{fmt(gb['phase_fidelity'])} |")
        if sweep:
            out.append(f"\nDefault strengths: classifier-free w = 1, classifier s = 2 for every column. The phase rows "
                       f"raise only phase's strength: `python benchmarks/quality.py --checkpoint checkpoints/{ds} "
                       f"--guidance free --all-conditions --no-baseline --column-scale phase=3`.")
        out.append("")
    # per label
    labels = [r["scope"] for r in f["report"]["table"] if r["set"] == "generated" and r["scope"] != "all"]
    if labels:
        out.append("<details><summary>Per label (labels with ≥ 5 test cells; RF AUROC needs ≥ 10 per side)</summary>\n")
        out.append("| label | n | RF AUROC gen / control | MMD² gen / control | label fidelity gen / control |")
        out.append("|---|---|---|---|---|")
        for lab in labels:
            rr = rows(f["report"], lab)
            gg, cc = rr.get("generated"), rr.get("control")
            if not gg or not cc:
                continue
            out.append(f"| {lab} | {gg['n']} | {fmt(gg['rf_auroc'])} / {fmt(cc['rf_auroc'])} | "
                       f"{fmt(gg['mmd2'], 4)} / {fmt(cc['mmd2'], 4)} | {fmt(gg['label_fidelity'])} / {fmt(cc['label_fidelity'])} |")
        out.append("\n</details>\n")
        per = [(rows(f["report"], lab).get("generated"), rows(f["report"], lab).get("control")) for lab in labels]
        per = [(gg, cc) for gg, cc in per if gg and cc]
        with_auc = [(gg, cc) for gg, cc in per if gg["rf_auroc"] is not None]
        out.append(f"Per label: RF AUROC ≤ 0.65 for {sum(gg['rf_auroc'] <= 0.65 for gg, _ in with_auc)} of {len(with_auc)} "
                   f"labels with enough cells (the control row: {sum(cc['rf_auroc'] <= 0.65 for _, cc in with_auc if cc['rf_auroc'] is not None)}); "
                   f"label fidelity within 0.05 of the control's for {sum(abs(gg['label_fidelity'] - cc['label_fidelity']) <= 0.05 for gg, cc in per)} "
                   f"of {len(per)} labels (within 0.15: {sum(abs(gg['label_fidelity'] - cc['label_fidelity']) <= 0.15 for gg, cc in per)}); "
                   "with 5–70 cells per label these per-label figures are noisy.\n")
    if f.get("rare"):
        for lab, r in f["rare"].items():
            out.append(f"**Rare type {lab}** ({r['train_cells']} training cells, {r['held_out_cells']} held-out real cells, "
                       f"{r['generated']} generated): label fidelity {fmt(r['label_fidelity'])} (held-out real cells: "
                       f"{fmt(r['label_fidelity_held_out_real'])}); median PCA distance to the nearest held-out {lab} cell "
                       f"{fmt(r['dist_to_held_out_generated_median'])} for generated cells vs "
                       f"{fmt(r['dist_to_held_out_training_median'])} for the training {lab} cells; median distance of a "
                       f"generated cell to its nearest training cell {fmt(r['dist_generated_to_nearest_training_median'])}; "
                       f"the 200 generated cells have {r['n_generated_unique_nearest_training']} distinct nearest training "
                       f"{lab} cells (of {r['train_cells']}). MMD² against the held-out cells {fmt(r['mmd2_vs_held_out'], 4)} "
                       f"(n = {r['held_out_cells']}, very noisy).\n")
    return out


def _walltime(r: dict) -> bool:
    """A CRATE row trained for DiT's wall time (older rows say so only in their checkpoint path)."""
    return bool(r.get("walltime") or "walltime" in r["checkpoint"])


def _seconds_per_epoch(r: dict) -> float | None:
    """Seconds per pass over the training cells (diffusion batch from the checkpoint's config)."""
    n, batch = r.get("train_cells"), r.get("batch")
    if n is None:
        cfg = Path(r["checkpoint"]) / "config.json"
        if not cfg.is_absolute():
            cfg = ROOT / cfg
        if not cfg.exists():
            return None
        c = json.loads(cfg.read_text())
        n, batch = len(c["split"]["train"]), c["train_config"]["diffusion_batch"]
    return r["seconds_per_iter"] * math.ceil(n / batch)


def main():
    md = ["# Benchmarks", "",
          "Every figure below is read from `benchmarks/results/*.json`, written by the scripts named with each "
          "table; `bash benchmarks/run_all.sh` reruns them all (one heavy process at a time) and "
          "`python benchmarks/report.py` rewrites this page. Machine: 2 CPU cores, no GPU. Protocol: "
          "docs/evaluation.md (60/20/20 split by cell id, seed 0; PCA with 50 components fitted on training cells; "
          "the control row compares held-out validation cells, which nothing was fitted on, with the test cells).",
          ""]
    from benchmarks.report_more import (ddp_quality_section, realism_section, reliability_section, roofline_section,
                                        samplers_section, scale_section, unseen_section, gene_curve_section,
                                        tokens_section)

    md += realism_section(load) + samplers_section(load)
    md += ["## Quality against held-out cells (single split, seed 0; before calibration)", ""]
    md += quality_section("paul15", "paul15_clusters")
    md += quality_section("pbmc68k", "bulk_labels")

    md += unseen_section(load)

    md += ["## Trajectories (Gradient Interpolation) on paul15", "",
           "**Issue 8 (paths through real cells — the default since 2026-12-06 — DDIM-inversion paths, sets of "
           "cells, a real time course): see "
           "[benchmarks_trajectory.md](benchmarks_trajectory.md).** The tables below are the earlier Gradient "
           "Interpolation runs, measured against *test* cells.", ""]
    for g in ("classifier", "free"):
        t = load(f"trajectory_paul15_{g}")
        if not t:
            continue
        a = t["args"]
        md.append(f"`python benchmarks/trajectory.py --checkpoint checkpoints/paul15 --guidance {g}`: {a['points']} values of λ × "
                  f"{a['cells']} cells, t_start = {a['t_start']}, scale {a['scale'] or 'default'}. Pseudotime: scanpy dpt on "
                  "training cells from the cell of `uns['iroot']`; generated cells take the mean pseudotime of their 10 nearest "
                  "training cells (PCA space).\n")
        md.append("| path | per-λ mean pseudotime strictly rising | Spearman(λ, pseudotime), cells (target ≥ 0.8) | "
                  "real cells by maturation order | RF AUROC intermediates vs real intermediates | same, training cells of "
                  "those clusters (control) | linear blend: Spearman / AUROC | seconds |")
        md.append("|---|---|---|---|---|---|---|---|")
        for r in t["paths"]:
            md.append(f"| {r['path']} | {'yes' if r['strictly_increasing'] else '**no**'} ({', '.join(fmt(x, 2) for x in r['mean_pseudotime'])}) | "
                      f"{fmt(r['spearman_cells'])} | {fmt(r['spearman_real_ordered'])} | {fmt(r['rf_auroc_intermediates'])} | "
                      f"{fmt(r['rf_auroc_intermediates_control'])} | {fmt(r['blend_spearman'])} / {fmt(r['blend_rf_auroc_intermediates'])} | "
                      f"{fmt(r['seconds'], 1)} |")
        md.append("")

    sweep = [p for p in sorted(RESULTS.glob("trajsweep_*.json")) if "args" in json.loads(p.read_text())]
    if sweep:
        md.append("Settings tried (same script with `--guidance G --t-start T --scale S`): RF AUROC of the intermediates "
                  "against real intermediate test cells, and cell-level Spearman(λ, pseudotime), per path.\n")
        md.append("| guidance | t_start | scale | 7MEP→2Ery: Spearman / AUROC | 9GMP→14Mo: Spearman / AUROC |")
        md.append("|---|---|---|---|---|")
        for p in sweep:
            t = json.loads(p.read_text())
            a = t["args"]
            cells = [f"{fmt(r['spearman_cells'])} / {fmt(r['rf_auroc_intermediates'])}"
                     + ("" if r["strictly_increasing"] else " (means not monotone)") for r in t["paths"]]
            md.append(f"| {a['guidance']} | {a['t_start']} | {a['scale']} | " + " | ".join(cells) + " |")
        md.append("")

    md += ["## Speed (2 CPU cores, 2 torch threads)", ""]
    for ds in ("paul15", "pbmc68k"):
        s = load(f"speed_{ds}")
        if not s:
            continue
        md.append(f"`python benchmarks/speed.py --checkpoint checkpoints/{ds}{' --quality' if 'quality' in s else ''}` "
                  f"({s['machine']['date']}). 1,000 cells, decoding and projection included; median of repeats. "
                  f"Training: {fmt(s['train_minutes'], 1)} min (`{s['train_command']}`).\n")
        md.append("| guidance | sampler | steps | seconds per 1,000 cells |")
        md.append("|---|---|---|---|")
        for r in s["rows"]:
            md.append(f"| {r['guidance']} | {r['sampler']} | {r['steps']} | {fmt(r['seconds_median'], 2)} |")
        if "quality" in s:
            md.append("\nQuality of the two samplers (classifier-free, cells per label as in the test set):\n")
            md.append("| sampler | RF AUROC | MMD² | Spearman | label fidelity | generate seconds |")
            md.append("|---|---|---|---|---|---|")
            for k, v in s["quality"].items():
                g = rows(v["summary"])["generated"]
                md.append(f"| {k} | {fmt(g['rf_auroc'])} | {fmt(g['mmd2'], 4)} | {fmt(g['scc_means'])} | {fmt(g['label_fidelity'])} | "
                          f"{fmt(v['generate_seconds'], 1)} |")
        md.append("")

    md += ["## Backbones and diffusion spaces (issue 4)", ""]
    for ds in ("pbmc68k", "paul15"):
        b = load(f"backbones_{ds}")
        if not b:
            continue
        md.append(f"`python benchmarks/backbones.py --dataset {ds} …` (see benchmarks/run_all.sh; diffusion iterations: latent {b['iters']['latent']}, gene {b['iters']['gene']}). "
                  "Latent-space runs share one autoencoder. DDPM-1000 marked * was timed on 100 cells and scaled ×10. "
                  "The transformers here cut the latent code into 8 tokens of 2 coordinates, the default until "
                  "2026-12-07; since then 2 tokens of 8 (*Tokens per latent code*, below).\n")
        md.append("| backbone | space | parameters | diffusion iters | s / iter | s / epoch | train min | AUROC ≤ 0.65 reached | "
                  "DDIM-50 s / 1k | DDPM-1000 s / 1k | RF AUROC | MMD² | Spearman | label fid. (control) |")
        md.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
        for r in b["rows"]:
            rr = rows(r["report"])
            g, c = rr["generated"], rr["control"]
            name = r["backbone"] + (" (DiT's wall time)" if _walltime(r) else "")
            epoch = _seconds_per_epoch(r)
            reached = f"yes, ≤ {fmt(r['train_seconds'] / 60, 1)} min" if g["rf_auroc"] <= 0.65 else "no (not in this run)"
            md.append(f"| {name} | {r['space']} | {r['parameters']:,} | {r['iters']} | {fmt(r['seconds_per_iter'], 4)} | "
                      f"{fmt(epoch, 2)} | {fmt(r['train_seconds'] / 60, 1)} | {reached} | {fmt(r['ddim50_1000_cells_s'], 1)} | "
                      f"{fmt(r['ddpm1000_1000_cells_s'], 0)}{'*' if r['ddpm1000_estimated'] else ''} | {fmt(g['rf_auroc'])} | "
                      f"{fmt(g['mmd2'], 4)} | {fmt(g['scc_means'])} | {fmt(g['label_fidelity'])} ({fmt(c['label_fidelity'])}) |")
        cl = b["claim_seconds_per_iter"]
        md.append("\nWhite-Box claim, time per training iteration at equal width (128) and depth (4), batch 256, same tokens: "
                  + "; ".join(f"{sp}: DiT {fmt(v['dit'] * 1000, 1)} ms, CRATE {fmt(v['crate'] * 1000, 1)} ms "
                              f"(DiT/CRATE = {fmt(v['dit'] / v['crate'], 2)}×)" for sp, v in cl.items()) + ".\n")
        for sp in ("latent", "gene"):  # the claim's second half: quality at equal training time
            pick = {(r["backbone"], _walltime(r)): r
                    for r in b["rows"] if r["space"] == sp}
            dit, cw, c = pick.get(("dit", False)), pick.get(("crate", True)), pick.get(("crate", False))
            if dit and cw and c:
                au = {k: rows(r["report"])["generated"]["rf_auroc"] for k, r in (("dit", dit), ("cw", cw), ("c", c))}
                md.append(f"Equal training time, {sp} space: DiT {dit['iters']} iterations in "
                          f"{fmt(dit['diffusion_train_seconds'] / 60, 1)} min → RF AUROC {fmt(au['dit'])}; CRATE "
                          f"{cw['iters']} iterations in {fmt(cw['diffusion_train_seconds'] / 60, 1)} min → "
                          f"{fmt(au['cw'])} (CRATE at DiT's iteration count, in {fmt(c['diffusion_train_seconds'] / 60, 1)} min: "
                          f"{fmt(au['c'])}).\n")
    md += gene_curve_section(load) + tokens_section(load)
    app = ROOT / "docs" / "benchmarks_app.md"
    if app.exists():
        md += ["## App latency", ""]
        lat = load("app_latency")
        if lat:
            med = lambda xs: sorted(xs)[len(xs) // 2]  # noqa: E731
            two = lat["two_sessions"]
            md += [f"`python benchmarks/app_latency.py --checkpoints checkpoints --screenshots docs/screenshots "
                   f"--compare-threads` ({lat['machine']['date']}, git {lat['machine']['git']}, model "
                   f"{lat['model'].split()[0]}, {lat['threads']} torch thread per server, headless Chromium on the same 2 cores).\n",
                   "| measure | value | target |", "|---|---|---|",
                   f"| start → first page | {fmt(lat['start_first_page'], 1)} s | ≤ 6 s (issue 9) |",
                   f"| start → reference UMAP drawn | {fmt(lat['start_reference_map'], 1)} s | |",
                   f"| Generate 1,000 cells → updated UMAP (median of {len(lat['generate_1000'])}) | "
                   f"{fmt(med(lat['generate_1000']), 2)} s | ≤ 2.5 s (issue 9) |",
                   f"| Trajectory 10 × 100 → UMAP (median of {len(lat['trajectory_10x100'])}) | "
                   f"{fmt(med(lat['trajectory_10x100']), 2)} s | ≤ 2.5 s (issue 9) |",
                   *([f"| Denoising view 500 × 50, guided + unguided → map (median of {len(lat['denoising_500x50'])}) | "
                      f"{fmt(med(lat['denoising_500x50']), 2)} s | ≤ 5 s |"] if "denoising_500x50" in lat else []),
                   *([f"| lasso → Generate more like these → map (median of {len(lat['lasso_generate_more'])}) | "
                      f"{fmt(med(lat['lasso_generate_more']), 2)} s | ≤ 3 s (issue 9) |"]
                     if "lasso_generate_more" in lat else []),
                   *([f"| Evaluate a 1,000-cell set, first on a fresh server | {fmt(lat['evaluate_first'], 1)} s | "
                      f"≤ 15 s (issue 9) |"] if "evaluate_first" in lat else []),
                   f"| two sessions generating at once, both done | {fmt(two['both'], 1)} s | |",
                   f"| server peak memory (VmHWM) | {two['server_vmhwm_whole_run'] / 2**20:.0f} MiB | ≤ 2 GB |", ""]
        md += ["Conditions, where the time goes and thread settings: [benchmarks_app.md](benchmarks_app.md).", ""]
    md += roofline_section(load) + scale_section(load) + ddp_quality_section(load) + reliability_section(load)
    pages = [("benchmarks_realism.md", "realism over split seeds, scVI and GGE side by side"),
             ("benchmarks_trajectory.md", "trajectories: methods, test table, a real time course"),
             ("benchmarks_app.md", "the app in Chromium"),
             ("benchmarks_encoder_init.md", "a pretrained encoder start for small data"),
             ("benchmarks_whitebox.md", "the White-Box claim: CRATE against DiT"),
             ("benchmarks_unseen.md", "unseen combinations: two-stage compositions, technical replicates")]
    md += ["## Pages of their own", ""] + [f"- [{f}]({f}): {what}" for f, what in pages
                                             if (ROOT / "docs" / f).exists()] + [""]
    OUT.write_text("\n".join(md) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
