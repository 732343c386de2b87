"""Denoising networks behind one contract (see :mod:`.base`)."""
from .base import BACKBONES, Backbone, build_backbone, register, timestep_embedding  # noqa: F401
