"""Files uploaded through the browser: cells to evaluate, and training data kept for ``scdiff train``.

The checks themselves are the library's (:mod:`scdiff_core.uploads`, limits from
:mod:`scdiff_core.validate`); this module handles Streamlit's uploaded-file objects and the app's
uploads folder. An upload is checked (size first, before its bytes are read) and only kept once
every check passed; a refused one leaves nothing behind.
"""
from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

from scdiff_core.errors import DataError
from scdiff_core.metrics.phases import usable_phase_genes
from scdiff_core.uploads import as_generated, describe_training_data, read_h5ad_bytes
from scdiff_core.validate import MB, limit, limit_hint

from .bundle import Bundle
from .downloads import safe_filename
from .settings import uploads_dir


def check_upload_size(uploaded) -> None:
    """Refuse an upload over the size limit before reading it (Streamlit reports ``size``)."""
    size = getattr(uploaded, "size", None)
    if size is not None and size > limit("upload"):
        raise DataError(f"{getattr(uploaded, 'name', 'The upload')} is {size / MB:,.3g} MB, larger than uploads may "
                        f"be {limit_hint('upload')}.")


def read_uploaded_h5ad(uploaded):
    """An uploaded file -> AnnData, or a DataError that says what to do."""
    check_upload_size(uploaded)
    return read_h5ad_bytes(uploaded.getvalue(), getattr(uploaded, "name", "upload"))


def uploaded_cells(uploaded, bundle: Bundle):
    """(cells log-normalized over the model's genes, notes for the user) from an uploaded .h5ad."""
    m = bundle.model
    return as_generated(read_uploaded_h5ad(uploaded), m.genes, m.conditions)


def save_training_upload(uploaded) -> dict:
    """Check an uploaded training file, keep it in the uploads folder and describe it.

    The file is checked (readable, usable values) in a temporary file first and copied into the
    uploads folder (under a hidden name, then renamed) only once it passed; a refused upload
    leaves nothing behind.

    Returns :func:`scdiff_core.uploads.describe_training_data` plus ``stem`` (a model name to suggest),
    ``phase_scorable`` (enough S and G2M marker genes to score the cell cycle) and ``phase_why_not``.
    """
    a = read_uploaded_h5ad(uploaded)  # raises DataError for non-h5ad / corrupt / oversized files, naming the upload
    stem = safe_filename(uploaded.name.removesuffix(".gz").removesuffix(".h5ad"))
    suffix = ".h5ad.gz" if uploaded.name.endswith(".gz") else ".h5ad"
    fd, tmp = tempfile.mkstemp(prefix="scdiff-upload-", suffix=suffix)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(uploaded.getvalue())
        info = describe_training_data(tmp)  # refused: nothing is kept
        uploads_dir().mkdir(parents=True, exist_ok=True)
        digest = _sha256(tmp)
        dest = next((p for p in stored_uploads() if p["sha256"] == digest), None)  # the same file again: reuse it
        dest = Path(dest["path"]) if dest else uploads_dir() / f"{stem}-{time.strftime('%Y%m%d-%H%M%S')}{suffix}"
        if not dest.exists():
            part = dest.with_name(f".{dest.name}.part")
            shutil.copyfile(tmp, part)
            os.replace(part, dest)
            _write_digest(dest, digest)
    finally:
        os.unlink(tmp)
    genes = a.raw.var_names if info["use_raw"] and a.raw is not None else a.var_names
    _, why_not = usable_phase_genes([str(g) for g in genes])
    return {**info, "path": str(dest), "stem": stem, "phase_scorable": why_not is None, "phase_why_not": why_not}


def _sha256(path) -> str:
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _write_digest(dest: Path, digest: str) -> None:
    dest.with_name(f".{dest.name}.sha256").write_text(digest)


def stored_uploads() -> list[dict]:
    """The training files kept in the uploads folder: ``path``, ``name``, ``bytes``, ``sha256``, newest first."""
    out = []
    d = uploads_dir()
    for p in sorted(d.glob("*.h5ad*"), key=lambda q: q.stat().st_mtime, reverse=True) if d.is_dir() else []:
        if p.name.startswith(".") or not p.is_file():
            continue
        side = p.with_name(f".{p.name}.sha256")
        digest = side.read_text().strip() if side.exists() else _sha256(p)
        if not side.exists():
            _write_digest(p, digest)
        out.append({"path": str(p), "name": p.name, "bytes": p.stat().st_size, "sha256": digest})
    return out


def delete_upload(path: str, in_use: set[str]) -> None:
    """Delete one stored upload (and its digest), unless a running training reads it."""
    p = Path(path)
    if str(p) in in_use:
        raise DataError(f"{p.name} is being read by a training run; wait for it to end or cancel it first.")
    if p.parent.resolve() != uploads_dir().resolve():
        raise DataError("Only files in the uploads folder can be deleted here.")
    p.unlink(missing_ok=True)
    p.with_name(f".{p.name}.sha256").unlink(missing_ok=True)


def plain_error(message: str) -> str:
    """A library/CLI error for the app's users: command-line flags named as what they choose."""
    import re

    m = re.sub(r"--use-raw(?: \(use_raw=True\))?", "the .raw matrix", message)
    m = re.sub(r"--layer (\w+)", r"the '\1' layer", m)
    return re.sub(r"--layer", "another layer", m).replace("--data", "the dataset")
