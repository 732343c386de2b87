"""The White-Box Diffusion Transformer: DiT's skeleton with CRATE blocks (Yu et al. 2023).

Same patchify, fixed sin-cos positions, conditioning ``c = MLP(t-embedding) + cond embedding``,
adaLN-Zero modulation and final layer as :mod:`.dit`; inside each block the attention is replaced
by CRATE's Multi-head Subspace Self-Attention (MSSA) and the MLP by one ISTA step of sparse coding
against a learned dictionary.

MSSA (per head k, one projection ``U_k`` (width -> head_dim) is query, key AND value)::

    Z_k = U_kᵀ z                                  (tokens projected on the k-th subspace)
    A_k = softmax(Z_k Z_kᵀ / sqrt(head_dim))      (over tokens)
    MSSA(z) = [U_1 .. U_K] · concat_k(A_k Z_k)    (output projection, a Linear with bias)

ISTA (``D`` the learned width x width dictionary, η = ``step_size``, λ = ``lambd``)::

    ISTA(z) = ReLU(z + η Dᵀ (z − D z) − η λ)

Block, with adaLN-Zero (``u`` the modulated, normalised tokens)::

    z = z + gate1 * MSSA(modulate(LN(z), shift1, scale1))
    u = modulate(LN(z), shift2, scale2)
    z = z + gate2 * (ISTA(u) − u)

The ISTA step enters as the gated *increment* ``ISTA(u) − u``: with the gates at zero (adaLN-Zero
init) the block is exactly the identity, and with gate 1, no modulation and no LayerNorm it is
exactly CRATE's update ``z ← ISTA(z)`` (the sparsification replaces the tokens, not adds to them).

Per block the parameters are U (width²), the output projection (width² + width), D (width²) and
the adaLN Linear (6·width² + 6·width): about 9·width², half of a DiT block's 18·width².
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ScdiffError
from .base import register
from .dit import TransformerSkeleton, modulate, per_cell


class MSSA(nn.Module):
    """Multi-head Subspace Self-Attention: shared query/key/value projection per head."""

    def __init__(self, width: int, heads: int, head_dim: int):
        super().__init__()
        self.heads = heads
        self.head_dim = head_dim
        self.qkv = nn.Linear(width, heads * head_dim, bias=False)  # rows: U_1ᵀ .. U_Kᵀ
        self.to_out = nn.Linear(heads * head_dim, width)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """z: (N, L, width) -> (N, L, width)."""
        n, L, _ = z.shape
        w = self.qkv(z).reshape(n, L, self.heads, self.head_dim).transpose(1, 2)  # (N, H, L, hd)
        out = F.scaled_dot_product_attention(w, w, w)  # softmax(w wᵀ/sqrt(hd)) w: (N, H, L, hd)
        out = out.transpose(1, 2).reshape(n, L, self.heads * self.head_dim)  # (N, L, H*hd)
        return self.to_out(out)  # (N, L, width)


class ISTA(nn.Module):
    """One ISTA step: ``ISTA(z) = ReLU(z + η Dᵀ(z − D z) − η λ)`` with ``D = self.weight``.

    As in CRATE's official ``FeedForward``: with ``F.linear(x, W) = W x`` (per token),
    ``x1 = D z``, ``grad_1 = Dᵀ x1 = DᵀD z``, ``grad_2 = Dᵀ z``, and the update
    ``η (grad_2 − grad_1) − η λ = η Dᵀ(z − D z) − η λ``: a proximal gradient step on
    ``½‖z − D a‖² + λ‖a‖₁, a ≥ 0`` started from ``a = z``.
    """

    def __init__(self, width: int, step_size: float, lambd: float):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(width, width))  # D: (width, width)
        nn.init.kaiming_uniform_(self.weight)
        self.step_size = step_size
        self.lambd = lambd

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x1 = F.linear(z, self.weight)  # D z: (N, L, width)
        grad_1 = F.linear(x1, self.weight.t())  # DᵀD z: (N, L, width)
        grad_2 = F.linear(z, self.weight.t())  # Dᵀ z: (N, L, width)
        grad_update = self.step_size * (grad_2 - grad_1) - self.step_size * self.lambd  # (N, L, width)
        return F.relu(z + grad_update)  # (N, L, width)


class CrateBlock(nn.Module):
    """MSSA + ISTA with adaLN-Zero (see the module docstring for the composition)."""

    def __init__(self, width: int, heads: int, head_dim: int, step_size: float, lambd: float):
        super().__init__()
        self.norm1 = nn.LayerNorm(width, elementwise_affine=False, eps=1e-6)
        self.attn = MSSA(width, heads, head_dim)
        self.norm2 = nn.LayerNorm(width, elementwise_affine=False, eps=1e-6)
        self.ista = ISTA(width, step_size, lambd)
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(width, 6 * width))

    def forward(self, z: torch.Tensor, c: torch.Tensor, index: torch.Tensor | None = None) -> torch.Tensor:
        """z: (N, L, D) tokens, c: (N, D) conditioning (or (U, D) rows and ``index`` (N,)) -> (N, L, D)."""
        shift_msa, scale_msa, gate_msa, shift_ista, scale_ista, gate_ista = \
            per_cell(self.adaLN_modulation(c), index).chunk(6, dim=1)  # each (N, D)
        z = z + gate_msa.unsqueeze(1) * self.attn(modulate(self.norm1(z), shift_msa, scale_msa))  # (N, L, D)
        u = modulate(self.norm2(z), shift_ista, scale_ista)  # (N, L, D)
        return z + gate_ista.unsqueeze(1) * (self.ista(u) - u)  # (N, L, D)


@register("crate")
class CrateBackbone(TransformerSkeleton):
    """White-Box Diffusion Transformer (DiT skeleton, CRATE blocks).

    Parameters are those of :class:`~.dit.DiTBackbone` without ``mlp_ratio``, plus

    head_dim
        Size of each head's subspace; ``None`` means ``width // heads`` (then ``heads`` must
        divide ``width``).
    step_size
        ISTA step η.
    lambd
        ISTA sparsity weight λ (the threshold is η·λ).
    """

    description = "White-Box Diffusion Transformer: CRATE's MSSA + ISTA blocks, about half DiT's parameters"

    default_hparams = {"patch_size": 16, "width": 128, "depth": 4, "heads": 4, "emb_dim": 128,
                       "head_dim": None, "step_size": 0.1, "lambd": 0.1}

    def __init__(self, dim: int, n_classes: Sequence[int], patch_size: int = 16, width: int = 128,
                 depth: int = 4, heads: int = 4, emb_dim: int = 128, head_dim: int | None = None,
                 step_size: float = 0.1, lambd: float = 0.1):
        if heads < 1:
            raise ScdiffError(f"CRATE: heads={heads} must be positive.")
        if head_dim is None:
            if width % heads:
                raise ScdiffError(f"CRATE: heads={heads} must divide width={width} (or give head_dim).")
            hd = width // heads
        else:
            hd = int(head_dim)
            if hd < 1:
                raise ScdiffError(f"CRATE: head_dim={head_dim} must be positive.")
        self.heads = int(heads)
        self.head_dim = hd
        self.step_size = float(step_size)
        self.lambd = float(lambd)
        super().__init__(dim, n_classes, patch_size, width, depth, heads, emb_dim)
        self._hparams = {"patch_size": int(patch_size), "width": int(width), "depth": int(depth),
                         "heads": int(heads), "emb_dim": int(emb_dim),
                         "head_dim": None if head_dim is None else int(head_dim),
                         "step_size": float(step_size), "lambd": float(lambd)}

    def make_block(self) -> nn.Module:
        return CrateBlock(self.width, self.heads, self.head_dim, self.step_size, self.lambd)
