"""scRDiT's denoiser: a Diffusion Transformer (DiT, Peebles & Xie 2023) on a vector.

The vector being denoised, (N, dim), is cut into consecutive patches of ``patch_size`` entries
(the end zero-padded to a multiple of ``patch_size``); each patch is linearly embedded to
``width`` and a FIXED 1-D sin-cos positional embedding is added, giving tokens (N, L, width)
with ``L = ceil(dim / patch_size)``.

The conditioning vector is ``c = MLP(timestep_embedding(t)) + ConditionEmbedding(cond)`` (the
condition part is the sum of one embedding per condition column; ``cond=None`` means the null
code in every column). Every block is modulated by ``c`` with adaLN-Zero, as in
facebookresearch/DiT::

    shift1, scale1, gate1, shift2, scale2, gate2 = Linear(SiLU(c)).chunk(6)
    x = x + gate1 * Attention(modulate(LN(x), shift1, scale1))
    x = x + gate2 * MLP(modulate(LN(x), shift2, scale2))

with ``modulate(x, shift, scale) = x * (1 + scale) + shift`` and LayerNorm without affine
parameters. The final layer is adaLN (shift, scale) + Linear back to ``patch_size`` values per
token, which are un-patchified and cropped to ``dim``.

adaLN-Zero: every modulation Linear and the final Linear start at exactly zero, so each block is
the identity and the whole network outputs exactly 0 at initialisation.

:class:`TransformerSkeleton` holds everything except the blocks; the White-Box CRATE backbone
(:mod:`.crate`) reuses it with different blocks.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ScdiffError
from .base import Backbone, ConditionEmbedding, register, timestep_embedding


def modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """adaLN modulation. x: (N, L, D), shift/scale: (N, D) -> (N, L, D)."""
    return x * (1 + scale.unsqueeze(1)) + shift.unsqueeze(1)


SAMPLING_ROWS = 1024
"""Rows per block when sampling. A transformer's intermediates are (rows × tokens × 4·width) floats;
in blocks of 1,024 rows they stay in cache, and a 2,000-row forward pass (1,000 cells with
classifier-free guidance) ran 20–24 % faster for DiT and CRATE on 2 cores than in one block (the
MLP: no difference). Training (gradients recorded) runs the batch whole."""


def per_cell(rows: torch.Tensor, index: torch.Tensor | None) -> torch.Tensor:
    """``rows`` (U, F) computed once per conditioning row -> (N, F), one per cell (``index`` None: already per cell)."""
    return rows if index is None else rows.index_select(0, index)


def sincos_pos_embed_1d(n_tokens: int, width: int) -> torch.Tensor:
    """Fixed 1-D sin-cos positional embedding (DiT's ``get_1d_sincos_pos_embed_from_grid``).

    Returns (n_tokens, width): the first half sin(pos * ω_i), the second half cos(pos * ω_i),
    ω_i = 10000^(-i / (width/2)). An odd width gets a zero last column.
    """
    half = width // 2
    omega = 1.0 / 10000.0 ** (torch.arange(half, dtype=torch.float64) / max(half, 1))  # (half,)
    pos = torch.arange(n_tokens, dtype=torch.float64)  # (L,)
    out = pos[:, None] * omega[None]  # (L, half)
    emb = torch.cat([torch.sin(out), torch.cos(out)], dim=1)  # (L, 2*half)
    if width % 2:
        emb = torch.cat([emb, torch.zeros(n_tokens, 1, dtype=emb.dtype)], dim=1)  # (L, width)
    return emb.float()


class Attention(nn.Module):
    """Multi-head self-attention (timm's ``Attention`` as used by DiT), via SDPA."""

    def __init__(self, width: int, heads: int):
        super().__init__()
        self.heads = heads
        self.head_dim = width // heads
        self.qkv = nn.Linear(width, 3 * width)
        self.proj = nn.Linear(width, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, L, d = x.shape
        qkv = self.qkv(x).reshape(n, L, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4)  # (3, N, H, L, hd)
        q, k, v = qkv.unbind(0)  # each (N, H, L, hd)
        out = F.scaled_dot_product_attention(q, k, v)  # (N, H, L, hd)
        out = out.transpose(1, 2).reshape(n, L, d)  # (N, L, D)
        return self.proj(out)  # (N, L, D)


class Mlp(nn.Module):
    """Token-wise MLP: Linear -> GELU -> Linear.

    ``approximate`` is PyTorch's: ``"tanh"`` (DiT's original) or ``"none"`` (the exact erf form,
    about 3× faster on CPU; new models use it, see :meth:`DiTBackbone.hparams_for`).
    """

    def __init__(self, width: int, hidden: int, approximate: str = "tanh"):
        super().__init__()
        self.fc1 = nn.Linear(width, hidden)
        self.fc2 = nn.Linear(hidden, width)
        self.approximate = approximate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x), approximate=self.approximate))  # (N, L, D)


class DiTBlock(nn.Module):
    """A DiT block with adaLN-Zero conditioning."""

    def __init__(self, width: int, heads: int, mlp_ratio: float, gelu: str = "tanh"):
        super().__init__()
        self.norm1 = nn.LayerNorm(width, elementwise_affine=False, eps=1e-6)
        self.attn = Attention(width, heads)
        self.norm2 = nn.LayerNorm(width, elementwise_affine=False, eps=1e-6)
        self.mlp = Mlp(width, int(width * mlp_ratio), gelu)
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(width, 6 * width))

    def forward(self, x: torch.Tensor, c: torch.Tensor, index: torch.Tensor | None = None) -> torch.Tensor:
        """x: (N, L, D) tokens, c: (N, D) conditioning (or (U, D) rows and ``index`` (N,)) -> (N, L, D)."""
        shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp = \
            per_cell(self.adaLN_modulation(c), index).chunk(6, dim=1)  # each (N, D)
        x = x + gate_msa.unsqueeze(1) * self.attn(modulate(self.norm1(x), shift_msa, scale_msa))  # (N, L, D)
        x = x + gate_mlp.unsqueeze(1) * self.mlp(modulate(self.norm2(x), shift_mlp, scale_mlp))  # (N, L, D)
        return x


class FinalLayer(nn.Module):
    """adaLN (shift, scale) + Linear from ``width`` to ``patch_size`` values per token."""

    def __init__(self, width: int, patch_size: int):
        super().__init__()
        self.norm_final = nn.LayerNorm(width, elementwise_affine=False, eps=1e-6)
        self.linear = nn.Linear(width, patch_size)
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(width, 2 * width))

    def forward(self, x: torch.Tensor, c: torch.Tensor, index: torch.Tensor | None = None) -> torch.Tensor:
        shift, scale = per_cell(self.adaLN_modulation(c), index).chunk(2, dim=1)  # each (N, D)
        x = modulate(self.norm_final(x), shift, scale)  # (N, L, D)
        return self.linear(x)  # (N, L, P)


class TransformerSkeleton(Backbone):
    """Patchify + fixed sin-cos positions + adaLN-Zero conditioning + final layer.

    Subclasses set ``self._hparams`` and implement :meth:`make_block`, which returns a module
    ``block(x (N, L, width), c (N, width)) -> (N, L, width)`` that is the identity at init.
    """

    def __init__(self, dim: int, n_classes: Sequence[int], patch_size: int, width: int, depth: int,
                 heads: int, emb_dim: int):
        super().__init__(dim, n_classes)
        if patch_size < 1 or width < 1 or depth < 0 or heads < 1 or emb_dim < 1:
            raise ScdiffError(
                f"Invalid transformer size (patch_size={patch_size}, width={width}, depth={depth}, "
                f"heads={heads}, emb_dim={emb_dim}): all must be positive (depth may be 0)."
            )
        self.patch_size = int(patch_size)
        self.width = int(width)
        self.emb_dim = int(emb_dim)
        self.n_tokens = math.ceil(dim / self.patch_size)
        self.patch_embed = nn.Linear(self.patch_size, self.width)
        self.register_buffer("pos_embed", sincos_pos_embed_1d(self.n_tokens, self.width), persistent=False)
        self.time_mlp = nn.Sequential(nn.Linear(self.emb_dim, self.width), nn.SiLU(),
                                      nn.Linear(self.width, self.width))
        self.cond_emb = ConditionEmbedding(n_classes, self.width)
        self.blocks = nn.ModuleList(self.make_block() for _ in range(int(depth)))
        self.final_layer = FinalLayer(self.width, self.patch_size)
        self.initialize_weights()

    def make_block(self) -> nn.Module:
        raise NotImplementedError

    @classmethod
    def hparams_for(cls, space: str) -> dict:
        """A latent code is cut into tokens of 8 coordinates (a 16-d code: 2 tokens); genes into patches of 16.

        Tokens of 8 rather than 2 (as until 2026-12-07): with 8 tokens per code DiT and CRATE sampled
        1,000 cells in 12.4 s and 6.6 s (DDIM-50, classifier-free, 2 cores), with 2 tokens in 2.9 s
        and 2.0 s, and were no more realistic on validation cells (docs/benchmarks.md, "Tokens per
        latent code"; ``benchmarks/transformer_tokens.py``).
        """
        hp = dict(cls.default_hparams)
        if space == "latent":
            hp["patch_size"] = 8
        return hp

    def initialize_weights(self) -> None:
        """DiT's initialisation: Xavier linears, N(0, 0.02) time MLP, zero adaLN and output."""
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
        nn.init.normal_(self.time_mlp[0].weight, std=0.02)
        nn.init.normal_(self.time_mlp[2].weight, std=0.02)
        for blk in self.blocks:
            nn.init.zeros_(blk.adaLN_modulation[-1].weight)
            nn.init.zeros_(blk.adaLN_modulation[-1].bias)
        nn.init.zeros_(self.final_layer.adaLN_modulation[-1].weight)
        nn.init.zeros_(self.final_layer.adaLN_modulation[-1].bias)
        nn.init.zeros_(self.final_layer.linear.weight)
        nn.init.zeros_(self.final_layer.linear.bias)

    def patchify(self, x: torch.Tensor) -> torch.Tensor:
        """(N, dim) -> (N, L, P), the end zero-padded."""
        pad = self.n_tokens * self.patch_size - x.shape[1]
        x = F.pad(x, (0, pad))  # (N, L*P)
        return x.reshape(x.shape[0], self.n_tokens, self.patch_size)  # (N, L, P)

    def unpatchify(self, x: torch.Tensor) -> torch.Tensor:
        """(N, L, P) -> (N, dim), the padding cropped."""
        return x.reshape(x.shape[0], -1)[:, : self.dim]  # (N, dim)

    def conditioning(self, t: torch.Tensor, cond: torch.Tensor | None, n: int, device) -> torch.Tensor:
        """c = MLP(timestep_embedding(t)) + sum of condition embeddings: (N, width)."""
        if t.dim() == 0:
            t = t.expand(n)
        c = self.time_mlp(timestep_embedding(t.to(device), self.emb_dim))  # (N, D)
        ce = self.cond_emb(cond, n, device)
        if ce is not None:
            c = c + ce  # (N, D)
        return c

    def conditioning_rows(self, t: torch.Tensor, cond: torch.Tensor | None, n: int,
                          device) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``(c, index)``: the conditioning of each distinct (t, condition) row, and each cell's row.

        While sampling, the cells of a batch share one t and a handful of conditions, and the
        adaLN modulations (a Linear from ``width`` to 6 × ``width`` per block, about a fifth of a
        2-token network's work) are the same for all cells of a row: they are computed once per
        row and gathered. ``index`` is None (one row per cell, the plain computation) while
        gradients are recorded, for small batches, and when most rows are distinct.
        """
        if torch.is_grad_enabled() or n < 64:
            return self.conditioning(t, cond, n, device), None
        tt = (t.expand(n) if t.dim() == 0 else t).to(device)
        _, code = torch.unique(tt, return_inverse=True)  # (N,): one code per distinct t
        if cond is not None:  # mixed radix over the columns' codes (0 … n_classes[k], the last one "not given")
            for k, nk in enumerate(self.cond_emb.n_classes):
                code = code * (int(nk) + 1) + cond[:, k].to(device=device, dtype=torch.long)
        uniq, index = torch.unique(code, return_inverse=True)  # (U,), (N,): 1-D unique, a sort
        if 2 * uniq.shape[0] > n:
            return self.conditioning(t, cond, n, device), None
        first = torch.full((uniq.shape[0],), n, dtype=torch.long, device=device).scatter_reduce_(
            0, index, torch.arange(n, device=device), reduce="amin")  # (U,): a cell of each row
        cu = cond.to(device).index_select(0, first) if cond is not None else None
        return self.conditioning(tt.index_select(0, first), cu, uniq.shape[0], device), index  # (U, D), (N,)

    def forward(self, x: torch.Tensor, t: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        """ε for (N, dim) ``x``; while sampling, in blocks of :data:`SAMPLING_ROWS` rows (same values)."""
        n, r = x.shape[0], SAMPLING_ROWS
        if n <= r or torch.is_grad_enabled():
            return self._forward(x, t, cond)
        ts = t.expand(n) if t.dim() == 0 else t
        return torch.cat([self._forward(x[i:i + r], ts[i:i + r], None if cond is None else cond[i:i + r])
                          for i in range(0, n, r)], 0)  # (N, dim)

    def _forward(self, x: torch.Tensor, t: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        n = x.shape[0]
        h = self.patch_embed(self.patchify(x)) + self.pos_embed  # (N, L, D)
        c, index = self.conditioning_rows(t, cond, n, x.device)  # (U, D), (N,) or None
        for blk in self.blocks:
            h = blk(h, c, index)  # (N, L, D)
        out = self.final_layer(h, c, index)  # (N, L, P)
        return self.unpatchify(out)  # (N, dim)


@register("dit")
class DiTBackbone(TransformerSkeleton):
    """scRDiT's Diffusion Transformer on a vector (see the module docstring).

    Parameters
    ----------
    patch_size
        Entries per token; ``dim`` is zero-padded to a multiple of it.
    width
        Token width (hidden size).
    depth
        Number of DiT blocks.
    heads
        Attention heads; must divide ``width``.
    mlp_ratio
        Hidden size of the block MLP relative to ``width``.
    emb_dim
        Frequency size of the sinusoidal timestep embedding.
    gelu
        The block MLP's GELU: ``"tanh"``, DiT's approximation (the default here, so checkpoints
        written before this choice existed load as they were trained), or ``"none"``, the exact
        form, which models trained now use (:meth:`hparams_for`): the same function within 5e-4
        and about 3× faster on a CPU, where the tanh form was a fifth of DiT's sampling time.
    """

    description = "scRDiT's Diffusion Transformer: adaLN-Zero blocks over patches of the vector"

    default_hparams = {"patch_size": 16, "width": 128, "depth": 4, "heads": 4, "mlp_ratio": 4.0,
                       "emb_dim": 128, "gelu": "tanh"}

    def __init__(self, dim: int, n_classes: Sequence[int], patch_size: int = 16, width: int = 128,
                 depth: int = 4, heads: int = 4, mlp_ratio: float = 4.0, emb_dim: int = 128,
                 gelu: str = "tanh"):
        if heads < 1 or width % heads:
            raise ScdiffError(f"DiT: heads={heads} must be positive and divide width={width}.")
        if mlp_ratio <= 0:
            raise ScdiffError(f"DiT: mlp_ratio={mlp_ratio} must be positive.")
        if gelu not in ("tanh", "none"):
            raise ScdiffError(f"DiT: gelu={gelu!r} must be \"tanh\" (DiT's approximation) or \"none\" (exact).")
        self.heads = int(heads)
        self.mlp_ratio = float(mlp_ratio)
        self.gelu = str(gelu)
        super().__init__(dim, n_classes, patch_size, width, depth, heads, emb_dim)
        self._hparams = {"patch_size": int(patch_size), "width": int(width), "depth": int(depth),
                         "heads": int(heads), "mlp_ratio": float(mlp_ratio), "emb_dim": int(emb_dim),
                         "gelu": self.gelu}

    @classmethod
    def hparams_for(cls, space: str) -> dict:
        """As the skeleton's, with the exact GELU for every model trained now (see ``gelu``)."""
        return {**super().hparams_for(space), "gelu": "none"}

    def make_block(self) -> nn.Module:
        return DiTBlock(self.width, self.heads, self.mlp_ratio, self.gelu)
