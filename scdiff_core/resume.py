"""Resumable training: every stage saves its state so a killed run goes on where it stopped.

Each stage writes its weights, optimizer moments, RNG states and step to
``<out>/.train_state/<stage>.safetensors`` (+ ``.json``) every ``save_every`` steps, atomically;
:func:`run_stage` restores them before its first step. A state left by a different command (its
fingerprint differs) is discarded. Nothing here is unpickled.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from safetensors.torch import load_file

from .checkpoint import save_tensors_atomic, write_json_atomic
from .distributed import SINGLE, Dist

DATA_DIR = "data"
"""Under ``.train_state``: the matrix chunked preparation wrote for this run (removed with the state)."""

StageProgress = Callable[[str, int, int, dict], None]
"""``progress(stage, step, total, info)``; ``info`` may hold the running ``loss``."""


class TrainState:
    """Per-stage resumable state under ``<out>/.train_state`` (safetensors + JSON only).

    In a distributed run (``dist``) only rank 0 writes; the other ranks read the state rank 0
    left, after :meth:`Dist.barrier` (called by the trainer once rank 0 has set the folder up).
    """

    def __init__(self, out: Path, fingerprint: str, resume: bool, dist: Dist = SINGLE):
        self.dist = dist
        self.dir = out / ".train_state"
        if not dist.is_main:
            return
        from .outdir import check_out_dir

        check_out_dir(out)  # refuses a folder holding files scdiff did not write, before anything is written
        if self.dir.exists():
            meta = self.dir / "fingerprint.json"
            same = meta.exists() and json.loads(meta.read_text()).get("fingerprint") == fingerprint
            if not resume or not same:  # the prepared data (DATA_DIR) has its own key: it is kept
                for p in self.dir.iterdir():
                    if p.name != DATA_DIR:
                        shutil.rmtree(p) if p.is_dir() and not p.is_symlink() else p.unlink()
        self.dir.mkdir(parents=True, exist_ok=True)
        write_json_atomic(self.dir / "fingerprint.json", {"fingerprint": fingerprint})

    def load(self, stage: str):
        meta, wts = self.dir / f"{stage}.json", self.dir / f"{stage}.safetensors"
        if meta.exists() and wts.exists():
            return json.loads(meta.read_text()), load_file(str(wts))
        return None, None

    def save(self, stage: str, meta: dict, tensors: dict) -> None:
        if not self.dist.is_main:
            return
        save_tensors_atomic(self.dir / f"{stage}.safetensors", tensors)
        write_json_atomic(self.dir / f"{stage}.json", meta)

    def remove(self) -> None:
        if not self.dist.is_main:
            return
        shutil.rmtree(self.dir, ignore_errors=True)


def _opt_tensors(opt: torch.optim.Optimizer, prefix: str) -> dict[str, torch.Tensor]:
    out = {}
    for i, st in opt.state_dict()["state"].items():
        for k, v in st.items():
            out[f"{prefix}.{i}.{k}"] = v.cpu() if isinstance(v, torch.Tensor) else torch.tensor(v)
    return out


def _load_opt(opt: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], prefix: str) -> None:
    sd = opt.state_dict()
    state: dict[int, dict] = {}
    for k, v in tensors.items():
        if k.startswith(prefix + "."):
            _, i, name = k.rsplit(".", 2)
            state.setdefault(int(i), {})[name] = v
    sd["state"] = state
    opt.load_state_dict(sd)


def _prefixed(module: torch.nn.Module, prefix: str) -> dict[str, torch.Tensor]:
    return {f"{prefix}.{k}": v.detach().cpu().clone() for k, v in module.state_dict().items()}


def _unprefixed(tensors: dict, prefix: str) -> dict[str, torch.Tensor]:
    return {k[len(prefix) + 1:]: v for k, v in tensors.items() if k.startswith(prefix + ".")}


def run_stage(stage: str, n_iters: int, step_fn, state: TrainState, modules: dict[str, torch.nn.Module],
          opt: torch.optim.Optimizer, gen: torch.Generator, save_every: int,
          progress: StageProgress | None, log_every: int = 50) -> list[float]:
    """Run ``step_fn(it) -> loss`` for n_iters, saving resumable state every save_every steps."""
    meta, tens = state.load(stage)
    start, history = 0, []
    if meta is not None:
        for name, m in modules.items():
            m.load_state_dict(_unprefixed(tens, name))
        _load_opt(opt, tens, "opt")
        gen.set_state(tens["rng"])
        _restore_global_rng(tens, state.dist)
        start, history = int(meta["iter"]), list(meta["history"])
    running = []
    for it in range(start, n_iters):
        running.append(step_fn(it))
        logged = (it + 1) % log_every == 0 or it + 1 == n_iters
        if logged:
            history.append([it + 1, float(np.mean(running))])
            running = []
        # Save before reporting progress, so a run stopped from the progress callback (Ctrl-C in
        # the CLI, a closed app session) resumes from the step it last reported.
        if (it + 1) % save_every == 0 or it + 1 == n_iters:
            rngs = _global_rngs(state.dist)  # a collective: every rank takes part
            if state.dist.is_main:
                tensors = {k: v for name, m in modules.items() for k, v in _prefixed(m, name).items()}
                tensors.update(_opt_tensors(opt, "opt"))
                tensors["rng"] = gen.get_state()
                tensors.update(rngs)
                state.save(stage, {"iter": it + 1, "history": history}, tensors)
        if logged and progress is not None:
            progress(stage, it + 1, n_iters, {"loss": history[-1][1]})
    return history


def _rank_key(name: str, rank: int) -> str:
    return name if rank == 0 else f"{name}.rank{rank}"


def _global_rngs(dist: Dist) -> dict[str, torch.Tensor]:
    """torch's global generator states (dropout draws) of every rank: ``torch_rng``, ``torch_rng.rank1``, …"""
    out = {_rank_key("torch_rng", r): s for r, s in enumerate(dist.all_gather(torch.get_rng_state()))}
    if dist.device.type == "cuda":
        states = dist.all_gather(torch.cuda.get_rng_state(dist.device))
        out.update({_rank_key("cuda_rng", r): s for r, s in enumerate(states)})
    return out


def _restore_global_rng(tens: dict, dist: Dist) -> None:
    key = _rank_key("torch_rng", dist.rank)
    if key in tens:  # dropout draws from the global generator (older states lack it)
        torch.set_rng_state(tens[key])
    key = _rank_key("cuda_rng", dist.rank)
    if dist.device.type == "cuda" and key in tens:
        torch.cuda.set_rng_state(tens[key], dist.device)


def set_lr(opt: torch.optim.Optimizer, lr: float) -> None:
    for g in opt.param_groups:
        g["lr"] = lr
