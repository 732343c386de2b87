"""Sign checkpoint folders: add the fingerprint (scdiff_core.fingerprint) to their config.json.

For checkpoints written before fingerprints existed (the shipped ones were migrated with this
script once; their weights are unchanged). Every weight file must still match the sha256 its
config lists, so a damaged folder is refused, not signed. ``--pin`` also writes the fingerprints
of the shipped checkpoints (folders under checkpoints/) into scdiff_core/pinned.py.

    python scripts/sign_checkpoints.py checkpoints/paul15 checkpoints/pbmc68k ... --pin
    python scripts/sign_checkpoints.py ~/.scdiff/models/my_model      # a model of your own you trust
"""
from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scdiff_core.checkpoint import write_json_atomic  # noqa: E402
from scdiff_core.errors import ScdiffError  # noqa: E402
from scdiff_core.fingerprint import KEY, fingerprint  # noqa: E402
from scdiff_core.validate import read_json, regular_file  # noqa: E402

PINNED = ROOT / "scdiff_core" / "pinned.py"


def sign(directory: Path) -> str:
    cfg = read_json(directory / "config.json", f"{directory}/config.json", follow_symlinks=False)
    if not isinstance(cfg, dict) or not isinstance(cfg.get("files"), dict) or not cfg["files"]:
        raise ScdiffError(f"{directory} is not a scdiff checkpoint (no weight list in config.json).")
    for fname, digest in cfg["files"].items():
        p = regular_file(directory / fname, "a weight file", follow_symlinks=False)
        if hashlib.sha256(p.read_bytes()).hexdigest() != digest:
            raise ScdiffError(f"{p} does not match its recorded sha256; not signing a damaged checkpoint.")
    fp = fingerprint(cfg)
    if cfg.get(KEY) != fp:
        cfg[KEY] = fp
        write_json_atomic(directory / "config.json", cfg)
    return fp


def pin(prints: dict[str, str]) -> int:
    """Update the pinned table with ``prints``; shipped checkpoints not signed in this run keep their entry
    (signing only the retrained ones must not unpin the rest), entries whose folder is gone are dropped."""
    from scdiff_core.pinned import PINNED as current

    kept = {k: v for k, v in current.items() if (ROOT / "checkpoints" / k).is_dir()}
    prints = {**kept, **prints}
    text = PINNED.read_text()
    head, rest = text.split("PINNED: dict[str, str] = {", 1)
    tail = rest.split("}", 1)[1]
    body = "".join(f'    "{k}": "{v}",\n' for k, v in sorted(prints.items()))
    PINNED.write_text(f"{head}PINNED: dict[str, str] = {{\n{body}}}{tail}")
    return len(prints)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("folders", nargs="+", type=Path)
    ap.add_argument("--pin", action="store_true", help="write the shipped ones' fingerprints into scdiff_core/pinned.py")
    a = ap.parse_args()
    prints = {}
    for d in a.folders:
        try:
            fp = sign(d)
        except ScdiffError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        print(f"{d}: {fp}")
        if d.resolve().parent == (ROOT / "checkpoints").resolve():
            prints[d.resolve().name] = fp
    if a.pin:
        total = pin(prints)
        print(f"pinned {len(prints)} (of {total}) in {PINNED.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
