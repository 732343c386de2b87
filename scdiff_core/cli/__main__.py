"""``python -m scdiff_core.cli …`` (what the app's training jobs and torchrun start)."""
import sys

from . import main

sys.exit(main())
