"""Autoencoder with a decoder that models observation noise, not only the mean.

The encoder maps log-normalized expression to a small latent code. The decoder returns the
parameters of a likelihood per gene (:mod:`.likelihoods`: negative binomial for counts, ZINB, or
a hurdle model for log-normalized data), and generated cells are *samples* from it.

No BatchNorm anywhere: a cell's code never depends on the other cells in its batch.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from torch import nn

from .likelihoods import LIKELIHOODS


def _mlp(d_in: int, widths: Sequence[int], dropout: float) -> tuple[nn.Sequential, int]:
    layers: list[nn.Module] = []
    d = d_in
    for w in widths:
        layers += [nn.Linear(d, w), nn.LayerNorm(w), nn.SiLU(), nn.Dropout(dropout)]
        d = w
    return nn.Sequential(*layers), d


class Autoencoder(nn.Module):
    """Encoder (genes → latent) and a likelihood decoder (latent → per-gene distribution).

    Parameters
    ----------
    n_genes
        Number of genes.
    latent_dim
        Size of the latent code (64–128 in scDiffusion).
    hidden
        Hidden widths of the encoder; the decoder mirrors them.
    likelihood
        ``nb``, ``zinb`` (count data) or ``hurdle`` (log-normalized data).
    """

    def __init__(self, n_genes: int, latent_dim: int = 64, hidden: Sequence[int] = (512, 256),
                 likelihood: str = "nb", dropout: float = 0.1, variational: bool = False):
        super().__init__()
        if likelihood not in LIKELIHOODS:
            raise ValueError(f"likelihood must be one of {sorted(LIKELIHOODS)}, got {likelihood!r}")
        self.n_genes, self.latent_dim, self.likelihood = int(n_genes), int(latent_dim), likelihood
        self.hidden = [int(h) for h in hidden]
        self.dropout = float(dropout)
        self.encoder_body, d = _mlp(n_genes, self.hidden, dropout)
        self.encoder_out = nn.Linear(d, latent_dim)
        self.variational = bool(variational)
        if self.variational:  # q(z|x) = N(μ(x), σ²(x)) as in scVI; the code used downstream is μ
            self.encoder_logvar = nn.Linear(d, latent_dim)
        self.decoder_body, d = _mlp(latent_dim, list(reversed(self.hidden)), dropout)
        self.lik = LIKELIHOODS[likelihood]
        self.lik.add_heads(self, d, n_genes)

    @property
    def is_count_model(self) -> bool:
        return self.lik.is_count

    def hparams(self) -> dict:
        return {"n_genes": self.n_genes, "latent_dim": self.latent_dim, "hidden": self.hidden,
                "likelihood": self.likelihood, "dropout": self.dropout, "variational": self.variational}

    def encode(self, x_lognorm: torch.Tensor) -> torch.Tensor:
        """(N, G) log-normalized -> (N, latent_dim): the code (the posterior mean if variational)."""
        return self.encoder_out(self.encoder_body(x_lognorm))

    def encode_posterior(self, x_lognorm: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(μ, log σ²) of q(z|x); log σ² is None for a deterministic autoencoder."""
        h = self.encoder_body(x_lognorm)
        return self.encoder_out(h), (self.encoder_logvar(h).clamp(-12, 6) if self.variational else None)

    def decode(self, z: torch.Tensor, library: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Distribution parameters for each cell and gene.

        z: (N, latent_dim); library: (N,) total counts (count models only).
        """
        return self.lik.params(self, self.decoder_body(z), library)

    def nll(self, params: dict[str, torch.Tensor], target: torch.Tensor,
            library: torch.Tensor | None = None) -> torch.Tensor:
        """Negative log-likelihood per cell (summed over genes): (N,).

        target: (N, G) counts for count models — with ``library`` (N,), the cell's total over all its
        genes, whose remainder ℓ − Σ_g x_g is scored too — or log-normalized values for ``hurdle``.
        """
        if self.is_count_model:
            if library is None:
                raise ValueError("count models need the library size to score counts")
            rest = (library - target.sum(-1)).clamp_min(0.0)[:, None]  # (N, 1) counts outside the model
            target = torch.cat([target, rest], dim=-1)
        return -self.lik.log_prob(self, params, target).sum(-1)

    @torch.no_grad()
    def sample(self, params: dict[str, torch.Tensor], rng: np.random.Generator) -> np.ndarray:
        """Draw one observation per cell and gene (numpy Generator: reproducible, thread-safe)."""
        return self.lik.sample(self, params, rng)

    @torch.no_grad()
    def sample_with_total(self, params: dict[str, torch.Tensor], rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Count models: (N, G) counts and (N,) each cell's observed total over all its genes."""
        return self.lik.sample_with_total(self, params, rng)


class AutoencoderLoss(nn.Module):
    """The autoencoder's training objective as a module, so DistributedDataParallel can wrap it.

    Mean NLL of the reconstruction, plus ``kl_weight`` × KL(q(z|x) ‖ N(0, I)) for a variational
    encoder (reparameterised, Kingma & Welling eq. 10), or noise of ``latent_noise`` × the batch's
    spread on the code otherwise. ``eps`` is the standard normal noise for the code (drawn by the
    caller, so a distributed run can draw it for the global batch), or None when none is used.
    """

    def __init__(self, ae: Autoencoder, kl_weight: float, latent_noise: float):
        super().__init__()
        self.ae, self.kl_weight, self.latent_noise = ae, float(kl_weight), float(latent_noise)

    @property
    def needs_noise(self) -> bool:
        return self.ae.variational or self.latent_noise > 0

    def forward(self, x: torch.Tensor, target: torch.Tensor, library: torch.Tensor | None,
                eps: torch.Tensor | None) -> torch.Tensor:
        z, logvar = self.ae.encode_posterior(x)
        kl = 0.0
        if logvar is not None:
            kl = 0.5 * (z.pow(2) + logvar.exp() - 1 - logvar).sum(-1).mean()
            z = z + (0.5 * logvar).exp() * eps
        elif self.latent_noise > 0:
            z = z + self.latent_noise * z.detach().std(0, keepdim=True) * eps
        return self.ae.nll(self.ae.decode(z, library), target, library).mean() + self.kl_weight * kl


def refit_decoder(ae: Autoencoder, cells, steps: int = 400, lr: float = 0.05, max_cells: int = 20_000,
                seed: int = 0) -> dict:
    """Re-fit the decoder's per-gene parameters by maximum likelihood, the network frozen, in eval mode.

    The autoencoder trains with dropout and noise on the code, which blur its means, while
    generated cells are decoded in eval mode; and Adam moves each parameter by about ``lr`` per
    step, so the inverse dispersions θ end near where they started (θ = 1): on paul15 the
    remainder term, whose real relative spread around the decoder's mean is ~6 % (θ in the
    hundreds), was left at θ ≈ 1, which over-spread every generated cell's share of its library.
    Here the encoder and decoder are in eval mode (the decoder a generated cell meets) and only
    :meth:`Likelihood.refit_parameters` move (the per-gene noise, and the remainder's level), by Adam at a higher rate, over
    chunks of (a seeded sample of at most ``max_cells``) training cells in turn.

    Parameters
    ----------
    ae
        The trained autoencoder (modified in place).
    cells
        The training cells (:class:`~scdiff_core.cells.CellRows`).
    steps, lr
        Optimiser steps and learning rate.
    max_cells, seed
        At most this many training cells are read (a seeded sample beyond it).

    Returns
    -------
    The mean NLL per cell of the first chunk before and after, and the steps taken.
    """
    fitted = ae.lik.refit_parameters(ae)
    if not fitted or steps <= 0:
        return {"steps": 0}
    params = [p for p, _ in fitted]
    ae.eval()
    counts = ae.is_count_model
    was = {id(p): p.requires_grad for p in ae.parameters()}
    for p in ae.parameters():
        p.requires_grad_(any(p is q for q in params))
    hidden = []  # (h, target, library) per chunk of a seeded sample: the frozen decoder's hidden state
    rows = cells.sample(max_cells, seed)  # all cells up to max_cells: enough to fit G (+ 1) scalars
    with torch.no_grad():
        for a in range(0, len(rows), 4096):
            b = cells.rows(rows[a:a + 4096])
            h = ae.decoder_body(ae.encode(b.X))
            hidden.append((h, b.counts if counts else b.X, b.library if counts else None))

    def nll(i: int) -> torch.Tensor:  # in float64: lgamma of counts in the thousands needs it
        h, target, lib = hidden[i]
        p = {k: v.double() for k, v in ae.lik.params(ae, h, lib).items()}
        return ae.nll(p, target.double(), None if lib is None else lib.double()).mean()

    hooks = [p.register_hook(lambda g, m=mask: g * m) for p, mask in fitted if mask is not None]
    opt = torch.optim.Adam(params, lr=lr)  # a masked entry gets zero gradients, so Adam leaves it alone
    with torch.no_grad():
        before = float(nll(0))
    for step in range(int(steps)):
        loss = nll(step % len(hidden))
        opt.zero_grad()
        loss.backward()
        opt.step()
    for h in hooks:
        h.remove()
    for p in ae.parameters():
        p.requires_grad_(was[id(p)])
    with torch.no_grad():
        after = float(nll(0))
    return {"steps": int(steps), "lr": float(lr), "train_nll_before": before, "train_nll_after": after}
