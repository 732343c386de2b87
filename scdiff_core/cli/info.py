"""``scdiff info``: what a checkpoint is (data, genes, conditions, backbone, training, fingerprint)."""
from __future__ import annotations

from .args import add_fingerprint

HELP = "describe a checkpoint"


def add_parser(sub) -> None:
    inf = sub.add_parser("info", help=HELP)
    inf.add_argument("checkpoint")
    add_fingerprint(inf)
    inf.set_defaults(func=run)


def run(a) -> int:
    from ..fingerprint import pinned_for
    from ..model import SCDiffModel

    model = SCDiffModel.load(a.checkpoint)
    c = model.config
    s = model.summary()
    print(f"checkpoint: {a.checkpoint}")
    pinned = " (the shipped one: matches the fingerprint pinned in scdiff)" if pinned_for(a.checkpoint) else ""
    print(f"fingerprint: {model.fingerprint}{pinned}")
    src = c["data"].get("source") or {}
    where = f" ({src['path']})" if isinstance(src, dict) and src.get("path") else ""
    print(f"dataset:    {src.get('source') if isinstance(src, dict) else src}{where}")
    print(f"data kind:  {s['kind']} → decoder likelihood {s['likelihood']}; diffusion space: {s['space']}")
    print(f"genes:      {s['genes']}; training cells: {s['cells_train']} (val {len(c['split']['val'])}, "
          f"test {len(c['split']['test'])})")
    print(f"backbone:   {s['backbone']} ({s['backbone_parameters']:,} parameters) {c['backbone']['hparams']}")
    seconds = (c.get("training") or {}).get("seconds_total")
    took = f" in {seconds / 60:.1f} min" if isinstance(seconds, (int, float)) else ""
    print(f"trained by: {c.get('command') or '(not recorded)'}{took}")
    import numpy as np

    from ..summaries import training_count

    for col in model.conditions:  # counts among the training cells (all of them, not the map's sample)
        codes = model.reference.get(f"label_{col}")
        if c.get("combination_counts") is not None:
            items, scope = [f"{v} ({training_count(model, {col: v})})" for v in model.vocab[col]], "training cells"
        elif codes is not None and len(codes) == len(c["split"]["train"]):  # older: the map holds every cell
            n = np.bincount(np.asarray(codes, dtype=np.int64), minlength=len(model.vocab[col]))
            items, scope = [f"{v} ({k})" for v, k in zip(model.vocab[col], n)], "training cells"
        else:
            counts = c.get("counts", {}).get(col, {})
            items, scope = [f"{v} ({counts.get(v, '?')})" for v in model.vocab[col]], "all cells"
        vals = ", ".join(items[:40]) + (f" … and {len(items) - 40} more" if len(items) > 40 else "")
        print(f"condition {col} ({scope}): {vals}")
    from ..calibration import calibrated_defaults

    cal = calibrated_defaults(c)
    for mode in ("free", "chained", "classifier"):
        print(f"guidance defaults ({mode}): "
              + ", ".join(f"{k} {v:g}" for k, v in model.default_scales(mode).items())
              + (" (calibrated on validation cells)" if mode in cal else ""))
    return 0
