"""Conditioning at sampling time.

* **Classifier guidance** (scDiffusion; Dhariwal & Nichol 2021): one noise-aware classifier
  p_k(y_k | x_t, t) per condition column. The guided noise estimate is
  ε̂' = ε̂ − √(1 − ᾱ_t) Σ_k s_k ∇_x log p_k(y_k | x_t)       (D&N eq. 14),
  summed over the guided columns, so several attributes — and combinations never seen in
  training — are sampled jointly. Gradient Interpolation replaces log p(y|x_t) by
  (1 − λ) log p(A|x_t) + λ log p(B|x_t).
* **Classifier-free guidance** (Ho & Salimans 2022, composed per attribute as in CFGen):
  ε̂ = ε∅ + Σ_k w_k (ε_k − ε∅), with ε_k the network given only column k and ε∅ given none.
  All terms come from one batched forward pass.

"Any" (``None``) for a column means that column is not guided. Each mode is registered in
:data:`GUIDANCE` by name, with a sentence the CLI and the app show.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import torch
from torch import nn

from .backbones.base import timestep_embedding

EpsFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class GuidanceMode:
    """A way to steer sampling: ``build(model, targets, scales) -> eps_fn``.

    ``model`` is an :class:`~scdiff_core.model.SCDiffModel`; ``targets[k]`` is None (column k
    not guided) or (N, C_k) class weights; ``scales[k]`` the strength for column k.
    """

    name: str
    description: str
    build: Callable[..., EpsFn]


GUIDANCE: dict[str, GuidanceMode] = {}


def register_guidance(name: str, description: str):
    """Function decorator: register ``build(model, targets, scales)`` as guidance mode ``name``."""

    def deco(fn):
        GUIDANCE[name] = GuidanceMode(name, description, fn)
        return fn

    return deco


class NoiseClassifier(nn.Module):
    """p(y | x_t, t) for one condition column: an MLP on the noisy vector and the time embedding."""

    def __init__(self, dim: int, n_classes: int, hidden: Sequence[int] = (256, 256), emb_dim: int = 64,
                 dropout: float = 0.1):
        super().__init__()
        self.dim, self.n_classes, self.emb_dim = int(dim), int(n_classes), int(emb_dim)
        self.hidden, self.dropout = [int(h) for h in hidden], float(dropout)
        self.time_mlp = nn.Sequential(nn.Linear(emb_dim, emb_dim), nn.SiLU())
        layers: list[nn.Module] = []
        d = dim + emb_dim
        for w in self.hidden:
            layers += [nn.Linear(d, w), nn.LayerNorm(w), nn.SiLU(), nn.Dropout(dropout)]
            d = w
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(d, n_classes)

    def hparams(self) -> dict:
        return {"dim": self.dim, "n_classes": self.n_classes, "hidden": self.hidden,
                "emb_dim": self.emb_dim, "dropout": self.dropout}

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """x: (N, D), t: (N,) -> logits (N, C)."""
        e = self.time_mlp(timestep_embedding(t, self.emb_dim))
        return self.head(self.body(torch.cat([x, e], dim=-1)))


def classifier_guided(eps_fn: EpsFn, diffusion, classifiers: Sequence[NoiseClassifier],
                      targets: Sequence[torch.Tensor], scales: Sequence[float],
                      t_max: int | None = None) -> EpsFn:
    """Wrap ``eps_fn`` with classifier guidance.

    targets[k]: (N, C_k) weights over classes of column k — one-hot for a plain condition,
    (1 − λ, λ) on two classes for Gradient Interpolation. The guided log-probability is
    Σ_k s_k Σ_c targets[k][:, c] log p_k(c | x_t). Guidance is applied at timesteps ≤ t_max
    (scDiffusion guides only the less noisy half; default: every step).
    """
    active = [(c, y, float(s)) for c, y, s in zip(classifiers, targets, scales) if s != 0]
    if not active:
        return eps_fn

    def guided(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        eps = eps_fn(x, t)
        if t_max is not None and int(t[0]) > t_max:
            return eps
        with torch.enable_grad():
            xg = x.detach().requires_grad_(True)
            total = 0.0
            for clf, y, s in active:
                logp = torch.log_softmax(clf(xg, t), dim=-1)  # (N, C)
                total = total + s * (logp * y).sum()
            grad = torch.autograd.grad(total, xg)[0]  # Σ_k s_k ∇ log p_k, (N, D)
        ab = diffusion.alpha_bar(t)  # (N, 1)
        return eps - (1 - ab).sqrt() * grad

    return guided


def classifier_free(model: nn.Module, cond_weights: Sequence[torch.Tensor | None],
                    n_classes: Sequence[int], scales: Sequence[float], chain: bool = False) -> EpsFn:
    """ε̂ = ε∅ + Σ_k w_k Σ_c π_kc (ε(c_k = c) − ε∅), in one batched forward pass.

    cond_weights[k]: None (column not guided) or (N, C_k) weights π over the classes of column k,
    per cell (one-hot for a condition, (1 − λ, λ) for interpolation). Each cell may ask for a
    different class; per step the network sees each cell once without a condition and once for each
    class it gives a non-zero weight (1 + Σ_k S_k passes over the batch at most, S_k being the largest
    number of non-zero classes any cell has in column k; 2 for plain conditions).

    ``chain=True`` composes by the chain rule instead, p(c_1, c_2 | x) = p(c_1 | x) p(c_2 | x, c_1):
    column k's term is ε(c_<k, c_k) − ε(c_<k), the network given the earlier guided columns' values
    too, so a later column (phase) is steered *within* the earlier one (the cluster) rather than
    towards its marginal. Earlier columns enter the prefix only where a cell asks for a single value
    (one-hot); with every strength 1 the sum telescopes to the plain conditional ε(c_1, …, c_K).
    Same number of network calls.
    """
    K = len(n_classes)
    null = torch.tensor(list(n_classes), dtype=torch.long)
    # (column, codes (N,), weights (N,), prefix codes (N, K) or None for the all-null prefix)
    slots: list[tuple[int, torch.Tensor, torch.Tensor, torch.Tensor | None]] = []
    prefix: torch.Tensor | None = None
    for k, (pi, w) in enumerate(zip(cond_weights, scales)):
        if pi is None or float(w) == 0:
            continue
        n_nz = int((pi != 0).sum(1).max())
        if n_nz == 0:
            continue
        vals, idx = torch.topk(pi, n_nz, dim=1)  # (N, S_k)
        for j in range(n_nz):
            v = vals[:, j]
            codes = torch.where(v != 0, idx[:, j], null[k])
            slots.append((k, codes, float(w) * v, prefix if chain else None))
        if chain:
            single = (pi != 0).sum(1) == 1
            base = null.expand(pi.shape[0], K).clone() if prefix is None else prefix.clone()
            base[:, k] = torch.where(single, idx[:, 0], null[k])
            prefix = base

    # per batch size: the blocks to evaluate (rows of the batch or None for all, conditions) and the terms
    plans: dict[int, tuple[list, list]] = {}

    def plan(n: int) -> tuple[list, list]:
        """The distinct (rows, condition) blocks to evaluate, built once per batch size, not every step.

        A slot's block holds only the cells that ask for a class in it (a cell's weights may be spread
        over several classes, as in an interpolation or a neighbourhood's label make-up, while its
        neighbour asks for one): the other cells' terms are zero. Baselines are whole-batch blocks.
        """
        blocks: list[tuple[torch.Tensor | None, torch.Tensor]] = [(None, null.expand(n, K))]

        def index(rows: torch.Tensor | None, c: torch.Tensor) -> int:  # position of the block, added if new
            for i, (r, u) in enumerate(blocks):
                same_rows = (r is None and rows is None) or (r is not None and rows is not None and torch.equal(r, rows))
                if same_rows and torch.equal(u, c):
                    return i
            blocks.append((rows, c))
            return len(blocks) - 1

        pairs = []  # (block index, baseline block index, rows or None, weights of those rows)
        for k, codes, wv, pre in slots:
            base = 0 if pre is None else index(None, pre)
            asks = codes != null[k]
            if not bool(asks.any()):
                continue
            rows = None if bool(asks.all()) else torch.nonzero(asks).squeeze(1)
            cc = (null.expand(n, K) if pre is None else pre).clone()
            cc[:, k] = codes
            if rows is not None:
                cc, wv = cc[rows], wv[rows]
            pairs.append((index(rows, cc), base, rows, wv))
        return blocks, pairs

    def eps_fn(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        if n not in plans:
            plans[n] = plan(n)
        blocks, pairs = plans[n]
        xs = torch.cat([x if r is None else x[r] for r, _ in blocks], 0)
        ts = torch.cat([t if r is None else t[r] for r, _ in blocks], 0)
        out = model(xs, ts, torch.cat([c for _, c in blocks], 0))
        outs = torch.split(out, [n if r is None else len(r) for r, _ in blocks], 0)
        eps = outs[0]
        for ci, bi, rows, wv in pairs:
            base = outs[bi] if rows is None else outs[bi][rows]
            term = wv[:, None] * (outs[ci] - base)
            eps = eps + term if rows is None else eps.index_add(0, rows, term)
        return eps

    return eps_fn


@register_guidance("free", "classifier-free: the denoiser with the condition vs. without it, one network")
def _build_free(model, targets: Sequence[torch.Tensor | None], scales: Sequence[float]) -> EpsFn:
    return classifier_free(model.denoiser, targets, model.n_classes, scales)


@register_guidance("chained", "classifier-free, each condition given the ones before it (phase within the cluster), "
                              "for combinations never seen in training")
def _build_chained(model, targets: Sequence[torch.Tensor | None], scales: Sequence[float]) -> EpsFn:
    return classifier_free(model.denoiser, targets, model.n_classes, scales, chain=True)


def modes_for(n_columns: int) -> list[str]:
    """The guidance modes worth offering when ``n_columns`` condition columns are guided: with one,
    chained is classifier-free itself and is left out."""
    return [g for g in GUIDANCE if g != "chained" or n_columns > 1]


@register_guidance("classifier", "gradients of one noise-aware classifier per condition (scDiffusion)")
def _build_classifier(model, targets: Sequence[torch.Tensor | None], scales: Sequence[float]) -> EpsFn:
    null = torch.tensor(model.n_classes, dtype=torch.long)

    def uncond(x, t):
        return model.denoiser(x, t, null.expand(x.shape[0], -1))

    cols = [(model.classifiers[c], y, s) for c, y, s in zip(model.conditions, targets, scales) if y is not None]
    if not cols:
        return uncond
    t_max = model.config["guidance_defaults"].get("classifier_t_max")
    return classifier_guided(uncond, model.diffusion, [c for c, _, _ in cols], [y for _, y, _ in cols],
                             [s for _, _, s in cols], t_max=t_max)
