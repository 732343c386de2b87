"""The autoencoder: shapes, no batch dependence, samples whose moments match the model."""
import numpy as np
import pytest
import torch

from scdiff_core.autoencoder import Autoencoder


@pytest.mark.parametrize("lik", ["nb", "zinb", "hurdle"])
def test_shapes_and_no_batch_dependence(lik):
    torch.manual_seed(0)
    ae = Autoencoder(12, 4, (16,), lik).eval()
    x = torch.rand(10, 12)
    z = ae.encode(x)
    assert z.shape == (10, 4)
    lib = torch.full((10,), 100.0) if ae.is_count_model else None
    params = ae.decode(z, lib)
    assert params["mu"].shape == ((10, 13) if ae.is_count_model else (10, 12))  # counts: + the remainder
    # one cell encoded alone = the same cell encoded in a batch (no BatchNorm)
    assert torch.allclose(ae.encode(x[:1]), z[:1], atol=1e-6)
    target = torch.poisson(torch.rand(10, 12) * 3) if ae.is_count_model else x
    assert ae.nll(params, target, lib).shape == (10,)


def test_nb_samples_match_mean_variance_and_library():
    ae = Autoencoder(5, 2, (8,), "nb").eval()
    with torch.no_grad():
        ae.log_theta.fill_(np.log(2.0))
        params = ae.decode(torch.zeros(20000, 2), torch.full((20000,), 50.0))
    x = ae.sample(params, np.random.default_rng(0))
    mu = params["mu"][0].numpy()
    assert x.shape == (20000, 5)  # the remainder (genes outside the model) is not drawn
    assert np.allclose(x.mean(0), mu[:5], rtol=0.05)
    assert np.allclose(x.var(0), mu[:5] + mu[:5]**2 / 2.0, rtol=0.1)  # NB variance μ + μ²/θ
    # library size respected: the model's genes hold 1 − ρ_remainder of it
    assert x.sum(1).mean() == pytest.approx(50.0 - mu[5], rel=0.02)
    assert np.all(x == np.round(x))


def test_hurdle_samples_zero_rate_and_floor():
    ae = Autoencoder(3, 2, (8,), "hurdle").eval()
    with torch.no_grad():
        ae.floor.copy_(torch.tensor([0.5, 0.5, 0.5]))
        params = ae.decode(torch.zeros(20000, 2))
        params["nonzero_logits"] = torch.zeros_like(params["nonzero_logits"])  # P(non-zero) = 0.5
    x = ae.sample(params, np.random.default_rng(0))
    assert (x == 0).mean() == pytest.approx(0.5, abs=0.02)
    assert x[x > 0].min() >= 0.5 - 1e-6
    assert np.isfinite(ae.nll(params, torch.from_numpy(x)).numpy()).all()


def test_bad_likelihood():
    with pytest.raises(ValueError, match="likelihood"):
        Autoencoder(3, 2, likelihood="mse")
