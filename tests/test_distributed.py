"""Distributed training: the batch slicing, the refusals, and 2-process gloo runs under torchrun."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from scdiff_core.distributed import Dist, resolve_device
from scdiff_core.errors import ScdiffError

ROOT = Path(__file__).resolve().parents[1]
TINY = {"ae_epochs": 20, "diffusion_iters": 150, "classifier_iters": 60, "latent_dim": 8, "ae_hidden": [64],
        "backbone_hparams": {"widths": [64, 64, 32]}, "classifier_hidden": [64], "save_every": 50,
        "diffusion_batch": 64, "calibrate": False}


@pytest.mark.parametrize("n,world", [(8, 2), (7, 2), (10, 3), (5, 1)])
def test_shards_partition_the_global_batch(n, world):
    x = torch.arange(n * 3).reshape(n, 3)
    parts = [Dist(rank=r, world=world).shard(x) for r in range(world)]
    assert torch.equal(torch.cat(parts), x)  # every row once, in order
    assert max(len(p) for p in parts) - min(len(p) for p in parts) <= 1
    assert Dist().shard(x) is x  # one process: the batch itself, nothing copied


def test_single_process_defaults(monkeypatch):
    for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE"):
        monkeypatch.delenv(k, raising=False)
    d = Dist.from_env("cpu")
    assert (d.rank, d.world, d.is_main, d.active, d.device.type) == (0, 1, True, False, "cpu")
    assert d.wrap(m := torch.nn.Linear(2, 2)) is m and d.all_gather(t := torch.ones(2))[0] is t


def test_bad_environment_and_device(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "5")
    with pytest.raises(ScdiffError, match="RANK 5 and WORLD_SIZE 2"):
        Dist.from_env("cpu")
    monkeypatch.setenv("RANK", "x")
    with pytest.raises(ScdiffError, match=r"\$RANK must be a whole number"):
        Dist.from_env("cpu")
    with pytest.raises(ScdiffError, match="--device must be one of"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ScdiffError, match="torch sees no CUDA device"):
            resolve_device("cuda")


@pytest.mark.parametrize("extra,msg", [(["--devices", "0"], "--devices"), (["--device", "gpu"], "--device")])
def test_cli_refuses_bad_device_options(extra, msg, tmp_path, capsys):
    from scdiff_core.cli import main

    with pytest.raises(SystemExit) as e:
        main(["train", "--data", "x.h5ad", "--conditions", "a", "--out", str(tmp_path / "o"), *extra])
    assert e.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and msg in err and "\n" not in err


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal on a machine without CUDA")
def test_cli_refuses_cuda_without_a_gpu(tmp_path, capsys):
    from scdiff_core.cli import main

    code = main(["train", "--data", "x.h5ad", "--conditions", "a", "--out", str(tmp_path / "o"), "--device", "cuda"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "torch sees no CUDA device" in err and "\n" not in err


# ------------------------------------------------------------------ 2 processes, gloo, under torchrun
def _env() -> dict:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
               OMP_NUM_THREADS="1", NUMBA_NUM_THREADS="1")
    for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(k, None)
    return env


def _cmd(data: Path, out: Path, cfg: dict) -> list[str]:
    # --devices 2 starts `python -m torch.distributed.run --standalone --nproc-per-node=2 -m scdiff_core.cli …`
    return [sys.executable, "-m", "scdiff_core.cli", "train", "--data", str(data), "--conditions", "cell_type,phase",
            "--out", str(out), "--config", json.dumps(cfg), "--threads", "1", "--devices", "2", "--device", "cpu"]


@pytest.fixture(scope="module")
def data_file(tmp_path_factory):
    from scdiff_core.data import make_synthetic

    p = tmp_path_factory.mktemp("ddp") / "tiny.h5ad"
    make_synthetic(n_cells=300, n_genes=60, n_types=3, seed=0, counts=True).write_h5ad(p)
    return p


@pytest.mark.slow
def test_two_gloo_processes_train_a_model_that_generates(data_file, tmp_path):
    from scdiff_core.model import SCDiffModel

    out = tmp_path / "model"
    r = subprocess.run(_cmd(data_file, out, TINY), env=_env(), capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.count("saved ") == 1  # rank 0 alone reports and writes
    assert not (out / ".train_state").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]  # no second copy, no temporary folder
    m = SCDiffModel.load(out)
    assert m.config["training"]["distributed"] == {"world_size": 2, "device": "cpu"}
    cells = m.generate([({"cell_type": "A"}, 20)], seed=0)
    assert cells.n_obs == 20 and np.isfinite(np.asarray(cells.X.todense() if hasattr(cells.X, "todense")
                                                        else cells.X)).all()


def test_a_torchrun_worker_keeps_its_exit_code_and_message(tmp_path):
    """Workers leave through os._exit (no exit-time teardown races): the error line and the code still arrive."""
    env = dict(_env(), TORCHELASTIC_RUN_ID="t", WORLD_SIZE="2", RANK="1", LOCAL_RANK="1")
    r = subprocess.run([sys.executable, "-m", "scdiff_core.cli", "train", "--data", str(tmp_path / "absent.h5ad"),
                        "--conditions", ",", "--out", str(tmp_path / "m"), "--device", "cpu"],
                       env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 2, r.stderr[-2000:]
    assert "error: --conditions needs at least one obs column" in r.stderr
    assert "Traceback" not in r.stderr
    assert not (tmp_path / "m").exists()


def _weights(d: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return {f"{p.name}:{k}": v for p in sorted(d.glob("*.safetensors")) if p.name != "reference.safetensors"
            for k, v in load_file(str(p)).items()}


@pytest.mark.slow
def test_two_process_run_resumes_after_a_kill_to_the_same_weights(data_file, tmp_path):
    """Killed mid-denoiser (dropout on, so each rank's own RNG matters), run again: same weights as one run."""
    cfg = {**TINY, "diffusion_iters": 1500, "diffusion_batch": 32, "save_every": 100,
           "backbone_hparams": {"widths": [64, 64, 32], "dropout": 0.1}}
    a, b = tmp_path / "a", tmp_path / "b"
    p = subprocess.Popen(_cmd(data_file, a, cfg), env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         start_new_session=True)
    state = a / ".train_state" / "diffusion.json"
    deadline = time.time() + 300
    while p.poll() is None and time.time() < deadline and not state.exists():
        time.sleep(0.02)
    os.killpg(p.pid, signal.SIGTERM)  # the launcher's group: torchrun passes it on to both workers
    p.wait(timeout=60)
    assert p.returncode != 0 and state.exists(), "the run finished before it could be killed"
    killed_at = json.loads(state.read_text())["iter"]
    assert killed_at < cfg["diffusion_iters"]
    for out in (a, b):
        r = subprocess.run(_cmd(data_file, out, cfg), env=_env(), capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, r.stderr[-3000:]
    wa, wb = _weights(a), _weights(b)
    assert wa.keys() == wb.keys()
    for k in wa:
        assert torch.allclose(wa[k], wb[k], atol=1e-6), k
