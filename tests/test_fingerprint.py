"""The fingerprint covers config.json and the weights; pinned and expected fingerprints are enforced."""
import json

import pytest
import torch

import scdiff_core.fingerprint as F
import scdiff_core.pinned as P
from scdiff_core.checkpoint import load_checkpoint, read_config, save_checkpoint
from scdiff_core.errors import CheckpointError

W = {"a": {"x": torch.arange(4.0)}}


def _ck(tmp_path, **cfg):
    return save_checkpoint(tmp_path / "ck", {"vocab": {"c": ["A", "B"]}, "genes": ["g1"], **cfg}, W)


def test_fingerprint_is_canonical_and_recorded(tmp_path):
    d = _ck(tmp_path, z=1, a=[1.5, None])
    cfg = read_config(d)
    assert cfg["fingerprint"] == F.fingerprint(cfg) == F.fingerprint(json.loads(json.dumps(cfg, indent=4)))
    assert F.verify(cfg, d) == cfg["fingerprint"]


@pytest.mark.parametrize("edit", [lambda c: c.update(timesteps=5), lambda c: c["vocab"]["c"].reverse(),
                                  lambda c: c["files"].update({"a.safetensors": "0" * 64}), lambda c: c.pop("fingerprint")])
def test_any_edit_of_the_config_is_refused(tmp_path, edit):
    d = _ck(tmp_path)
    cfg = json.loads((d / "config.json").read_text())
    edit(cfg)
    (d / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match="changed after|no fingerprint"):
        load_checkpoint(d)


def test_a_resigned_vocabulary_edit_is_caught_by_the_weights_binding(tmp_path):
    d = _ck(tmp_path)
    cfg = json.loads((d / "config.json").read_text())
    cfg["vocab"]["c"] = ["B", "A"]
    cfg["fingerprint"] = F.fingerprint(cfg)
    (d / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match="vocabulary"):
        load_checkpoint(d)


def test_expected_and_pinned_fingerprints(tmp_path, monkeypatch):
    d = _ck(tmp_path)
    fp = read_config(d)["fingerprint"]
    load_checkpoint(d, expect_fingerprint=fp[:12])
    with pytest.raises(CheckpointError, match="not the expected"):
        load_checkpoint(d, expect_fingerprint="f" * 64)
    with pytest.raises(CheckpointError, match="12 to 64 hex"):
        load_checkpoint(d, expect_fingerprint="xyz")
    monkeypatch.setattr(P, "shipped_root", lambda: tmp_path)
    monkeypatch.setitem(P.PINNED, "ck", "0" * 64)
    with pytest.raises(CheckpointError, match="differs from the one shipped.*git checkout"):
        load_checkpoint(d)
    monkeypatch.setitem(P.PINNED, "ck", fp)
    load_checkpoint(d)


def test_the_shipped_checkpoints_are_pinned():
    for name, fp in P.PINNED.items():
        d = P.shipped_root() / name
        assert F.pinned_for(d) == fp == read_config(d)["fingerprint"]


def test_info_and_every_output_record_the_fingerprint(tiny_model, tiny_model_dir, capsys):
    from scdiff_core.cli import main

    fp = tiny_model.fingerprint
    assert len(fp) == 64 and fp == read_config(tiny_model_dir)["fingerprint"]
    assert main(["info", str(tiny_model_dir), "--expect-fingerprint", fp[:16]]) == 0
    assert f"fingerprint: {fp}" in capsys.readouterr().out
    assert tiny_model.generate({"cell_type": "A"}, 3, steps=2).uns["scdiff"]["checkpoint_fingerprint"] == fp
    tr = tiny_model.trajectory("cell_type", "A", "B", n_points=2, cells_per_point=2, steps=2)
    assert tr.uns["scdiff"]["checkpoint_fingerprint"] == fp
