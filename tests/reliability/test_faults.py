"""kill -9 while a checkpoint is written and while training runs: the folder in --out always loads
(the previous checkpoint or the new one, never a mix), the user's files in it survive, and running
the command again gives a checkpoint that loads and generates, with no leftovers beside it."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from scdiff_core.model import SCDiffModel

ROOT = Path(__file__).resolve().parents[2]

# A child that saves a model over an existing checkpoint and kills itself (SIGKILL) at one point.
CHILD = textwrap.dedent("""
    import os, signal, sys
    import scdiff_core.outdir as O, scdiff_core.checkpoint as C
    from scdiff_core.model import SCDiffModel
    src, dst, point = sys.argv[1:4]
    die = lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL)
    if point == "mid-write":          # after the first weight file
        real = C.save_file
        C.save_file = lambda *a, **k: (real(*a, **k), die())
    elif point == "before-swap":
        O._exchange = lambda a, b: die()
    elif point == "after-swap":       # the old checkpoint still sits beside --out
        O._remove_leftover = lambda *a: die()
    elif point == "between-renames":  # a system without renameat2: --out is gone for a moment
        O._exchange = lambda a, b: False
        real = O.os.replace
        calls = []
        def rep(a, b):
            calls.append(1)
            real(a, b)
            if len(calls) == 1:
                die()
        O.os.replace = rep
    m = SCDiffModel.load(src)
    m.config["command"] = "new"
    m.save(dst)
""")


def _child(*args, env=None) -> int:
    return subprocess.run([sys.executable, "-c", CHILD, *map(str, args)], cwd=ROOT, env=env,
                          capture_output=True, timeout=120).returncode


def _leftovers(d: Path) -> list[str]:
    return sorted(p.name for p in d.parent.iterdir() if p.name.startswith(f".{d.name}."))


@pytest.mark.parametrize("point", ["mid-write", "before-swap", "after-swap", "between-renames"])
def test_kill_while_writing_a_checkpoint(point, tiny_model_dir, tmp_path):
    out = tmp_path / "model"
    shutil.copytree(tiny_model_dir, out)
    (out / "notes.txt").write_text("the user's notes")
    old = SCDiffModel.load(out).fingerprint
    assert _child(tiny_model_dir, out, point) == -signal.SIGKILL
    if point == "between-renames":
        assert not out.exists()  # the window the exchange avoids; recovery below restores it
        from scdiff_core.outdir import recover

        recover(out)
    m = SCDiffModel.load(out)  # the previous checkpoint or the new one, whole
    assert m.fingerprint == old or m.config["command"] == "new"
    assert (out / "notes.txt").read_text() == "the user's notes"
    # the same command again: no leftovers, the new checkpoint loads and generates, the notes are kept
    assert _child(tiny_model_dir, out, "none") == 0
    assert _leftovers(out) == []
    m = SCDiffModel.load(out)
    assert m.config["command"] == "new" and m.generate({}, 4, steps=2).n_obs == 4
    assert (out / "notes.txt").read_text() == "the user's notes"


def _train_cmd(data: Path, out: Path, progress: Path) -> list[str]:
    cfg = {"backbone_hparams": {"widths": [32, 32]}, "ae_hidden": [32], "classifier_hidden": [32], "save_every": 20}
    return [sys.executable, "-m", "scdiff_core.cli", "train", "--data", str(data), "--conditions", "cell_type",
            "--out", str(out), "--ae-epochs", "300", "--diffusion-iters", "3000", "--classifier-iters", "1500",
            "--latent-dim", "4", "--threads", "1", "--progress-file", str(progress), "--config", json.dumps(cfg)]


def _kill_in(stage: str, cmd: list[str], progress: Path) -> None:
    """Start training and kill -9 it once ``stage`` has made progress."""
    progress.unlink(missing_ok=True)
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    try:
        while time.time() < deadline and proc.poll() is None:
            try:
                st = json.loads(progress.read_text())["stages"].get(stage, {})
            except (OSError, ValueError, KeyError):
                st = {}
            if st.get("step", 0) >= 1 and st.get("step", 0) < st.get("total", 0):
                break
            time.sleep(0.05)
        assert proc.poll() is None, f"training ended before it could be killed in {stage}"
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()


@pytest.mark.slow
def test_kill_during_each_training_stage(synthetic_path, tiny_model_dir, tmp_path):
    out, progress = tmp_path / "model", tmp_path / "progress.json"
    shutil.copytree(tiny_model_dir, out)  # a previous checkpoint that must stay loadable throughout
    (out / "notes.txt").write_text("the user's notes")
    old = SCDiffModel.load(out).fingerprint
    cmd = _train_cmd(synthetic_path, out, progress)
    for stage in ("autoencoder", "diffusion", "classifier_cell_type"):
        _kill_in(stage, cmd, progress)
        assert SCDiffModel.load(out).fingerprint == old, f"previous checkpoint changed by a kill in {stage}"
        assert (out / "notes.txt").read_text() == "the user's notes"
    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    m = SCDiffModel.load(out)
    assert m.fingerprint != old and m.generate({"cell_type": "A"}, 5, steps=3).n_obs == 5
    assert (out / "notes.txt").read_text() == "the user's notes"
    assert not (out / ".train_state").exists() and _leftovers(out) == []
