"""One denoiser per cell type, as scRDiT trains them — behind the same backbone contract.

scRDiT (Dong et al., 2024) trains a separate, unconditional diffusion model for every cell type.
:class:`PerLabel` holds one network of any registered backbone per value of the *first*
condition column, plus one for its null value: each row of a batch goes to the network of its
label, conditioned on the remaining columns. The null network sees every cell whose label was
dropped in training (condition dropout, as for classifier-free guidance), so "any" and
classifier-free guidance keep working: ε∅ comes from the shared network, ε_k from type k's own.

Built by :func:`~scdiff_core.backbones.base.build_backbone` when the hyper-parameters hold
``per_label: true`` (``scdiff train --per-label``); the checkpoint records it with the inner
backbone's own hyper-parameters, so loading rebuilds the same networks.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from .base import Backbone

PER_LABEL = "per_label"


class PerLabel(Backbone):
    """``n_classes[0] + 1`` networks of backbone ``name``; row i goes to network ``cond[i, 0]``.

    Parameters
    ----------
    name, dim, n_classes, hparams
        The inner backbone, the vector size, the condition columns' sizes (the first is split on)
        and the inner backbone's hyper-parameters.
    """

    def __init__(self, name: str, dim: int, n_classes: Sequence[int], **hparams):
        super().__init__(int(dim), list(n_classes))
        from .base import build_backbone

        if not n_classes:
            from ..errors import ScdiffError

            raise ScdiffError("One model per label needs a condition column to split on; give --conditions.")
        self.name = name  # the inner backbone's: checkpoints record it with per_label in the hparams
        self.nets = nn.ModuleList(build_backbone(name, dim, self.n_classes[1:], **hparams)
                                  for _ in range(self.n_classes[0] + 1))  # one per label, the last for "any"
        self._hparams = {**self.nets[0].hparams, PER_LABEL: True}

    def forward(self, x: torch.Tensor, t: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        """x: (N, dim), t: (N,), cond: (N, K) codes or None (all null) -> ε̂ (N, dim)."""
        if cond is None:
            cond = self.null_condition(len(x), x.device)
        lab = cond[:, 0]  # (N,)
        rest = cond[:, 1:] if cond.shape[1] > 1 else None
        out = torch.empty_like(x)
        for k in torch.unique(lab).tolist():
            rows = torch.nonzero(lab == k).squeeze(1)  # (n_k,)
            out[rows] = self.nets[k](x[rows], t[rows], None if rest is None else rest[rows])
        return out
