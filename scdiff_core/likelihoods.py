"""Observation models of the decoder: what a generated cell is a *sample* of.

* ``nb`` — counts ~ NegativeBinomial(mean = ℓ · ρ_g(z), inverse dispersion θ_g), ρ = softmax of the
  decoder's output and ℓ the cell's library size (scVI's parameterisation, Lopez et al. 2018).
  Zeros, library sizes and over-dispersion then come from the model, as in real UMI data.
  ℓ is the cell's total count over *all* its genes; ρ has one more entry than the model has genes,
  the *remainder* (the genes outside the model), observed as ℓ − Σ_g x_g. The counts sampled for
  the model's genes are then those of a real cell of library ℓ, and log1p(x / ℓ · 1e4) is exactly
  what ``normalize_total(1e4)`` + ``log1p`` on the full data gives on those genes.
* ``zinb`` — the same with a zero-inflation logit per cell and gene.
* ``hurdle`` — for data that only exists log-normalized: P(x_g > 0) = sigmoid(π_g(z)) and
  x_g | x_g > 0 ~ Normal(μ_g(z), σ_g(z)²), truncated at the smallest positive value seen for g.

Each is registered in :data:`LIKELIHOODS` where it is defined. A likelihood adds its output
heads to the autoencoder (:meth:`Likelihood.add_heads`), turns the decoder's hidden state into
distribution parameters (:meth:`params`), scores observations (:meth:`log_prob`) and draws them
(:meth:`sample`).
"""
from __future__ import annotations

import numpy as np
import torch
from scipy import special
from torch import nn
from torch.nn import functional as F

LIKELIHOODS: dict[str, "Likelihood"] = {}


def register_likelihood(name: str):
    """Class decorator: register one instance of the class under ``name``."""

    def deco(cls):
        cls.name = name
        LIKELIHOODS[name] = cls()
        return cls

    return deco


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


class Likelihood:
    """Base class. ``is_count`` says whether observations are raw counts (with a library size);
    count likelihoods observe one more column than the model has genes: the remainder."""

    name = "base"
    is_count = False

    def add_heads(self, ae: nn.Module, d: int, n_genes: int) -> None:
        raise NotImplementedError

    def params(self, ae: nn.Module, h: torch.Tensor, library: torch.Tensor | None) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def log_prob(self, ae: nn.Module, params: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
        """(N, G) log-probability of each observation ((N, G + 1) with the remainder for counts)."""
        raise NotImplementedError

    def sample(self, ae: nn.Module, params: dict[str, torch.Tensor], rng: np.random.Generator) -> np.ndarray:
        raise NotImplementedError

    def sample_with_total(self, ae: nn.Module, params: dict[str, torch.Tensor],
                          rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Count likelihoods: (N, G) counts and (N,) each cell's observed total over all its genes."""
        raise NotImplementedError(f"the {self.name!r} likelihood does not model counts")

    def refit_parameters(self, ae: nn.Module) -> list[tuple[nn.Parameter, torch.Tensor | None]]:
        """What :func:`~scdiff_core.autoencoder.refit_decoder` re-fits with the network frozen, as
        (parameter, mask of the entries that move, or None for all): the per-gene noise (inverse
        dispersions θ, or the hurdle's scales) and, for counts, the remainder's level. (Re-fitting every
        gene's level too was tried: on paul15 validation cells it made generated cells easier to tell
        from real ones, RF AUROC 0.57–0.62 against 0.53–0.55.)"""
        return []


@register_likelihood("nb")
class NegativeBinomial(Likelihood):
    is_count = True

    def add_heads(self, ae, d, n_genes):
        n_out = n_genes + 1  # the model's genes and the remainder
        ae.dec_main = nn.Linear(d, n_out)  # softmax logits of ρ
        ae.log_theta = nn.Parameter(torch.zeros(n_out))  # per-gene inverse dispersion

    def params(self, ae, h, library):
        if library is None:
            raise ValueError("count models need the library size to decode")
        rho = torch.softmax(ae.dec_main(h), dim=-1)  # (N, G + 1) expression proportions
        return {"mu": rho * library[:, None], "theta": ae.log_theta.exp().expand_as(rho)}

    def log_prob(self, ae, params, x):
        """x: (N, G + 1) counts of the model's genes and the remainder."""
        return nb_log_prob(x, params["mu"], params["theta"])

    def refit_parameters(self, ae):
        last = torch.zeros_like(ae.dec_main.bias)
        last[-1] = 1.0  # the remainder's logit: the share of the library outside the model's genes
        return [(ae.log_theta, None), (ae.dec_main.bias, last)]

    def draw_all(self, params, rng) -> np.ndarray:
        """(N, G + 1) NB draws (Gamma–Poisson) of the model's genes and of the remainder."""
        mu = np.maximum(params["mu"].double().numpy(), 1e-12)
        theta = params["theta"].double().numpy()
        return rng.poisson(rng.gamma(shape=theta, scale=mu / theta))

    def sample(self, ae, params, rng):
        """(N, G) counts of the model's genes: NB(μ_g, θ_g) each (the remainder is drawn and dropped)."""
        return self.draw_all(params, rng)[:, :ae.n_genes].astype(np.float32)

    def sample_with_total(self, ae, params, rng) -> tuple[np.ndarray, np.ndarray]:
        """(N, G) counts of the model's genes and (N,) the cell's observed total over *all* its genes.

        The remainder is drawn too, so the total is what ``normalize_total`` would divide a real cell
        by: the model's genes' counts plus the counts of every other gene. Its mean is the library ℓ
        the cell was decoded with; the genes' share of it varies as in real cells (dividing by ℓ
        itself, fixed, would leave out that the total moves with the counts).
        """
        x = self.draw_all(params, rng)  # (N, G + 1)
        return x[:, :ae.n_genes].astype(np.float32), np.maximum(x.sum(1), 1.0).astype(np.float32)


@register_likelihood("zinb")
class ZeroInflatedNegativeBinomial(NegativeBinomial):
    def add_heads(self, ae, d, n_genes):
        super().add_heads(ae, d, n_genes)
        ae.dec_zero = nn.Linear(d, n_genes + 1)  # zero-inflation logits

    def params(self, ae, h, library):
        return {**super().params(ae, h, library), "zero_logits": ae.dec_zero(h)}

    def log_prob(self, ae, params, x):
        return zinb_log_prob(x, params["mu"], params["theta"], params["zero_logits"])

    def draw_all(self, params, rng):
        x = super().draw_all(params, rng)
        p0 = torch.sigmoid(params["zero_logits"]).double().numpy()
        x[rng.random(x.shape) < p0] = 0
        return x


@register_likelihood("hurdle")
class Hurdle(Likelihood):
    def add_heads(self, ae, d, n_genes):
        ae.dec_main = nn.Linear(d, n_genes)  # μ of the positive part
        ae.dec_zero = nn.Linear(d, n_genes)  # P(non-zero) logits
        ae.log_sigma = nn.Parameter(torch.full((n_genes,), -0.5))
        # per cell and gene scale (heteroscedastic): a cell's smallest non-zero values sit at its
        # one-count level, which depends on its library size
        ae.dec_sigma = nn.Linear(d, n_genes)
        nn.init.zeros_(ae.dec_sigma.weight)
        nn.init.zeros_(ae.dec_sigma.bias)
        # smallest positive value per gene; set from the data before training
        ae.register_buffer("floor", torch.zeros(n_genes))

    def params(self, ae, h, library):
        return {"mu": ae.dec_main(h), "nonzero_logits": ae.dec_zero(h),
                "sigma": (ae.log_sigma + ae.dec_sigma(h)).clamp(-5, 3).exp()}

    def log_prob(self, ae, params, x):
        nz = (x > 0).float()
        lp_bern = -F.binary_cross_entropy_with_logits(params["nonzero_logits"], nz, reduction="none")
        # Normal truncated below at the gene's smallest positive value
        mu, sigma = params["mu"], params["sigma"]
        a = (ae.floor[None, :] - mu) / sigma
        gauss = -0.5 * ((x - mu) / sigma) ** 2 - sigma.log() - torch.special.log_ndtr(-a)
        return lp_bern + nz * gauss

    def refit_parameters(self, ae):
        return [(ae.log_sigma, None)]

    def sample(self, ae, params, rng):
        mu = params["mu"].double().numpy()
        p_nz = torch.sigmoid(params["nonzero_logits"]).double().numpy()
        sigma = params["sigma"].double().numpy()
        floor = ae.floor.double().numpy()[None, :]
        # inverse-CDF draw from Normal(μ, σ²) truncated to [floor, ∞)
        a = special.ndtr((floor - mu) / sigma)
        u = a + (1 - a) * rng.random(mu.shape)
        val = mu + sigma * special.ndtri(np.clip(u, 1e-12, 1 - 1e-12))
        val = np.maximum(val, floor)
        return np.where(rng.random(mu.shape) < p_nz, val, 0.0).astype(np.float32)
