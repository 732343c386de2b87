"""Gaussian diffusion maths (:mod:`.gaussian`) and samplers (:mod:`.samplers`), kept apart
from the networks: a backbone knows nothing about schedules, a sampler nothing about networks."""
from .gaussian import GaussianDiffusion, make_betas  # noqa: F401
from .samplers import SAMPLERS, DDIMSampler, DDPMSampler, make_sampler, run_sampler  # noqa: F401
