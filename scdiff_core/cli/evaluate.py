"""``scdiff evaluate``: generated cells against the checkpoint's held-out real cells; for a trajectory
file (``uns['scdiff']['kind'] == 'trajectory'``) per-λ realism, pseudotime order and time-course placement."""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from .. import validate as V
from .args import add_fingerprint, add_threads, seed_arg, tqdm_progress

HELP = "compare generated cells with the held-out real test cells"


def add_parser(sub) -> None:
    ev = sub.add_parser("evaluate", help=HELP,
                        description="MMD², energy distance, random-forest AUROC, Spearman of gene means, zeros, "
                                    "label (and phase) fidelity, globally and per label, with a real-vs-real control row.",
                        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ev.add_argument("--checkpoint", required=True)
    ev.add_argument("--generated", required=True, help=".h5ad from scdiff generate")
    ev.add_argument("--data", help="where the training data is, if not where the checkpoint recorded it")
    ev.add_argument("--label-key", help="obs column to compare per label (default: the first condition)")
    ev.add_argument("--time-key", help="trajectory files: obs column of the real data with time points, to place "
                                       "held-out cells of each time point on the path")
    ev.add_argument("--time-order", help="trajectory files: the time points in their true order, comma-separated "
                                         "(default: numeric order)")
    ev.add_argument("--replicates", action="store_true",
                    help="also score technical replicates of the control cells (their counts redrawn): the label and "
                         "phase fidelity a model of new cells can reach (count data only)")
    ev.add_argument("--seed", type=seed_arg, default=0)
    add_threads(ev)
    add_fingerprint(ev)
    ev.add_argument("--out", help="write the report as JSON")
    ev.set_defaults(func=run)


def run(a) -> int:
    import pandas as pd

    from ..data import load_anndata
    from ..evaluation import HeldOut
    from ..model import SCDiffModel
    from ..uploads import check_generated

    out = V.output_file(a.out, "--out", ".json") if a.out else None
    model = SCDiffModel.load(a.checkpoint)
    gen_path = V.regular_file(a.generated, "--generated, the .h5ad written by `scdiff generate`").resolve()
    gen, _ = load_anndata(gen_path)  # an absolute path: never taken for a built-in dataset's name
    check_generated(gen, model, a.label_key)
    print("reading the held-out real cells…", file=sys.stderr, flush=True)
    t0 = time.perf_counter()
    held = HeldOut(model, data=a.data)
    print(f"held-out cells: {held.test.n_obs:,} test, {held.val.n_obs:,} control ({time.perf_counter() - t0:.1f} s)",
          file=sys.stderr, flush=True)
    if str(dict(gen.uns.get("scdiff", {})).get("kind", "")) == "trajectory":
        return run_trajectory(a, model, held, gen)
    report = held.evaluate(gen, label_key=a.label_key, seed=a.seed, replicates=a.replicates,
                           progress=tqdm_progress("evaluating (a random forest per row)", unit="row"))
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(report.table.round(4).to_string(index=False))
    print(headline_line(report, gen, a.label_key or held.label_key, model.conditions))
    for n in report.notes:
        print("note:", n)
    print(f"evaluated in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    if out is not None:
        from ..checkpoint import write_json_atomic

        Path(out).parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(out, report.to_dict())
        print(f"wrote {out}")
    return 0

HEADLINE_METRICS = (("rf_auroc", "RF AUROC"), ("mmd2", "MMD²"), ("scc_means", "Spearman of means"),
                    ("label_fidelity", "label fidelity"), ("phase_fidelity", "phase fidelity"))


def headline_line(report, generated, label_key, conditions) -> str:
    """The row of what the set asked for, each figure next to its control row's (what the app's cards show)."""
    from ..metrics.report import headline_rows

    scope, phase, g, c = headline_rows(report, generated, label_key, conditions)
    if g is None:
        return "headline: no generated row to show"
    what = f"the {scope} row, the {label_key} this set asked for" if scope != "all" else "the all row"
    parts = []
    for k, name in HEADLINE_METRICS:
        if k == "phase_fidelity" and not phase:
            continue
        gv = g.get(k)
        if gv is None or gv != gv:
            continue
        cv = None if c is None else c.get(k)
        parts.append(f"{name} {gv:.3f}" + ("" if cv is None or cv != cv else f" (control {cv:.3f})"))
    return f"headline ({what}, {int(g['n'])} cells): " + "; ".join(parts)


def _fmt(x) -> str:
    return "–" if x is None or x != x else f"{x:.3f}"


def run_trajectory(a, model, held, traj) -> int:
    """Print (and with ``--out`` write) :func:`~scdiff_core.metrics.trajectory.evaluate_trajectory`."""
    import anndata as ad

    from ..common import to_jsonable
    from ..errors import ScdiffError
    from ..metrics.trajectory import evaluate_trajectory

    real = ad.concat([held.val, held.test])
    if a.time_key and a.time_key not in real.obs:
        raise ScdiffError(f"The real cells have no {a.time_key!r} column; pass --time-key with a column of the "
                          f"training data ({', '.join(map(str, real.obs.columns))}).")
    order = [t.strip() for t in a.time_order.split(",")] if a.time_order else None
    if order and a.time_key:
        have = set(real.obs[a.time_key].astype(str))
        bad = [t for t in order if t not in have]
        if bad:
            raise ScdiffError(f"--time-order names {bad[0]!r}, which is not a value of {a.time_key!r}.")
    try:
        r = evaluate_trajectory(traj, held.reference, held.train, real, time_key=a.time_key, time_order=order,
                                seed=a.seed)
    except ValueError as e:
        raise ScdiffError(f"The trajectory could not be evaluated: {e}.") from None
    po = r["pseudotime"]
    print("λ       RF AUROC vs nearest real cells   mean pseudotime")
    for q, pt in zip(r["realism"], po["mean_pseudotime"]):
        print(f"{q['lambda']:<7.3f} {_fmt(q['rf_auroc']):<32} {_fmt(pt)}")
    print(f"per-λ mean pseudotime strictly rising: {'yes' if po['strictly_increasing'] else 'no'}; "
          f"Spearman(λ, pseudotime) over cells: {_fmt(po['spearman_cells'])} (root: {r['pseudotime_root']})")
    if "time_course" in r:
        tc = r["time_course"]
        print("time point  cells  mean λ")
        for t, n, m in zip(tc["order"], tc["n"], tc["mean_lambda"]):
            print(f"{t:<11} {n:<6} {_fmt(m)}")
        print(f"placed order: {' < '.join(tc['placed_order'])}; in true order: {'yes' if tc['in_order'] else 'no'}; "
              f"Spearman over cells: {_fmt(tc['spearman_cells'])}")
    if a.out:
        from ..checkpoint import write_json_atomic

        write_json_atomic(a.out, to_jsonable(r))
        print(f"wrote {a.out}")
    return 0
