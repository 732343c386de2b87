"""The app's settings: folders, limits and threads (from environment variables where they can change)."""
from __future__ import annotations

import logging
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
"""The repository: app.py, checkpoints/, benchmarks/ and docs/ are read from here."""
LOG = logging.getLogger("scdiff.app")

#: torch threads of the app process. Measured on 2 cores (docs/benchmarks_app.md): one thread per
#: process is as fast as two when the machine is idle enough and far faster when anything else runs
#: (two sessions generating, a training job), because two threads per request oversubscribe 2 cores.
APP_THREADS = max(1, int(os.environ.get("SCDIFF_APP_THREADS", "1") or 1))
#: Largest request the app accepts (the library allows 100,000; the app keeps memory bounded).
MAX_APP_CELLS = 10_000
MAX_TRAJ_CELLS = 10_000
#: Results kept per browser session (generated sets, trajectories, uploads together); the oldest are
#: dropped beyond either bound, which keeps a session's memory to a few hundred MB at most.
MAX_SETS = 12
MAX_SESSION_CELLS = 20_000


def shipped_root() -> Path:
    """The shipped checkpoints: ``SCDIFF_CHECKPOINTS``, else ``checkpoints/`` of the repository."""
    return Path(os.environ.get("SCDIFF_CHECKPOINTS") or ROOT / "checkpoints").expanduser()


def user_root() -> Path:
    """The user's own models (trained in the app go here): ``SCDIFF_MODELS``, else ``~/.scdiff/models``."""
    return Path(os.environ.get("SCDIFF_MODELS") or "~/.scdiff/models").expanduser()


def jobs_dir() -> Path:
    """Records and logs of training runs started from the app."""
    return user_root() / ".jobs"


def uploads_dir() -> Path:
    """Training data uploaded through the app."""
    return user_root() / ".uploads"


def warm_umap() -> bool:
    """Compile UMAP in the background after a model is loaded (``SCDIFF_APP_WARM_UMAP=0``: no)."""
    return os.environ.get("SCDIFF_APP_WARM_UMAP", "1") != "0"


def setup_torch() -> None:
    """Give torch :data:`APP_THREADS` threads (imports torch)."""
    import torch

    if torch.get_num_threads() != APP_THREADS:
        torch.set_num_threads(APP_THREADS)
