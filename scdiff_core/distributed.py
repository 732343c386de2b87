"""Distributed training over torch DDP: who this process is, its device, and the batch it takes.

``torchrun --nproc-per-node N -m scdiff_core.cli train …`` (or ``scdiff train --devices N``,
which starts that) runs N copies of training. :meth:`Dist.from_env` reads the rank and world
size torchrun sets (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``); without them the world is one
process and nothing here changes what training does.

How the cells are shared out, so a resumed run is exact: every rank keeps the *same* training
generator and draws the *same* global batch (the per-process batch × world size) and the noise
that goes with it; :meth:`Dist.shard` takes this rank's slice. The generator's state is therefore
the same on every rank, and the state rank 0 saves resumes them all. Dropout draws from torch's
global generator, which differs per rank; rank 0 gathers and saves every rank's.
DistributedDataParallel averages the gradients, so N ranks × batch B trains like 1 rank × N·B.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import timedelta

import torch

from .errors import ScdiffError

DEVICES = ("auto", "cpu", "cuda")
#: how long a rank waits for the others at a collective (rank 0 alone writes checkpoints meanwhile)
TIMEOUT = timedelta(hours=2)


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw in (None, ""):
        return default
    try:
        v = int(raw)
    except ValueError:
        raise ScdiffError(f"${name} must be a whole number (torchrun sets it), got {raw!r}.") from None
    if v < 0:
        raise ScdiffError(f"${name} must be 0 or more (torchrun sets it), got {raw!r}.")
    return v


def resolve_device(name: str, local_rank: int = 0) -> torch.device:
    """``auto`` (CUDA when torch sees a GPU), ``cpu`` or ``cuda`` -> this process's device."""
    if name not in DEVICES:
        raise ScdiffError(f"--device must be one of {', '.join(DEVICES)}, got {name!r}.")
    cuda = torch.cuda.is_available()
    if name == "cuda" and not cuda:
        raise ScdiffError("--device cuda: torch sees no CUDA device here (torch.cuda.is_available() is False); "
                          "use --device cpu, or auto.")
    if name == "cpu" or not cuda:
        return torch.device("cpu")
    n = torch.cuda.device_count()
    if local_rank >= n:
        raise ScdiffError(f"Process {local_rank} on this node has no GPU of its own ({n} visible); start at most "
                          f"{n} processes per node (--nproc-per-node / --devices).")
    return torch.device("cuda", local_rank)


@dataclass(frozen=True)
class Dist:
    """This process's place in a (possibly one-process) training run."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    local_world: int = 1
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @classmethod
    def from_env(cls, device: str = "auto") -> "Dist":
        """The torchrun environment (one process on the CPU or first GPU when it is absent)."""
        world = _env_int("WORLD_SIZE", 1)
        rank, local_rank = _env_int("RANK", 0), _env_int("LOCAL_RANK", 0)
        if world < 1 or rank >= world:
            raise ScdiffError(f"RANK {rank} and WORLD_SIZE {world} do not fit (0 <= RANK < WORLD_SIZE); start the "
                              f"processes with torchrun.")
        local_world = _env_int("LOCAL_WORLD_SIZE", world)
        return cls(rank, world, local_rank, max(1, local_world), resolve_device(device, local_rank))

    @property
    def is_main(self) -> bool:
        """Rank 0: the one process that writes files and reports progress."""
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world > 1

    def init(self) -> "Dist":
        """Join the process group (gloo on the CPU, NCCL on GPUs); nothing at world size 1."""
        import torch.distributed as tdist

        if self.active and not tdist.is_initialized():
            if self.device.type == "cuda":
                torch.cuda.set_device(self.device)
            tdist.init_process_group("nccl" if self.device.type == "cuda" else "gloo", timeout=TIMEOUT)
        return self

    def close(self) -> None:
        import torch.distributed as tdist

        if self.active and tdist.is_initialized():
            import gc

            gc.collect()  # DDP wrappers left in reference cycles still hold the group: free them first
            tdist.destroy_process_group()

    def barrier(self) -> None:
        import torch.distributed as tdist

        if self.active:
            tdist.barrier()

    def wrap(self, module: torch.nn.Module) -> torch.nn.Module:
        """DistributedDataParallel around ``module`` (already on this device); itself at world size 1.

        DDP copies rank 0's parameters and buffers to every rank here, so the ranks start equal.
        """
        if not self.active:
            return module
        from torch.nn.parallel import DistributedDataParallel

        from .backbones.per_label import PerLabel

        ids = [self.device.index] if self.device.type == "cuda" else None
        # one network per label: a batch on one rank may hold no cell of some label, leaving its network unused
        return DistributedDataParallel(module, device_ids=ids, find_unused_parameters=isinstance(module, PerLabel))

    def shard(self, x: torch.Tensor) -> torch.Tensor:
        """This rank's rows of a global batch (near-equal consecutive slices; all of it at world size 1)."""
        if not self.active:
            return x
        return torch.tensor_split(x, self.world)[self.rank]

    def all_gather(self, t: torch.Tensor) -> list[torch.Tensor]:
        """Every rank's copy of a same-shaped tensor, on the CPU, in rank order (``[t]`` at world size 1)."""
        if not self.active:
            return [t]
        import torch.distributed as tdist

        src = t.to(self.device)
        out = [torch.empty_like(src) for _ in range(self.world)]
        tdist.all_gather(out, src)
        return [o.cpu() for o in out]

    def default_threads(self) -> int:
        """CPU threads per process when none are asked for: the cores shared among this node's processes."""
        return max(1, (os.cpu_count() or 1) // self.local_world)


SINGLE = Dist()
"""One process on the CPU (what :func:`scdiff_core.training.train` uses unless told otherwise)."""
