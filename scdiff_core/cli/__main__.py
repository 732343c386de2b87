"""``python -m scdiff_core.cli …`` (what the app's training jobs and torchrun start)."""
import logging
import os
import sys

from . import main

rc = main()
if os.environ.get("TORCHELASTIC_RUN_ID") and int(os.environ.get("WORLD_SIZE") or 1) > 1:
    # A torchrun worker whose work is done (files written and renamed, process group destroyed)
    # leaves without running the interpreter's and C++'s exit-time destructors: gloo's threads,
    # torn down there in an order we do not control, now and then aborted a finished rank
    # ("terminate called without an active exception"), which failed the whole run.
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(rc)
sys.exit(rc)
