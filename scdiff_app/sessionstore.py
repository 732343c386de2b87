"""Results that survive a reload: each browser session's results kept on disk under a token in its URL.

Every session gets a token (URL parameter ``s``; a new one unless the URL brings one whose folder
exists). Each result (generated set, trajectory, upload, with its evaluation reports) is written to
``<sessions>/<token>/<id>.h5ad`` + ``<id>.json`` when it is made and deleted when it is dropped, each
file through a temporary name and a rename, so a reload, a dropped connection or a shared link opens
with the same results (same server). Folders untouched for :data:`KEEP_DAYS` days are pruned when a
new session starts. ``SCDIFF_SESSIONS`` sets the folder (default ``~/.scdiff/sessions``);
``SCDIFF_SESSIONS=off`` keeps results in memory only.
"""
from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import time
from pathlib import Path

import streamlit as st

from scdiff_core.common import to_jsonable

TOKEN = "s"
"""URL parameter holding the session's token."""
KEEP_DAYS = 7
_TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{8,40}")
_META = ("id", "kind", "name", "ckpt", "params", "created", "seconds")


def sessions_dir() -> Path | None:
    v = os.environ.get("SCDIFF_SESSIONS", "")
    if v.lower() == "off":
        return None
    return Path(v or "~/.scdiff/sessions").expanduser()


def token() -> str | None:
    """This session's token (made or taken from the URL once per session), also put in the URL."""
    root = sessions_dir()
    if root is None:
        return None
    ss = st.session_state
    if "_session_token" not in ss:
        t = st.query_params.get(TOKEN, "")
        if _TOKEN_RE.fullmatch(t or "") and (root / t).is_dir():
            ss["_session_token"] = t
            ss["results"] = load_all(root / t)
        else:
            ss["_session_token"] = secrets.token_urlsafe(9)
            _prune(root)
    if st.query_params.get(TOKEN) != ss["_session_token"]:
        st.query_params[TOKEN] = ss["_session_token"]
    return ss["_session_token"]


def _folder() -> Path | None:
    root, t = sessions_dir(), st.session_state.get("_session_token")
    return None if root is None or t is None else root / t


def _atomic(path: Path, write) -> None:
    tmp = path.with_name(f".{path.name}.part")
    write(tmp)
    os.replace(tmp, path)


def save(rec: dict) -> None:
    """Write one result (cells and what describes it, its reports included) to the session's folder."""
    d = _folder()
    if d is None:
        return
    d.mkdir(parents=True, exist_ok=True)
    if not (d / f"{rec['id']}.h5ad").exists():
        _atomic(d / f"{rec['id']}.h5ad", lambda p: rec["adata"].write_h5ad(p))
    meta = {k: rec.get(k) for k in _META}
    reps = rec.get("reports") or {}
    meta["reports"] = [{"key": list(k) if isinstance(k, tuple) else k, "report": r.to_dict()} for k, r in reps.items()]
    _atomic(d / f"{rec['id']}.json", lambda p: p.write_text(json.dumps(to_jsonable(meta))))


def forget(rid: str) -> None:
    d = _folder()
    if d is None:
        return
    for suf in (".h5ad", ".json"):
        (d / f"{rid}{suf}").unlink(missing_ok=True)


def load_all(d: Path) -> dict[str, dict]:
    """The results kept in folder ``d``, oldest first; unreadable ones are skipped."""
    import anndata as ad

    from scdiff_core.metrics.report import EvaluationReport

    out = {}
    metas = []
    for p in d.glob("*.json"):
        try:
            metas.append(json.loads(p.read_text()))
        except (OSError, ValueError):
            continue
    for meta in sorted(metas, key=_made_at):
        try:
            rec = {k: meta[k] for k in _META}
            rec["adata"] = ad.read_h5ad(d / f"{rec['id']}.h5ad")
            reps = {tuple(r["key"]) if isinstance(r["key"], list) else r["key"]: EvaluationReport.from_dict(r["report"])
                    for r in meta.get("reports") or []}
            if reps:
                rec["reports"] = reps
        except Exception:  # a damaged or foreign file: leave it out, keep the rest
            continue
        out[rec["id"]] = rec
    return out


def _made_at(meta: dict) -> int:
    """A result id ends in the nanosecond it was made (results.make_record): the order to restore in."""
    try:
        return int(str(meta.get("id", "")).rsplit("-", 1)[-1])
    except ValueError:
        return 0


def _prune(root: Path) -> None:
    """Delete session folders untouched for KEEP_DAYS days."""
    if not root.is_dir():
        return
    old = time.time() - KEEP_DAYS * 86400
    for d in root.iterdir():
        try:
            if d.is_dir() and _TOKEN_RE.fullmatch(d.name) and d.stat().st_mtime < old:
                shutil.rmtree(d, ignore_errors=True)
        except OSError:
            continue
