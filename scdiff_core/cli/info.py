"""``scdiff info``: what a checkpoint is (data, genes, conditions, backbone, training)."""
from __future__ import annotations

HELP = "describe a checkpoint"


def add_parser(sub) -> None:
    inf = sub.add_parser("info", help=HELP)
    inf.add_argument("checkpoint")
    inf.set_defaults(func=run)


def run(a) -> int:
    from ..model import SCDiffModel

    model = SCDiffModel.load(a.checkpoint)
    c = model.config
    s = model.summary()
    print(f"checkpoint: {a.checkpoint}")
    src = c["data"].get("source") or {}
    where = f" ({src['path']})" if isinstance(src, dict) and src.get("path") else ""
    print(f"dataset:    {src.get('source') if isinstance(src, dict) else src}{where}")
    print(f"data kind:  {s['kind']} → decoder likelihood {s['likelihood']}; diffusion space: {s['space']}")
    print(f"genes:      {s['genes']}; training cells: {s['cells_train']} (val {len(c['split']['val'])}, "
          f"test {len(c['split']['test'])})")
    print(f"backbone:   {s['backbone']} ({s['backbone_parameters']:,} parameters) {c['backbone']['hparams']}")
    print(f"trained by: {c.get('command') or '(not recorded)'} in {c['training']['seconds_total'] / 60:.1f} min")
    import numpy as np

    for col in model.conditions:  # counts among the training cells (the stored reference), else over all cells
        codes = model.reference.get(f"label_{col}")
        if codes is not None:
            n = np.bincount(np.asarray(codes, dtype=np.int64), minlength=len(model.vocab[col]))
            vals, scope = ", ".join(f"{v} ({k})" for v, k in zip(model.vocab[col], n)), "training cells"
        else:
            vals, scope = ", ".join(f"{v} ({k})" for v, k in c["counts"][col].items()), "all cells"
        print(f"condition {col} ({scope}): {vals}")
    for mode in ("free", "classifier"):
        print(f"guidance defaults ({mode}): "
              + ", ".join(f"{k} {v:g}" for k, v in model.default_scales(mode).items())
              + (" (calibrated on validation cells)" if mode in (c["guidance_defaults"].get("calibrated") or {}) else ""))
    return 0
