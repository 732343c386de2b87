"""Run the malformed-input corpus (tests/reliability/corpus_*.py) and print what scdiff did with it.

CLI cases run as real subprocesses (``python -m scdiff_core.cli …``, a wall-clock limit each, so
a hang is seen as one); library and app cases run in this process. The checkpoint the cases
copy and edit is ``checkpoints/pbmc68k`` re-saved by this version (its weights unchanged). Counts
per outcome go to stdout and to benchmarks/results/reliability_corpus.json.

    flock /tmp/cpu.lock python scripts/reliability_corpus.py [--only SUBSTRING] [--timeout 60]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "reliability"))

import corpus  # noqa: E402

FLAGS = ("traceback", "hang", "silent", "unclear", "written", "touched")


def _subprocess(c: corpus.Case, timeout: float) -> tuple[int | None, str, float]:
    env = {**os.environ, "SCDIFF_LOG_DIR": str(c.tmp.parent / "_logs"), **c.env}
    t0 = time.perf_counter()
    try:
        r = subprocess.run([sys.executable, "-m", "scdiff_core.cli", *c.argv], cwd=ROOT, env=env,
                           capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        return r.returncode, r.stderr, time.perf_counter() - t0
    except subprocess.TimeoutExpired as e:
        return None, (e.stderr or b"").decode(errors="replace") if isinstance(e.stderr, bytes) else (e.stderr or ""), \
            time.perf_counter() - t0


def run(name: str, root: Path, ckpt: Path, timeout: float) -> dict:
    import re

    tmp = root / re.sub(r"[^\w.-]+", "_", name)[:80]
    tmp.mkdir(parents=True)
    c = corpus.CASES[name](tmp, ckpt)
    c.tmp = tmp
    before = corpus.snapshot(tmp)
    if c.argv is not None:
        rc, err, seconds = _subprocess(c, timeout)
        flags = corpus.verdict(c, rc, err, None, before, corpus.snapshot(tmp), 0.0)
        flags["hang"] = rc is None
        result = None
    else:
        t0 = time.perf_counter()
        rc, err, result = corpus.run_inprocess(c)
        seconds = time.perf_counter() - t0
        flags = corpus.verdict(c, rc, err, result, before, corpus.snapshot(tmp), seconds)
    lines = [ln for ln in err.splitlines() if ln.strip()]
    return {"case": name, "kind": "cli" if c.argv is not None else "call", "rc": rc, "seconds": round(seconds, 2),
            "message": lines[-1][:300] if lines else (repr(result)[:100] if result is not None else ""),
            **{k: bool(flags[k]) for k in FLAGS}}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", default="", help="run the cases whose name contains this")
    ap.add_argument("--timeout", type=float, default=60.0, help="seconds before a CLI case counts as a hang")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "reliability_corpus.json"))
    a = ap.parse_args()
    import torch

    from scdiff_core.model import SCDiffModel

    torch.set_num_threads(1)
    corpus.load_all()
    names = [n for n in sorted(corpus.CASES) if a.only in n]
    with tempfile.TemporaryDirectory(prefix="scdiff-corpus-") as td:
        ckpt = SCDiffModel.load(ROOT / "checkpoints" / "pbmc68k").save(Path(td) / "pbmc68k")
        rows = []
        for n in names:
            rows.append(run(n, Path(td) / "cases", ckpt, a.timeout))
            bad = [k for k in FLAGS if rows[-1][k]]
            print(f"{'FAIL ' + ','.join(bad) if bad else 'ok'}\t{rows[-1]['seconds']:6.1f}s\t{n}\t{rows[-1]['message']}")
    counts = {k: sum(r[k] for r in rows) for k in FLAGS}
    counts["cases"] = len(rows)
    counts["clear refusals"] = sum(not any(r[k] for k in FLAGS) for r in rows)
    counts["slowest refusal s"] = max((r["seconds"] for r in rows), default=0.0)
    print("\n" + "\n".join(f"{k:>20}: {v}" for k, v in counts.items()))
    if not a.only:
        Path(a.out).write_text(json.dumps({"command": "python scripts/reliability_corpus.py", "counts": counts,
                                           "cases": rows}, indent=1))
        print(f"wrote {Path(a.out).relative_to(ROOT)}")
    return 0 if counts["clear refusals"] == len(rows) else 1


if __name__ == "__main__":
    sys.exit(main())
