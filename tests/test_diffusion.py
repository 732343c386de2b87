"""Schedule and sampler maths against closed forms, and golden values of a full loop."""
import numpy as np
import pytest
import torch

from scdiff_core.diffusion import (SAMPLERS, DDIMSampler, DDPMSampler, GaussianDiffusion, make_betas, make_sampler,
                                   run_sampler)


def test_linear_betas_endpoints():
    b = make_betas("linear", 1000)
    assert b[0] == pytest.approx(1e-4) and b[-1] == pytest.approx(0.02) and len(b) == 1000
    assert np.all(np.diff(b) > 0)


def test_cosine_alpha_bar_closed_form():
    T, s = 1000, 0.008
    d = GaussianDiffusion(make_betas("cosine", T))
    f = lambda t: np.cos((t / T + s) / (1 + s) * np.pi / 2) ** 2  # noqa: E731
    for t in [0, 10, 250, 500, 900]:
        assert d.alphas_cumprod[t] == pytest.approx(f(t + 1) / f(0), rel=1e-6)
    assert np.all(make_betas("cosine", T) <= 0.999)


def test_q_sample_moments():
    d = GaussianDiffusion.from_config("linear", 1000)
    x0 = torch.full((20000, 2), 3.0)
    t = torch.full((20000,), 400, dtype=torch.long)
    xt = d.q_sample(x0, t, torch.randn(20000, 2, generator=torch.Generator().manual_seed(0)))
    ab = d.alphas_cumprod[400]
    assert xt.mean().item() == pytest.approx(3 * np.sqrt(ab), abs=0.02)
    assert xt.var().item() == pytest.approx(1 - ab, rel=0.03)


def test_predict_x0_inverts_q_sample():
    d = GaussianDiffusion.from_config()
    x0, eps = torch.randn(5, 3), torch.randn(5, 3)
    t = torch.tensor([0, 10, 100, 500, 999])
    assert torch.allclose(d.predict_x0(d.q_sample(x0, t, eps), t, eps), x0, atol=1e-3)


def test_timestep_grids():
    d = GaussianDiffusion.from_config()
    s = DDIMSampler(d)
    ts = s.set_timesteps(50)
    assert ts[0] == 999 and ts[-1] == 0 and len(ts) == 50 and np.all(np.diff(ts) < 0)
    ts = s.set_timesteps(50, t_max=599)
    assert ts[0] == 599 and ts[-1] == 0
    assert len(DDPMSampler(d).set_timesteps(1000)) == 1000


def _oracle_eps(d, mu):
    """Exact ε for data x0 = mu (a point mass): ε = (x_t − √ᾱ mu)/√(1−ᾱ)."""

    def eps(x, t):
        ab = d.alpha_bar(t)
        return (x - ab.sqrt() * mu) / (1 - ab).sqrt()

    return eps


@pytest.mark.parametrize("name,steps", [("ddim", 20), ("ddpm", 1000), ("ddpm", 50)])
def test_samplers_recover_point_mass(name, steps):
    """With the exact ε of a point-mass data distribution, every sampler lands on it."""
    d = GaussianDiffusion.from_config()
    mu = torch.tensor([1.5, -2.0, 0.5])
    s = make_sampler(name, d, steps)
    x = torch.randn(64, 3, generator=torch.Generator().manual_seed(1))
    out = run_sampler(s, _oracle_eps(d, mu), x, generator=torch.Generator().manual_seed(2))
    assert torch.allclose(out, mu.expand_as(out), atol=1e-3)


def test_ddim_step_matches_equation_12():
    d = GaussianDiffusion.from_config()
    s = DDIMSampler(d, eta=0.0)
    s.set_timesteps(10)
    x, eps = torch.randn(4, 2), torch.randn(4, 2)
    i = 3
    ab, abp = d.alphas_cumprod[s.timesteps[i]], d.alphas_cumprod[s.timesteps[i + 1]]
    x0 = (x - np.sqrt(1 - ab) * eps) / np.sqrt(ab)
    expect = np.sqrt(abp) * x0 + np.sqrt(1 - abp) * eps
    assert torch.allclose(s.step(eps, i, x), expect.float(), atol=1e-6)


def test_ddpm_posterior_variance_on_full_grid():
    """On the full grid the DDPM step's noise has variance β̃_t = β_t(1−ᾱ_{t−1})/(1−ᾱ_t)."""
    d = GaussianDiffusion.from_config()
    s = DDPMSampler(d)
    s.set_timesteps(1000)
    i = 500  # timestep 499
    t = s.timesteps[i]
    x = torch.zeros(40000, 1)
    out = s.step(torch.zeros_like(x), i, x, torch.Generator().manual_seed(0))
    expect = d.betas[t] * (1 - d.alphas_cumprod[t - 1]) / (1 - d.alphas_cumprod[t])
    assert out.var().item() == pytest.approx(expect, rel=0.03)


def test_ddim_eta0_deterministic_and_eta1_stochastic():
    d = GaussianDiffusion.from_config()
    fn = lambda x, t: 0.1 * x  # noqa: E731
    x = torch.randn(8, 3, generator=torch.Generator().manual_seed(0))
    a = run_sampler(make_sampler("ddim", d, 20), fn, x, generator=torch.Generator().manual_seed(1))
    b = run_sampler(make_sampler("ddim", d, 20), fn, x, generator=torch.Generator().manual_seed(2))
    assert torch.equal(a, b)
    c = run_sampler(make_sampler("ddim", d, 20, eta=1.0), fn, x, generator=torch.Generator().manual_seed(1))
    e = run_sampler(make_sampler("ddim", d, 20, eta=1.0), fn, x, generator=torch.Generator().manual_seed(2))
    assert not torch.equal(c, e)


def test_progress_callback_counts_steps():
    d = GaussianDiffusion.from_config()
    seen = []
    run_sampler(make_sampler("ddim", d, 7), lambda x, t: x * 0, torch.zeros(2, 2), progress=lambda i, n: seen.append((i, n)))
    assert seen == [(i, 7) for i in range(1, 8)]


def test_golden_ddim_loop_on_dummy_model():
    """A pinned value of a deterministic full loop (guards against silent changes to the maths)."""
    d = GaussianDiffusion.from_config("linear", 1000)
    fn = lambda x, t: 0.5 * torch.tanh(x)  # noqa: E731
    x = torch.linspace(-2, 2, 6).view(3, 2)
    out = run_sampler(make_sampler("ddim", d, 10), fn, x)
    golden = torch.tensor([[-237.96898, -118.89893], [-22.31933, 22.31933], [118.89893, 237.96898]])
    assert torch.allclose(out, golden, rtol=1e-5), out.tolist()


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_sampler_contract(name):
    """Every registered sampler: a description, a grid from t_max down to 0, and x_0 from a point mass."""
    d = GaussianDiffusion.from_config()
    cls = SAMPLERS[name]
    assert cls.description and cls.name == name
    s = make_sampler(name, d, 25, t_max=600)
    assert s.timesteps[0] == 600 and s.timesteps[-1] == 0 and np.all(np.diff(s.timesteps) < 0)
    mu = torch.tensor([0.5, -1.0])
    x = d.q_sample(mu.expand(32, 2), torch.full((32,), 600), torch.randn(32, 2, generator=torch.Generator().manual_seed(0)))
    out = run_sampler(s, _oracle_eps(d, mu), x, generator=torch.Generator().manual_seed(1))
    assert torch.allclose(out, mu.expand_as(out), atol=1e-2)


def _gaussian_eps(d, m, s):
    """Exact ε for data ~ N(m, s²): x_t ~ N(α m, α² s² + σ²), ε* = σ (x_t − α m) / (α² s² + σ²)."""

    def eps(x, t):
        ab = d.alpha_bar(t)
        a, sig2 = ab.sqrt(), 1 - ab
        return sig2.sqrt() * (x - a * m) / (ab * s**2 + sig2)

    return eps


def test_dpmpp_is_more_accurate_than_ddim_at_few_steps():
    """On a Gaussian with the exact ε, the second-order solver lands closer to the data std in 8 steps."""
    d = GaussianDiffusion.from_config()
    m, s = 1.0, 0.3
    x = torch.randn(20000, 1, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    err = {}
    for name in ("ddim", "dpmpp"):
        out = run_sampler(make_sampler(name, d, 8), _gaussian_eps(d, m, s), x.clone())
        err[name] = abs(float(out.std()) - s) + abs(float(out.mean()) - m)
    assert err["dpmpp"] < err["ddim"] and err["dpmpp"] < 0.02


def test_dpmpp_restarts_its_history_for_each_batch():
    d = GaussianDiffusion.from_config()
    smp = make_sampler("dpmpp", d, 10)
    x = torch.randn(8, 2, generator=torch.Generator().manual_seed(0))
    eps = _gaussian_eps(d, 0.5, 0.2)
    first = run_sampler(smp, eps, x.clone())
    again = run_sampler(smp, eps, x.clone())  # the same sampler object, a second batch
    assert torch.equal(first, again)
