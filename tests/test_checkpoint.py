"""Checkpoint round-trip, tamper refusal, schema check and atomic writes."""
import json
import os

import numpy as np
import pytest
import torch

from scdiff_core.checkpoint import SCHEMA_VERSION, load_checkpoint, read_config, save_checkpoint
from scdiff_core.errors import CheckpointError
from scdiff_core.fingerprint import fingerprint


def _write(tmp_path, name="ck"):
    w = {"a": {"x": torch.arange(6.0).view(2, 3)}, "b": {"y": torch.tensor([1, 2, 3])}}
    return save_checkpoint(tmp_path / name, {"hello": "world"}, w), w


def test_round_trip(tmp_path):
    d, w = _write(tmp_path)
    cfg, loaded = load_checkpoint(d)
    assert cfg["hello"] == "world" and cfg["schema_version"] == SCHEMA_VERSION
    assert set(cfg["files"]) == {"a.safetensors", "b.safetensors"}
    assert torch.equal(loaded["a"]["x"], w["a"]["x"]) and torch.equal(loaded["b"]["y"], w["b"]["y"])


def test_tampered_weights_refused(tmp_path):
    d, _ = _write(tmp_path)
    p = d / "a.safetensors"
    data = bytearray(p.read_bytes())
    data[-1] ^= 0xFF
    p.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="sha256"):
        load_checkpoint(d)


def test_missing_file_and_bad_names_refused(tmp_path):
    d, _ = _write(tmp_path)
    os.unlink(d / "b.safetensors")
    with pytest.raises(CheckpointError, match="missing"):
        load_checkpoint(d)
    d2, _ = _write(tmp_path, "ck2")
    cfg = json.loads((d2 / "config.json").read_text())
    cfg["files"]["../evil.safetensors"] = "0" * 64
    cfg["fingerprint"] = fingerprint(cfg)  # re-signed, so that the name check itself is reached
    (d2 / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match="unexpected file"):
        load_checkpoint(d2)


def test_schema_and_missing_config(tmp_path):
    d, _ = _write(tmp_path)
    cfg = json.loads((d / "config.json").read_text())
    cfg["schema_version"] = 999
    (d / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match="schema"):
        read_config(d)
    (d / "config.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        read_config(d)
    with pytest.raises(CheckpointError, match="No checkpoint folder"):
        read_config(tmp_path / "nothing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match="no config.json"):
        read_config(tmp_path / "empty")


def test_atomic_overwrite_keeps_old_checkpoint_on_failure(tmp_path, monkeypatch):
    d, w = _write(tmp_path)
    before = (d / "config.json").read_text()
    import scdiff_core.checkpoint as C

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(C, "save_file", boom)
    with pytest.raises(OSError):
        save_checkpoint(d, {"hello": "new"}, w)
    assert (d / "config.json").read_text() == before
    load_checkpoint(d)  # still intact
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]
    assert leftovers == []


def test_no_pickle_in_checkpoint_code():
    import inspect

    import scdiff_core.checkpoint as C
    import scdiff_core.model as M

    for mod in (C, M):
        src = inspect.getsource(mod)
        assert "torch.load(" not in src and "import pickle" not in src and "pickle.load" not in src


def test_old_count_checkpoint_is_refused_with_a_retrain_message(tmp_path):
    """Schema-1 count models normalized over the model's genes only: refused, with the command to retrain."""
    import json as _json

    d = save_checkpoint(tmp_path / "old", {"data": {"kind": "counts"}, "command": "scdiff train --data x"},
                        {"w": {"a": np.zeros(2, dtype=np.float32)}})
    cfg = _json.loads((d / "config.json").read_text())
    cfg["schema_version"] = 1
    (d / "config.json").write_text(_json.dumps(cfg))
    with pytest.raises(CheckpointError, match="normalized cells over the model's genes.*scdiff train --data x"):
        read_config(d)
    cfg["data"]["kind"] = "lognorm"  # log-normalized models kept their convention: still readable
    (d / "config.json").write_text(_json.dumps(cfg))
    assert read_config(d)["schema_version"] == 1
