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
    for col in model.conditions:
        vals = ", ".join(f"{v} ({n})" for v, n in c["counts"][col].items())
        print(f"condition {col}: {vals}")
    print(f"guidance defaults: {c['guidance_defaults']}")
    return 0
