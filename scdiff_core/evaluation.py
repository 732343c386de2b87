"""Kept for old imports: :class:`HeldOut` lives in :mod:`scdiff_core.metrics.heldout` (protocol: docs/evaluation.md)."""
from .metrics.heldout import HeldOut  # noqa: F401
