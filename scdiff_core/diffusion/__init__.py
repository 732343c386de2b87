"""Gaussian diffusion maths (:mod:`.gaussian`) and samplers, kept apart from the networks: a
backbone knows nothing about schedules, a sampler nothing about networks. One file per sampler
(:mod:`.ddim`, :mod:`.ddpm`, :mod:`.dpmpp`), each registered in :data:`SAMPLERS` where it is defined."""
from .gaussian import GaussianDiffusion, make_betas  # noqa: F401
from .sampler import SAMPLERS, Sampler, make_sampler, register_sampler, run_sampler  # noqa: F401
from .ddim import DDIMSampler, ddim_invert  # noqa: F401,E402  (registers "ddim")
from .ddpm import DDPMSampler  # noqa: F401,E402  (registers "ddpm")
from .dpmpp import DPMSolverPP2M  # noqa: F401,E402  (registers "dpmpp")
