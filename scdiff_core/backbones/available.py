"""Importing this module registers every shipped backbone."""
from . import crate, dit, mlp  # noqa: F401  (scDiffusion's MLP, scRDiT's DiT, White-Box CRATE)
