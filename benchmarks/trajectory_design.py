"""The design of the manifold path method, measured on paul15 validation cells (one load, many runs).

    python benchmarks/trajectory_design.py --checkpoint checkpoints/paul15 --seeds 0,1,2,3,4,5 --name trajdesign_val

Three choices, each tried by substituting one piece of :mod:`scdiff_core.trajectory.manifold`:

* the space the neighbour graph of training cells is built in: the diffusion vectors, or the PCA of
  their log-normalized expression (``reference['pcs']``, the graph scanpy's ``neighbors`` builds);
* the pace along a chain: by its length in the diffusion space, or each chain cell an equal share;
* the condition each point is re-drawn under: the λ-mix of the two ends (``local_weight`` 0), the
  labels of the training cells around the point (1), or half of each (0.5).

Later rounds (2026-12-07 evening, ``--only`` picks variants by name): the graph in a diffusion map of
the training cells' PCA (what DPT orders cells by), and ``local_weight`` 0.75 with ``t_start`` 0.2–0.45.

Each row: the figures of ``benchmarks/trajectory.py`` that depend on the settings (RF AUROC of the
intermediates against real intermediate validation cells, cell-level Spearman(λ, pseudotime),
per-λ mean pseudotime rising), mean ± sd over the seeds, for both paths. Test cells are not touched.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.common import machine, save_json, set_threads  # noqa: E402
from benchmarks.trajectory import PATHS, evaluate_path, pseudotime_reference  # noqa: E402

VARIANTS = [  # (name, graph space, pace, local_weight[, t_start])
    ("until 2026-12-07: diffusion graph, length pace, ends", "diffusion", "length", 0.0),
    ("diffusion graph, length pace, local labels", "diffusion", "length", 1.0),
    ("diffusion graph, length pace, half local", "diffusion", "length", 0.5),
    ("PCA graph, cell pace, ends", "pca", "cells", 0.0),
    ("PCA graph, cell pace, local labels", "pca", "cells", 1.0),
    ("PCA graph, cell pace, half local (default)", "pca", "cells", 0.5),
    ("diffusion-map graph, cell pace, half local", "diffmap", "cells", 0.5),
    ("diffusion-map graph, cell pace, ends", "diffmap", "cells", 0.0),
    # 2026-12-07 evening: the local condition's weight and the noise level, with the PCA graph
    ("PCA graph, cell pace, half local, t_start 0.2", "pca", "cells", 0.5, 0.2),
    ("PCA graph, cell pace, half local, t_start 0.45", "pca", "cells", 0.5, 0.45),
    ("PCA graph, cell pace, 3/4 local, t_start 0.2", "pca", "cells", 0.75, 0.2),
    ("PCA graph, cell pace, 3/4 local, t_start 0.3", "pca", "cells", 0.75, 0.3),
    ("PCA graph, cell pace, 3/4 local, t_start 0.45", "pca", "cells", 0.75, 0.45),
]
"""(name, graph space, pace, local_weight[, t_start (default 0.3)])"""


def diffmap_coordinates(model, n_comps: int = 15):
    """The diffusion map (Coifman & Lafon 2006; scanpy's ``diffmap``, what DPT orders cells by) of the
    stored training cells' expression PCA, its first (constant) component dropped."""
    import anndata as ad
    import numpy as np
    import scanpy as sc

    pcs = np.asarray(model.reference["pcs"], dtype=np.float32)
    a = ad.AnnData(np.zeros((len(pcs), 1), dtype=np.float32))
    a.obsm["X_pca"] = pcs
    sc.pp.neighbors(a, n_neighbors=15, use_rep="X_pca", random_state=0)
    sc.tl.diffmap(a, n_comps=n_comps + 1)
    return np.asarray(a.obsm["X_diffmap"][:, 1:], dtype=np.float64)


def along_by_length(line, lambdas):
    """The pace used until 2026-12-07: points at fractions of the polyline's length."""
    import numpy as np

    seg = np.linalg.norm(np.diff(line, axis=0), axis=1)
    cum = np.concatenate([[0.0], np.cumsum(seg)])
    if cum[-1] <= 0:
        return np.repeat(line[:1], len(lambdas), 0)
    s = np.asarray(lambdas, dtype=np.float64) * cum[-1]
    j = np.clip(np.searchsorted(cum, s, side="right") - 1, 0, len(seg) - 1)
    w = np.where(seg[j] > 0, (s - cum[j]) / np.where(seg[j] > 0, seg[j], 1.0), 0.0)
    return line[j] + w[:, None] * (line[j + 1] - line[j])


def main():
    import numpy as np

    import scdiff_core.trajectory.manifold as M

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", default="checkpoints/paul15")
    ap.add_argument("--seeds", default="0,1,2,3,4,5")
    ap.add_argument("--name", default="trajdesign_val")
    ap.add_argument("--only", nargs="+", default=None, metavar="VARIANT", help="run only these variants (by name)")
    a = ap.parse_args()
    set_threads(2)
    from scdiff_core.evaluation import HeldOut
    from scdiff_core.model import SCDiffModel

    model = SCDiffModel.load(a.checkpoint)
    held = HeldOut(model)
    _, place = pseudotime_reference(held)
    seeds = [int(x) for x in a.seeds.split(",")]
    pca_coords, cells_pace = M.graph_coordinates, M.along
    out = []
    try:
        for name, space, pace, w, *rest in VARIANTS:
            t_start = rest[0] if rest else 0.3
            if a.only and name not in a.only:
                continue
            M.graph_coordinates = pca_coords if space == "pca" else diffmap_coordinates if space == "diffmap" else (
                lambda m: np.asarray(m.reference["space"], dtype=np.float64))
            M.along = cells_pace if pace == "cells" else along_by_length
            model.__dict__.pop("_manifold_graphs", None)
            cfg = SimpleNamespace(method="manifold", guidance="free", t_start=t_start, scale=None, steps=50, refine=0,
                                  pairing="random", neighbors=15, local_weight=w, points=10, cells=100, split="val",
                                  repeats=1, full=False)
            row = {"variant": name, "graph": space, "pace": pace, "local_weight": w, "t_start": t_start, "paths": {}}
            for key, v in PATHS.items():
                rs = [evaluate_path(model, held, place, key, *v, cfg, seed=sd) for sd in seeds]
                auc = [r["rf_auroc_intermediates"] for r in rs]
                rho = [r["spearman_cells"] for r in rs]
                row["paths"][key] = {"rf_auroc_intermediates": float(np.mean(auc)),
                                     "rf_auroc_intermediates_sd": float(np.std(auc, ddof=1)),
                                     "spearman_cells": float(np.mean(rho)), "spearman_cells_sd": float(np.std(rho, ddof=1)),
                                     "strictly_increasing": all(r["strictly_increasing"] for r in rs), "per_seed": rs}
                p = row["paths"][key]
                print(f"{name:50s} {key}: AUROC {p['rf_auroc_intermediates']:.3f} ± {p['rf_auroc_intermediates_sd']:.3f}"
                      f"  Spearman {p['spearman_cells']:.3f}  rising {p['strictly_increasing']}", flush=True)
            out.append(row)
            save_json(a.name, {"checkpoint": a.checkpoint, "seeds": seeds, "split": "val", "rows": out,
                               "machine": machine()})
    finally:
        M.graph_coordinates, M.along = pca_coords, cells_pace


if __name__ == "__main__":
    main()
