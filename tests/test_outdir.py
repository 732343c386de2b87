"""Output folders: scdiff replaces only what it wrote, keeps the user's files, and cleans up after a cut swap."""
import json
import os

import pytest
import torch

import scdiff_core.outdir as O
from scdiff_core.checkpoint import load_checkpoint, save_checkpoint
from scdiff_core.errors import CheckpointError

W = {"a": {"x": torch.arange(4.0)}, "b": {"y": torch.ones(2)}}


def _leftovers(d):
    return sorted(p.name for p in d.parent.iterdir() if p.name.startswith(f".{d.name}."))


def test_refuses_a_folder_of_other_files_and_an_existing_file(tmp_path):
    d = tmp_path / "d"
    d.mkdir()
    (d / "my.safetensors").write_text("k")
    with pytest.raises(CheckpointError, match="not a scdiff checkpoint.*my.safetensors"):
        save_checkpoint(d, {"v": 1}, W)
    assert (d / "my.safetensors").read_text() == "k" and sorted(os.listdir(d)) == ["my.safetensors"]
    (tmp_path / "f").write_text("mine")
    with pytest.raises(CheckpointError, match="existing file"):
        O.check_out_dir(tmp_path / "f")
    assert (tmp_path / "f").read_text() == "mine" and _leftovers(d) == []


@pytest.mark.parametrize("exchange", [True, False])
def test_overwrite_keeps_user_files_as_the_same_files(tmp_path, monkeypatch, exchange):
    if not exchange:
        monkeypatch.setattr(O, "_exchange", lambda a, b: False)
    d = save_checkpoint(tmp_path / "ck", {"v": 1}, W)
    (d / "notes.txt").write_text("mine")
    (d / "sub").mkdir()
    (d / "sub" / "x.safetensors").write_text("also mine")
    ino = os.stat(d / "notes.txt").st_ino
    save_checkpoint(d, {"v": 2}, {"a": W["a"]})  # group b is gone in the new checkpoint
    cfg, w = load_checkpoint(d)
    assert cfg["v"] == 2 and set(w) == {"a"} and not (d / "b.safetensors").exists()
    assert os.stat(d / "notes.txt").st_ino == ino and (d / "sub" / "x.safetensors").read_text() == "also mine"
    assert _leftovers(d) == []


def test_a_user_file_named_like_a_weight_file_is_not_overwritten(tmp_path):
    d = save_checkpoint(tmp_path / "ck", {"v": 1}, {"a": W["a"]})
    (d / "b.safetensors").write_text("the user's")
    with pytest.raises(CheckpointError, match="did not write"):
        save_checkpoint(d, {"v": 2}, W)
    assert (d / "b.safetensors").read_text() == "the user's" and load_checkpoint(d)[0]["v"] == 1


def test_recover_restores_a_cut_swap_and_removes_only_owned_leftovers(tmp_path):
    d = save_checkpoint(tmp_path / "ck", {"v": 1}, W)
    # a swap cut between its two renames: the checkpoint sits in .ck.old-*/x
    old = tmp_path / ".ck.old-abc"
    old.mkdir()
    os.replace(d, old / "x")
    partial = O.new_tmp(d)  # a half-built new one
    (partial / "a.safetensors").write_bytes(b"half")
    foreign = tmp_path / ".ck.tmp-zzz"  # not ours: holds a file we did not write
    foreign.mkdir()
    (foreign / "precious.txt").write_text("keep")
    with pytest.warns(UserWarning, match="kept"):
        O.recover(d)
    assert load_checkpoint(d)[0]["v"] == 1
    assert _leftovers(d) == [".ck.tmp-zzz"] and (foreign / "precious.txt").read_text() == "keep"


def test_a_leftover_of_a_live_process_is_left_alone(tmp_path):
    d = save_checkpoint(tmp_path / "ck", {"v": 1}, W)
    t = O.new_tmp(d)
    (t / O.INCOMPLETE).write_text(json.dumps({"pid": os.getppid()}))  # another process, alive
    O.recover(d)
    assert t.exists()
    (t / O.INCOMPLETE).write_text(json.dumps({"pid": 2**22 + 12345}))  # no such process
    O.recover(d)
    assert not t.exists()


def test_interrupted_training_state_alone_is_ours(tmp_path):
    d = tmp_path / "run"
    (d / ".train_state").mkdir(parents=True)
    (d / ".train_state" / "fingerprint.json").write_text("{}")
    assert O.check_out_dir(d) == d.resolve()
    (d / "stray.txt").write_text("x")
    with pytest.raises(CheckpointError, match="stray.txt"):
        O.check_out_dir(d)
