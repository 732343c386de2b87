"""Training runs started from the app: background ``scdiff train`` processes and their records.

Each run has a record ``<name>.json``, a log ``<name>.log`` and a progress file
``<name>.progress.json`` in :func:`~scdiff_app.settings.jobs_dir`, so runs outlive the browser
session (and the server: a restarted server still lists them).
"""
from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import streamlit as st

from .settings import ROOT, jobs_dir, user_root

STAGE_RE = re.compile(r"(autoencoder|diffusion|classifier_[^:\r\n]+|reference):\s+(\d+)%\|[^|]*\|\s*(\d+)/(\d+)")
NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


@st.cache_resource(show_spinner=False)
def _live_jobs() -> dict:
    """Popen handles of training jobs started by this server process (name -> Popen)."""
    return {}


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie child counts as ended
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[-1][:1] != "Z"
    except OSError:
        return True


def _check_new_name(name: str) -> Path:
    from scdiff_core.errors import ScdiffError

    if not NAME_RE.fullmatch(name):
        raise ScdiffError("Model names may use letters, digits, '.', '_' and '-' (up to 64 characters), "
                          "starting with a letter or digit.")
    out = user_root() / name
    if (out / "config.json").exists():
        raise ScdiffError(f"A model named {name!r} already exists in {user_root()}. Pick another name.")
    for j in list_jobs():
        if j["name"] == name and j["status"] == "running":
            raise ScdiffError(f"A training run named {name!r} is already running.")
    return out


def start_training(name: str, data_path: str, conditions: list[str], extra: list[str]) -> dict:
    """Start ``scdiff train`` as a background process writing into the user folder; returns its job record."""
    out = _check_new_name(name)
    jobs_dir().mkdir(parents=True, exist_ok=True)
    log = jobs_dir() / f"{name}.log"
    # SCDIFF_APP_TRAIN_ARGS: further `scdiff train` options appended to every run started from the app
    # (later options win, e.g. to shorten runs on a slow machine or in tests).
    more = shlex.split(os.environ.get("SCDIFF_APP_TRAIN_ARGS", ""))
    progress_file = jobs_dir() / f"{name}.progress.json"
    progress_file.unlink(missing_ok=True)
    cmd = [sys.executable, "-m", "scdiff_core.cli", "train", "--data", data_path,
           "--conditions", ",".join(conditions), "--out", str(out), "--progress-file", str(progress_file),
           *extra, *more]
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    with open(log, "wb") as lf:
        proc = subprocess.Popen(cmd, cwd=str(ROOT), stdout=lf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=env, start_new_session=True)
    rec = {"name": name, "pid": proc.pid, "out": str(out), "log": str(log), "data": data_path,
           "conditions": conditions, "command": " ".join(cmd[2:]).replace("scdiff_core.cli", "scdiff", 1),
           "started": time.time(), "returncode": None}
    _write_job(rec)
    _live_jobs()[name] = proc

    def wait():
        rc = proc.wait()
        r = _read_job(name) or rec
        r["returncode"] = rc
        r["ended"] = time.time()
        _write_job(r)

    threading.Thread(target=wait, name=f"train-{name}", daemon=True).start()
    return rec


def _write_job(rec: dict) -> None:
    p = jobs_dir() / f"{rec['name']}.json"
    tmp = p.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(rec))
    os.replace(tmp, p)


def _read_job(name: str) -> dict | None:
    try:
        return json.loads((jobs_dir() / f"{name}.json").read_text())
    except (OSError, ValueError):
        return None


def parse_progress(text: str) -> dict:
    """The latest tqdm state of each stage in a ``scdiff train`` log."""
    stages: dict[str, tuple[int, int]] = {}
    for mt in STAGE_RE.finditer(text):
        stages[mt.group(1)] = (int(mt.group(3)), int(mt.group(4)))
    err = [ln[len("error:"):].strip() for ln in re.split(r"[\r\n]+", text) if ln.startswith("error:")]
    return {"stages": stages, "current": next(reversed(stages), None) if stages else None,
            "error": err[-1] if err else None}


def overall_progress(job: dict) -> tuple[float, str]:
    """(fraction done, caption) of a training job over its stages in order: autoencoder, diffusion,
    one classifier per column, the reference map, then the guidance calibration (app-started runs
    calibrate; a stage missing from the list still shows its own name and the stage count)."""
    cur = job.get("current")
    if cur is None:
        return 0.0, "preparing the data…"
    stages = (["autoencoder", "diffusion"] + [f"classifier_{c}" for c in job.get("conditions", [])]
              + ["reference", "calibration"])
    step, total = job["stages"][cur]
    k = stages.index(cur) if cur in stages else len(stages) - 1
    frac = (k + step / max(1, total)) / len(stages)
    return min(1.0, frac), f"stage {k + 1}/{len(stages)}: {cur} {step:,}/{total:,}"


def _log_tail(path: str, size: int = 200_000) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(0, 2)
            f.seek(max(0, f.tell() - size))
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""


def _read_progress_file(rec: dict) -> None:
    """The machine-readable progress written by ``scdiff train --progress-file`` wins over the log."""
    try:
        pf = json.loads((jobs_dir() / f"{rec['name']}.progress.json").read_text())
        rec["stages"] = {k: (int(v["step"]), int(v["total"])) for k, v in pf.get("stages", {}).items()}
        rec["current"] = pf.get("current") or rec.get("current")
        rec["error"] = pf.get("error") or rec.get("error")
    except (OSError, ValueError, KeyError, TypeError):
        pass


def _status(rec: dict) -> str:
    proc = _live_jobs().get(rec["name"])
    mine = proc is not None and proc.pid == rec["pid"]
    rc = rec.get("returncode")
    if mine and rc is None:
        rc = proc.poll()
    if rc is None and (proc.poll() is None if mine else _pid_alive(int(rec["pid"]))):
        return "running"
    if (Path(rec["out"]) / "config.json").exists() and rc in (0, None):
        return "done"
    return "cancelled" if rec.get("cancelled") else "failed"


def job_status(rec: dict) -> dict:
    """Add status ('running', 'done', 'failed', 'cancelled'), progress and the error line to a job record."""
    rec = dict(rec)
    text = _log_tail(rec["log"])
    rec.update(parse_progress(text))
    _read_progress_file(rec)
    rec["status"] = _status(rec)
    rec["log_tail"] = "\n".join(re.split(r"[\r\n]+", text.strip())[-8:])
    return rec


def list_jobs() -> list[dict]:
    """Every recorded training run, newest first, with its status."""
    try:
        files = sorted(jobs_dir().glob("*.json"), key=lambda p: p.stat().st_mtime, reverse=True)
    except OSError:
        return []
    out = []
    for p in files:
        try:
            out.append(job_status(json.loads(p.read_text())))
        except (OSError, ValueError, KeyError):
            continue
    return out


def cancel_job(name: str) -> None:
    rec = _read_job(name)
    if rec is None:
        return
    rec["cancelled"] = True
    _write_job(rec)
    try:
        os.killpg(int(rec["pid"]), signal.SIGTERM)  # the job's own process group (start_new_session)
    except (ProcessLookupError, PermissionError):
        pass


def remove_job(name: str) -> dict:
    """Forget a finished, failed or cancelled run: its record, log and progress file, and — when the run
    did not finish — the folder it was writing (its resumable ``.train_state`` can be tens of MB).

    A folder holding a finished checkpoint (``config.json``) is never deleted here, nor anything outside
    the user's models folder. Returns ``{"freed_bytes": …}``.
    """
    import shutil

    rec = _read_job(name) or {}
    if rec.get("pid") and _status(rec) == "running":
        raise RuntimeError(f"{name} is still running; cancel it first.")
    freed = 0
    out = Path(rec.get("out", "")) if rec.get("out") else None
    root = user_root().resolve()
    if out is not None and out.is_dir() and not (out / "config.json").exists() and root in out.resolve().parents:
        freed += sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
        shutil.rmtree(out, ignore_errors=True)
    for suf in (".json", ".log", ".progress.json"):
        p = jobs_dir() / f"{name}{suf}"
        try:
            freed += p.stat().st_size
            p.unlink()
        except OSError:
            pass
    _live_jobs().pop(name, None)
    return {"freed_bytes": freed}


def running_inputs() -> set[str]:
    """Data files of the runs still going (their uploads must not be deleted)."""
    return {str(j["data"]) for j in list_jobs() if j["status"] == "running"}
