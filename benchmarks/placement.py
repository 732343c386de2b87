"""Where cells land on the reference map: UMAP-transform placement against the plain neighbour mean (issue 9).

    python benchmarks/placement.py --checkpoint checkpoints/pbmc68k

Held-out *test* cells (real, so they belong where real cells are) and as many generated cells per
label are placed on the checkpoint's reference UMAP both ways (``ReferenceMap.project(how=…)``).
Reported per placement: the median distance to the nearest training cell on the map and the share of
cells farther than 3 typical neighbour distances (the median nearest-neighbour distance among
training cells) — cells drawn in empty space —, the share whose nearest training cell on the map has
their label, and the seconds per call; also 1,000 generated cells of the rarest label (pbmc68k:
CD34+, whose 1,000 cells once drew an arc through the empty space towards the dendritic cells). Results: benchmarks/results/placement_<checkpoint>.json.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.common import machine, save_json, set_threads  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", default="checkpoints/pbmc68k")
    a = ap.parse_args()
    set_threads(1)
    from sklearn.neighbors import NearestNeighbors

    from scdiff_core.evaluation import HeldOut
    from scdiff_core.model import SCDiffModel

    m = SCDiffModel.load(a.checkpoint)
    held, rm = HeldOut(m), m.reference_map
    key = held.label_key
    ref_lab = np.asarray(m.config["vocab"][key])[m.reference[f"label_{key}"]]
    nn = NearestNeighbors(n_neighbors=2).fit(rm.ref_umap)
    typical = float(np.median(nn.kneighbors(rm.ref_umap)[0][:, 1]))
    counts = {k: int(v) for k, v in held.test.obs[key].astype(str).value_counts().items() if v > 0}
    gen = m.generate([({key: lab}, n) for lab, n in counts.items()], seed=0)
    rare = min(m.vocab[key], key=lambda v: m.config["counts"][key][v])  # the rarest label: where arcs showed
    many = m.generate({key: rare}, 1000, seed=0)
    rows = []
    for name, X, lab in (("real test cells", np.asarray(held.test.X), held.test.obs[key].astype(str).to_numpy()),
                         ("generated cells", np.asarray(gen.X), gen.obs[key].astype(str).to_numpy()),
                         (f"1,000 generated {rare}", np.asarray(many.X), many.obs[key].astype(str).to_numpy())):
        for how in ("mean", "umap"):
            t0 = time.perf_counter()
            Y = rm.project(X, how=how)
            secs = time.perf_counter() - t0
            d, i = nn.kneighbors(Y, n_neighbors=1)
            r = {"cells": name, "placement": how, "n": len(X), "seconds": secs,
                 "median_distance": float(np.median(d[:, 0]) / typical),
                 "far_share": float(np.mean(d[:, 0] / typical > 3)),
                 "nearest_label_agrees": float(np.mean(ref_lab[i[:, 0]] == lab))}
            print(r, flush=True)
            rows.append(r)
    save_json(f"placement_{Path(a.checkpoint).name}", {"checkpoint": a.checkpoint, "rows": rows, "machine": machine()})


if __name__ == "__main__":
    main()
