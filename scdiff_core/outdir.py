"""Checkpoint folders as outputs: what scdiff owns in them, the swap, and what a cut swap leaves.

scdiff owns, in a folder it writes (``--out``): ``config.json`` when it is a scdiff checkpoint
config (a schema version and a ``files`` list), the weight files that config lists, and the
resumable state ``.train_state/`` of a training run. Everything else belongs to the user and is
never deleted or overwritten: :func:`check_out_dir` refuses a folder that holds files and is not a
checkpoint, and the swap carries the user's files into the new folder as hard links (the same
files, not copies).

The swap exchanges the new folder and ``--out`` in one step (``renameat2(RENAME_EXCHANGE)`` on
Linux), so ``--out`` never goes missing; elsewhere it falls back to two renames through
``.NAME.old-*``. A run that is killed mid-swap leaves ``.NAME.tmp-*`` / ``.NAME.old-*`` beside
``--out``; :func:`recover` (called before every write) restores ``--out`` from ``.old`` if the swap
was cut between its renames, and removes leftovers that hold nothing but scdiff's own files and
links to files still in ``--out``. A leftover holding anything else is kept, with a warning.
"""
from __future__ import annotations

import ctypes
import json
import os
import shutil
import stat
import sys
import warnings
from pathlib import Path

from .errors import CheckpointError
from .validate import listing, writable_parent

CONFIG_NAME = "config.json"
STATE_DIR = ".train_state"
INCOMPLETE = ".scdiff-incomplete"
"""Written first into a folder being built; a leftover with it holds only scdiff's files."""
READABLE_SCHEMAS = (1, 2)


def scdiff_config(directory: Path) -> dict | None:
    """The folder's config.json if it is a scdiff checkpoint config, else None (never raises)."""
    from .validate import read_json

    p = directory / CONFIG_NAME
    if not p.is_file():
        return None
    try:
        cfg = read_json(p, "config.json", follow_symlinks=False)
    except Exception:  # any problem: not a config we can claim
        return None
    if (isinstance(cfg, dict) and cfg.get("schema_version") in READABLE_SCHEMAS
            and isinstance(cfg.get("files"), dict) and "scdiff_version" in cfg):
        return cfg
    return None


def _state_is_ours(directory: Path) -> bool:
    d = directory / STATE_DIR
    if not d.is_dir() or d.is_symlink():
        return False
    # a run's state, or only the prepared data a chunked run wrote before its first stage (resume.DATA_DIR)
    return (d / "fingerprint.json").is_file() or {p.name for p in d.iterdir()} <= {"data"}


def owned(directory: Path, cfg: dict | None = None) -> set[str]:
    """Top-level names in ``directory`` that scdiff wrote."""
    cfg = scdiff_config(directory) if cfg is None else cfg
    names = set()
    if cfg is not None:
        names |= {CONFIG_NAME} | {f for f in cfg["files"] if isinstance(f, str) and "/" not in f}
    if _state_is_ours(directory):
        names.add(STATE_DIR)
    return names


def user_entries(directory: Path) -> list[str]:
    """Top-level names in ``directory`` that scdiff did not write."""
    mine = owned(directory)
    return sorted(p.name for p in directory.iterdir() if p.name not in mine)


def check_out_dir(directory: str | os.PathLike, what: str = "--out") -> Path:
    """Refuse an output folder scdiff may not write; recover a cut swap first. Returns the resolved path.

    Accepted: a path that does not exist (its nearest existing parent writable), an empty folder,
    a scdiff checkpoint (only its own files get replaced), a folder holding only an interrupted
    run's state. Refused: a file, a folder holding files that are not a scdiff checkpoint's.
    """
    d = Path(directory).expanduser()
    if d.is_symlink() and not d.exists():
        raise CheckpointError(f"{what} {d} is a broken symbolic link; remove it or pick another folder.")
    d = d.resolve()
    recover(d)
    if not d.exists():
        writable_parent(d, what)
        return d
    if not d.is_dir():
        raise CheckpointError(f"{what} {d} is an existing file, not a folder; pick a new folder name "
                              f"(scdiff writes a checkpoint folder there).")
    if not os.access(d, os.W_OK | os.X_OK) or not os.access(d.parent, os.W_OK | os.X_OK):
        raise CheckpointError(f"{what} {d} (or the folder holding it) is not writable; pick another folder.")
    if scdiff_config(d) is None:
        others = user_entries(d)
        if others:
            raise CheckpointError(f"{what} {d} already holds files that are not a scdiff checkpoint "
                                  f"({listing(others, 5)}); scdiff will not write over them. Pick a new or empty "
                                  f"folder, or move those files away.")
    return d


# ---------------------------------------------------------------------------------------- the swap
def _exchange(a: Path, b: Path) -> bool:
    """Swap two folders in one step (Linux renameat2); False where the system cannot."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, exchange = -100, 2
    # any failure leaves both folders as they were, so the caller falls back to two renames
    return fn(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), exchange) == 0


def carry(src: Path, dst: Path, skip: set[str]) -> None:
    """Hard-link every entry of ``src`` but ``skip`` into ``dst`` (folders recreated), so they survive the swap."""
    for p in src.iterdir():
        if p.name in skip:
            continue
        q = dst / p.name
        if p.is_dir() and not p.is_symlink():
            q.mkdir()
            shutil.copystat(p, q)
            carry(p, q, set())
        else:
            try:
                os.link(p, q, follow_symlinks=False)
            except OSError as e:
                raise CheckpointError(f"Cannot keep {p} in the new checkpoint ({e.strerror}); scdiff will not "
                                      f"delete it. Move it out of {src} and run the command again.") from None


def swap_in(tmp: Path, directory: Path) -> None:
    """Make the finished folder ``tmp`` the checkpoint ``directory``; remove what it replaced."""
    (tmp / INCOMPLETE).unlink(missing_ok=True)
    if not directory.exists():
        os.replace(tmp, directory)
        return
    if _exchange(tmp, directory):
        old_dir = tmp  # after the exchange the old checkpoint sits at tmp's name
    else:
        old_dir = Path(f"{tmp}".replace(".tmp-", ".old-"))
        old_dir.mkdir()
        os.replace(directory, old_dir / "x")
        os.replace(tmp, directory)
    _remove_leftover(old_dir, directory)


# ---------------------------------------------------------------------------------------- leftovers
def _same_file(p: Path, directory: Path, rel: Path) -> bool:
    try:
        a, b = os.lstat(p), os.lstat(directory / rel)
    except OSError:
        return False
    return (a.st_ino, a.st_dev) == (b.st_ino, b.st_dev)


def _removable(leftover: Path, directory: Path) -> list[str]:
    """Files in ``leftover`` that are neither scdiff's own nor links to files still in ``directory``."""
    mine = owned(leftover)
    if (leftover / INCOMPLETE).exists():
        mine |= {INCOMPLETE, CONFIG_NAME} | {p.name for p in leftover.glob("*.safetensors")}
    keep = []
    for root, dirs, files in os.walk(leftover):
        for name in files + [d for d in dirs if Path(root, d).is_symlink()]:
            p = Path(root, name)
            rel = p.relative_to(leftover)
            if rel.parts[0] in mine or _same_file(p, directory, rel):
                continue
            keep.append(str(rel))
    return keep


def _in_use(leftover: Path) -> bool:
    """The leftover is a folder another live process is building right now."""
    try:
        pid = int(json.loads((leftover / INCOMPLETE).read_text())["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return False
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def _remove_leftover(leftover: Path, directory: Path) -> None:
    if _in_use(leftover):
        return
    target = leftover / "x" if leftover.name.startswith(f".{directory.name}.old-") else leftover
    if target.is_dir():
        keep = _removable(target, directory)
        if keep:
            warnings.warn(f"kept {leftover}: it holds files that are not in {directory} ({listing(keep, 5)}); "
                          f"look at them and delete the folder yourself", stacklevel=3)
            return
    shutil.rmtree(leftover, ignore_errors=True)


def leftovers(directory: Path) -> list[Path]:
    """The ``.NAME.tmp-*`` / ``.NAME.old-*`` folders beside ``directory``."""
    try:
        return sorted(p for pat in (f".{directory.name}.tmp-*", f".{directory.name}.old-*")
                      for p in directory.parent.glob(pat) if p.is_dir() and not p.is_symlink())
    except OSError:
        return []


def recover(directory: Path) -> None:
    """Undo what a killed swap left: restore ``directory`` from ``.old`` if it is missing, drop leftovers."""
    directory = Path(directory)
    found = leftovers(directory)
    if not directory.exists() and not directory.is_symlink():
        for old in (p for p in found if p.name.startswith(f".{directory.name}.old-")):
            if scdiff_config(old / "x") is not None:
                os.replace(old / "x", directory)
                break
    for p in found:
        if p.exists():
            _remove_leftover(p, directory)


def new_tmp(directory: Path) -> Path:
    """A fresh folder beside ``directory`` marked as being built by scdiff."""
    import tempfile

    tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}.tmp-", dir=directory.parent))
    (tmp / INCOMPLETE).write_text(json.dumps({"building": str(directory), "pid": os.getpid()}))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o777 & ~umask)  # mkdtemp makes it 0700: give the checkpoint the usual permissions
    return tmp


def is_regular(p: Path) -> bool:
    try:
        return stat.S_ISREG(os.lstat(p).st_mode)
    except OSError:
        return False
