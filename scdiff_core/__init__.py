"""scdiff: diffusion models that generate single-cell RNA-seq profiles under chosen conditions.

Data flow (one module each): :mod:`.data` → :mod:`.autoencoder` → :mod:`.backbones` →
:mod:`.diffusion` (schedule and samplers) → :mod:`.guidance` → :mod:`.checkpoint` →
:mod:`.metrics`; :mod:`.training` fits a model, :mod:`.model` generates with one.
"""
__version__ = "0.1.0"


def load(path):
    """Load a trained checkpoint folder (see :class:`scdiff_core.model.SCDiffModel`)."""
    from .model import SCDiffModel

    return SCDiffModel.load(path)
