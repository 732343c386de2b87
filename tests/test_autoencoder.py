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


def test_refit_decoder_moves_only_the_noise_and_the_remainder_level():
    """The re-fit finds the dispersion the data have (θ = 5 here) where training left θ = 1, lowers the
    NLL, touches nothing but θ and the remainder's bias, and leaves requires_grad as it found it."""
    import numpy as np
    import torch

    from scdiff_core.autoencoder import Autoencoder, refit_decoder
    from scdiff_core.cells import MemoryRows

    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    n, g = 2000, 5
    C = rng.negative_binomial(5.0, 5.0 / (5.0 + 20.0), size=(n, g)).astype(np.float32)  # mean 20, θ = 5
    rest = rng.negative_binomial(200.0, 200.0 / (200.0 + 400.0), size=n).astype(np.float32)
    lib = C.sum(1) + rest
    X = np.log1p(C / lib[:, None] * 1e4).astype(np.float32)
    rows = MemoryRows(torch.from_numpy(X), torch.from_numpy(C), torch.from_numpy(lib))
    ae = Autoencoder(g, latent_dim=2, hidden=(8,), likelihood="nb")
    with torch.no_grad():  # a decoder whose proportions are right: 20 of ~500 per gene
        ae.dec_main.weight.zero_()
        ae.dec_main.bias.copy_(torch.log(torch.tensor([20.0] * g + [400.0])))
        ae.dec_main.bias[-1] += 0.5  # the remainder's level off
    before = {k: v.clone() for k, v in ae.state_dict().items()}
    ae.encoder_out.weight.requires_grad_(False)
    out = refit_decoder(ae, rows, steps=400)
    assert out["train_nll_after"] < out["train_nll_before"]
    theta = ae.log_theta.exp().detach()
    assert torch.allclose(theta[:g], torch.full((g,), 5.0), rtol=0.2), theta
    assert theta[-1] > 50  # the remainder varies little around its mean
    after = ae.state_dict()
    assert abs(float(after["dec_main.bias"][-1] - before["dec_main.bias"][-1]) + 0.5) < 0.1
    for k in after:
        if k not in ("log_theta", "dec_main.bias"):
            assert torch.equal(after[k], before[k]), k
    assert torch.equal(after["dec_main.bias"][:-1], before["dec_main.bias"][:-1])
    assert not ae.encoder_out.weight.requires_grad and ae.dec_main.weight.requires_grad
