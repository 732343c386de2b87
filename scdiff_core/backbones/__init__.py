"""Denoising networks behind one contract (see :mod:`.base`); each registers itself in
:data:`BACKBONES` where it is defined: scDiffusion's MLP, scRDiT's DiT, the White-Box CRATE."""
from .base import BACKBONES, Backbone, build_backbone, register, timestep_embedding  # noqa: F401
from . import crate, dit, mlp  # noqa: F401,E402  (their @register lines fill BACKBONES)
