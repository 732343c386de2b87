"""A checkpoint's quality results: ``benchmarks/results/*.json`` naming it and its docs/benchmarks.md section."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd

from .settings import ROOT


def benchmark_results(name: str, root: Path = ROOT) -> list[tuple[str, dict]]:
    """(file name, content) of each ``benchmarks/results/*.json`` whose checkpoint is named ``name``."""
    found = []
    res_dir = root / "benchmarks" / "results"
    for p in sorted(res_dir.glob("*.json")) if res_dir.is_dir() else []:
        try:
            d = json.loads(p.read_text())
        except (OSError, ValueError):
            continue
        ck = str(d.get("checkpoint", "")) if isinstance(d, dict) else ""
        if ck and Path(ck).name == name and "report" in d:
            found.append((p.name, d))
    return found


def benchmark_section(name: str, root: Path = ROOT) -> str | None:
    """The docs/benchmarks.md sections whose heading names ``name`` (else its lines naming it, with table rules)."""
    md = root / "docs" / "benchmarks.md"
    if not md.is_file():
        return None
    text = md.read_text(errors="replace")
    word = re.compile(rf"\b{re.escape(name)}\b", re.I)
    parts = re.split(r"(?m)^(?=#{1,3} )", text)
    hits = [s for s in parts if s.startswith("#") and word.search(s.splitlines()[0])]
    if hits:
        return "\n".join(hits)
    if word.search(text):
        return "\n".join(ln for ln in text.splitlines() if word.search(ln)
                         or ln.startswith("|--") or ln.startswith("| --"))
    return None


def benchmark_figures(name: str) -> tuple[list[tuple[str, dict]], str | None]:
    """Quality results for a checkpoint: benchmarks/results/*.json naming it, and its docs/benchmarks.md section."""
    return benchmark_results(name), benchmark_section(name)


def benchmark_table(result: dict) -> pd.DataFrame | None:
    """The summary table of one results file (with its Gaussian baseline's generated row), or None if unreadable."""
    from scdiff_core.metrics import EvaluationReport

    try:
        summ = EvaluationReport.from_dict(result["report"]).summary()
    except Exception:
        return None
    if "gaussian" in result:
        try:
            gs = EvaluationReport.from_dict(result["gaussian"]).summary()
            gs = gs[gs["set"] == "generated"].assign(set="gaussian baseline")
            summ = pd.concat([summ, gs], ignore_index=True)
        except Exception:
            pass
    return summ


def benchmark_caption(fname: str, result: dict) -> str:
    """Where a results file is and how its cells were made."""
    when = (result.get("machine") or {}).get("date", "")
    return (f"`benchmarks/results/{fname}` — guidance {result.get('guidance')}, {result.get('sampler')} "
            f"{result.get('steps')} steps, {result.get('n_generated')} cells, {when}")
