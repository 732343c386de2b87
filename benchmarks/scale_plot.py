"""Plot of benchmarks/results/scale.json: training peak RSS and seconds per autoencoder epoch against cells,
and generation time against cells (10^3-10^6: the library in memory from sampling_roofline_paul15.json,
the streamed CLI from scale.json).

    python benchmarks/scale_plot.py     # writes docs/scale.png
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.common import RESULTS, ROOT  # noqa: E402


def main() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    r = json.loads((RESULTS / "scale.json").read_text())
    fig, (ax1, ax2, ax3) = plt.subplots(1, 3, figsize=(14, 4))
    for mode, mark in (("chunked", "o-"), ("memory", "s--")):
        rows = [x for x in r["rows"] if f"train_{mode}" in x]
        n = [x["n_cells"] for x in rows]
        ax1.plot(n, [x[f"train_{mode}"]["peak_rss_mb"] / 1024 for x in rows], mark, label=f"train, {mode}")
        ax2.plot(n, [x[f"train_{mode}"]["stages"]["autoencoder"] for x in rows], mark, label=f"train, {mode}")
    gen = [x for x in r["rows"] if "generate" in x]
    ax1.plot([x["n_cells"] for x in gen], [x["generate"]["peak_rss_mb"] / 1024 for x in gen], "^:", label="generate (streamed)")
    ax3.plot([x["n_cells"] for x in gen], [x["generate"]["seconds"] for x in gen], "^:", label="scdiff generate (streamed, CLI)")
    roof = RESULTS / "sampling_roofline_paul15.json"
    if roof.exists():
        sc = json.loads(roof.read_text()).get("scaling", [])
        ax3.plot([x["n"] for x in sc], [x["seconds"] for x in sc], "o-", label="model.generate (in memory, library)")
        ax1.plot([x["n"] for x in sc], [x["peak_rss_mb"] / 1024 for x in sc], "o-", label="generate (in memory)")
    ax3.set_yscale("log")
    ax1.axhline(4, color="grey", lw=0.8)
    ax1.text(1.1e4, 4.05, "train target 4 GB", color="grey", fontsize=8)
    for ax, title in ((ax1, "peak RSS (GB)"), (ax2, "seconds per autoencoder epoch"),
                      (ax3, "seconds to generate (DDIM-50, classifier-free)")):
        ax.set_xscale("log")
        ax.set_xlabel("cells in the atlas (60 % train)" if ax is not ax3 else "cells generated")
        ax.set_title(title)
        ax.legend(fontsize=8)
    ax2.set_yscale("log")
    fig.suptitle(f"scdiff at scale, 2 CPU cores ({r['machine']['date']}; {r['command']})", fontsize=8)
    fig.tight_layout()
    out = ROOT / "docs" / "scale.png"
    fig.savefig(out, dpi=110)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
