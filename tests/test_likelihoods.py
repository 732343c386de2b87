"""Decoder likelihoods against scipy; every registered likelihood honours the contract."""
import numpy as np
import pytest
import torch
from scipy import stats

from scdiff_core.autoencoder import Autoencoder
from scdiff_core.likelihoods import LIKELIHOODS, nb_log_prob, zinb_log_prob


def test_nb_log_prob_matches_scipy():
    x = torch.tensor([0.0, 1.0, 5.0, 20.0])
    mu, theta = torch.tensor([0.5, 2.0, 4.0, 10.0]), torch.tensor([0.3, 1.0, 5.0, 2.0])
    p = theta / (theta + mu)
    expect = stats.nbinom.logpmf(x.numpy(), theta.numpy(), p.numpy())
    assert np.allclose(nb_log_prob(x, mu, theta).numpy(), expect, atol=1e-4)


def test_zinb_reduces_to_nb_and_adds_zero_mass():
    x = torch.tensor([0.0, 3.0])
    mu, theta = torch.tensor([2.0, 2.0]), torch.tensor([1.0, 1.0])
    very_negative = torch.tensor([-30.0, -30.0])
    assert torch.allclose(zinb_log_prob(x, mu, theta, very_negative), nb_log_prob(x, mu, theta), atol=1e-4)
    pi = torch.tensor([0.0, 0.0])  # P(extra zero) = 0.5
    p0_nb = nb_log_prob(torch.tensor([0.0]), mu[:1], theta[:1]).exp()
    assert zinb_log_prob(x, mu, theta, pi)[0].exp().item() == pytest.approx(0.5 + 0.5 * p0_nb.item(), rel=1e-4)


@pytest.mark.parametrize("name", sorted(LIKELIHOODS))
def test_likelihood_contract(name):
    """params → log_prob (finite, (N, G)) → sample (non-negative, (N, G)) for every registered likelihood."""
    torch.manual_seed(0)
    ae = Autoencoder(7, latent_dim=3, hidden=(8,), likelihood=name).eval()
    lik = LIKELIHOODS[name]
    z = torch.randn(5, 3)
    lib = torch.full((5,), 100.0) if lik.is_count else None
    params = ae.decode(z, lib)
    x = torch.from_numpy(ae.sample(params, np.random.default_rng(0)))
    assert x.shape == (5, 7) and (x >= 0).all()
    nll = ae.nll(params, x, lib)
    assert nll.shape == (5,) and torch.isfinite(nll).all()
    if lik.is_count:  # the remainder: one more column than genes, observed as library − Σ counts
        assert params["mu"].shape == (5, 8) and torch.allclose(params["mu"].sum(1), lib)
        with pytest.raises(ValueError, match="library"):
            ae.nll(params, x)


def test_remainder_is_scored():
    """Two cells with the same counts on the model's genes but different libraries score differently."""
    torch.manual_seed(0)
    ae = Autoencoder(4, latent_dim=2, hidden=(8,), likelihood="nb").eval()
    z = torch.zeros(2, 2)
    lib = torch.tensor([20.0, 2000.0])
    x = torch.tensor([[2.0, 3.0, 1.0, 4.0]] * 2)
    nll = ae.nll(ae.decode(z, lib), x, lib)
    assert nll[0] != nll[1]


@pytest.mark.parametrize("name", ["nb", "zinb"])
def test_count_samples_come_with_their_observed_total(name):
    """The remainder is drawn with the genes: the total a cell is normalized by is the sum of all its counts,
    with mean ℓ; each gene keeps its NB mean; the genes' share of the total moves less than their share of
    a fixed ℓ would (the total moves with them, as in a real cell)."""
    torch.manual_seed(0)
    ae = Autoencoder(6, latent_dim=2, hidden=(8,), likelihood=name).eval()
    with torch.no_grad():
        ae.log_theta.fill_(np.log(5.0))
        if name == "zinb":
            ae.dec_zero.bias.fill_(-30.0)  # no zero inflation: the NB's moments
            ae.dec_zero.weight.zero_()
        params = ae.decode(torch.zeros(4000, 2), torch.full((4000,), 1000.0))
    x, total = ae.sample_with_total(params, np.random.default_rng(0))
    x = x.astype(np.float64)
    assert x.shape == (4000, 6) and total.shape == (4000,)
    assert (x.sum(1) <= total).all() and np.allclose(x, np.round(x))
    assert total.mean() == pytest.approx(1000.0, rel=0.02)
    mu = params["mu"][0, :6].double().numpy()
    assert np.allclose(x.mean(0), mu, rtol=0.05)
    assert (x.sum(1) / total).std() < (x.sum(1) / 1000.0).std()
    with pytest.raises(NotImplementedError):
        LIKELIHOODS["hurdle"].sample_with_total(ae, params, np.random.default_rng(0))
