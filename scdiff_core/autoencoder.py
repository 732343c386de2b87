"""Autoencoder with a decoder that models observation noise, not only the mean.

The encoder maps log-normalized expression to a small latent code. The decoder returns the
parameters of a likelihood per gene, and generated cells are *samples* from it:

* ``nb`` — counts ~ NegativeBinomial(mean = ℓ · softmax(f(z)), dispersion θ_g), with ℓ the
  cell's library size (scVI's parameterisation, Lopez et al. 2018). Zeros, library sizes and
  over-dispersion then come from the model, as in real UMI data.
* ``zinb`` — the same with a zero-inflation logit per cell and gene.
* ``hurdle`` — for data that only exists log-normalized: P(x_g > 0) = sigmoid(π_g(z)) and
  x_g | x_g > 0 ~ Normal(μ_g(z), σ_g(z)²), truncated at the smallest positive value seen for g.

No BatchNorm anywhere: a cell's code never depends on the other cells in its batch.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from scipy import special
from torch import nn
from torch.nn import functional as F

LIKELIHOODS = ("nb", "zinb", "hurdle")


def _mlp(d_in: int, widths: Sequence[int], dropout: float) -> tuple[nn.Sequential, int]:
    layers: list[nn.Module] = []
    d = d_in
    for w in widths:
        layers += [nn.Linear(d, w), nn.LayerNorm(w), nn.SiLU(), nn.Dropout(dropout)]
        d = w
    return nn.Sequential(*layers), d


def nb_log_prob(x: torch.Tensor, mu: torch.Tensor, theta: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """log NB(x; mean μ, inverse dispersion θ) (scVI's ``log_nb_positive``)."""
    log_theta_mu = torch.log(theta + mu + eps)
    return (theta * (torch.log(theta + eps) - log_theta_mu) + x * (torch.log(mu + eps) - log_theta_mu)
            + torch.lgamma(x + theta) - torch.lgamma(theta) - torch.lgamma(x + 1))


def zinb_log_prob(x, mu, theta, pi_logits, eps: float = 1e-8):
    """log ZINB: a point mass at zero with probability sigmoid(π) mixed with NB(μ, θ)."""
    softplus_pi = F.softplus(-pi_logits)
    theta_log = torch.log(theta + eps)
    log_theta_mu = torch.log(theta + mu + eps)
    pi_theta_log = -pi_logits + theta * (theta_log - log_theta_mu)
    case_zero = F.softplus(pi_theta_log) - softplus_pi
    case_nonzero = (-softplus_pi - pi_logits + theta * (theta_log - log_theta_mu)
                    + x * (torch.log(mu + eps) - log_theta_mu)
                    + torch.lgamma(x + theta) - torch.lgamma(theta) - torch.lgamma(x + 1))
    return torch.where(x < eps, case_zero, case_nonzero)


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
            raise ValueError(f"likelihood must be one of {LIKELIHOODS}, got {likelihood!r}")
        self.n_genes, self.latent_dim, self.likelihood = int(n_genes), int(latent_dim), likelihood
        self.hidden = [int(h) for h in hidden]
        self.dropout = float(dropout)
        self.encoder_body, d = _mlp(n_genes, self.hidden, dropout)
        self.encoder_out = nn.Linear(d, latent_dim)
        self.variational = bool(variational)
        if self.variational:  # q(z|x) = N(μ(x), σ²(x)) as in scVI; the code used downstream is μ
            self.encoder_logvar = nn.Linear(d, latent_dim)
        self.decoder_body, d = _mlp(latent_dim, list(reversed(self.hidden)), dropout)
        self.dec_main = nn.Linear(d, n_genes)  # NB: softmax logits of ρ; hurdle: μ
        if likelihood in ("zinb", "hurdle"):
            self.dec_zero = nn.Linear(d, n_genes)  # zero-inflation / P(non-zero) logits
        if likelihood in ("nb", "zinb"):
            self.log_theta = nn.Parameter(torch.zeros(n_genes))  # per-gene inverse dispersion
        else:
            self.log_sigma = nn.Parameter(torch.full((n_genes,), -0.5))
            # per cell and gene scale (heteroscedastic): a cell's smallest non-zero values sit at
            # its one-count level, which depends on its library size
            self.dec_sigma = nn.Linear(d, n_genes)
            nn.init.zeros_(self.dec_sigma.weight)
            nn.init.zeros_(self.dec_sigma.bias)
            # smallest positive value per gene; set from the data before training
            self.register_buffer("floor", torch.zeros(n_genes))

    @property
    def is_count_model(self) -> bool:
        return self.likelihood in ("nb", "zinb")

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
        h = self.decoder_body(z)
        out: dict[str, torch.Tensor] = {}
        if self.is_count_model:
            if library is None:
                raise ValueError("count models need the library size to decode")
            rho = torch.softmax(self.dec_main(h), dim=-1)  # (N, G) expression proportions
            out["mu"] = rho * library[:, None]
            out["theta"] = self.log_theta.exp().expand_as(rho)
            if self.likelihood == "zinb":
                out["zero_logits"] = self.dec_zero(h)
        else:
            out["mu"] = self.dec_main(h)
            out["nonzero_logits"] = self.dec_zero(h)
            out["sigma"] = (self.log_sigma + self.dec_sigma(h)).clamp(-5, 3).exp()
        return out

    def nll(self, params: dict[str, torch.Tensor], target: torch.Tensor) -> torch.Tensor:
        """Negative log-likelihood per cell (summed over genes): (N,).

        target: counts for count models, log-normalized values for ``hurdle``.
        """
        if self.likelihood == "nb":
            lp = nb_log_prob(target, params["mu"], params["theta"])
        elif self.likelihood == "zinb":
            lp = zinb_log_prob(target, params["mu"], params["theta"], params["zero_logits"])
        else:
            nz = (target > 0).float()
            lp_bern = -F.binary_cross_entropy_with_logits(params["nonzero_logits"], nz, reduction="none")
            # Normal truncated below at the gene's smallest positive value
            mu, sigma = params["mu"], params["sigma"]
            a = (self.floor[None, :] - mu) / sigma
            gauss = -0.5 * ((target - mu) / sigma) ** 2 - sigma.log() - torch.special.log_ndtr(-a)
            lp = lp_bern + nz * gauss
        return -lp.sum(-1)

    @torch.no_grad()
    def sample(self, params: dict[str, torch.Tensor], rng: np.random.Generator) -> np.ndarray:
        """Draw one observation per cell and gene (numpy Generator: reproducible, thread-safe)."""
        mu = params["mu"].double().numpy()
        if self.is_count_model:
            theta = params["theta"].double().numpy()
            lam = rng.gamma(shape=theta, scale=np.maximum(mu, 1e-12) / theta)  # Gamma–Poisson = NB
            x = rng.poisson(lam).astype(np.float32)
            if self.likelihood == "zinb":
                p0 = torch.sigmoid(params["zero_logits"]).double().numpy()
                x[rng.random(x.shape) < p0] = 0
            return x
        p_nz = torch.sigmoid(params["nonzero_logits"]).double().numpy()
        sigma = params["sigma"].double().numpy()
        floor = self.floor.double().numpy()[None, :]
        # inverse-CDF draw from Normal(μ, σ²) truncated to [floor, ∞)
        a = special.ndtr((floor - mu) / sigma)
        u = a + (1 - a) * rng.random(mu.shape)
        val = mu + sigma * special.ndtri(np.clip(u, 1e-12, 1 - 1e-12))
        val = np.maximum(val, floor)
        return np.where(rng.random(mu.shape) < p_nz, val, 0.0).astype(np.float32)
