"""Guidance: classifier gradients push toward the target class; classifier-free composition."""
import torch

from scdiff_core.diffusion import GaussianDiffusion
from scdiff_core.guidance import NoiseClassifier, classifier_free, classifier_guided


class _Linear(torch.nn.Module):
    """A classifier whose log-probability is linear in x: class c prefers x·w_c large."""

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.tensor([[1.0, 0.0], [-1.0, 0.0]]))

    def forward(self, x, t):
        return x @ self.w.T


def test_classifier_guidance_shifts_eps_along_grad():
    d = GaussianDiffusion.from_config()
    clf = _Linear()
    x = torch.zeros(4, 2)
    t = torch.full((4,), 500, dtype=torch.long)
    base = lambda x, t: torch.zeros_like(x)  # noqa: E731
    y = torch.tensor([[1.0, 0.0]] * 4)
    eps = classifier_guided(base, d, [clf], [y], [2.0])(x, t)
    # ∇ log softmax_0 at x=0 = (w0 - mean(w)) = (1, 0); ε' = −√(1−ᾱ)·s·∇
    expect = -((1 - d.alphas_cumprod[500]) ** 0.5) * 2.0 * torch.tensor([1.0, 0.0])
    assert torch.allclose(eps, expect.float().expand(4, 2), atol=1e-5)


def test_guidance_raises_target_probability_in_sampling():
    """Denoising pure noise with a zero ε model: guided samples are classified as the target."""
    from scdiff_core.diffusion import make_sampler, run_sampler

    d = GaussianDiffusion.from_config()
    clf = _Linear()
    base = lambda x, t: torch.zeros_like(x)  # noqa: E731
    g = torch.Generator().manual_seed(0)
    x = torch.randn(200, 2, generator=g)
    y = torch.tensor([[0.0, 1.0]] * 200)
    s = make_sampler("ddim", d, 30)
    plain = run_sampler(s, base, x.clone())
    guided = run_sampler(s, classifier_guided(base, d, [clf], [y], [3.0]), x.clone())
    p = lambda z: torch.softmax(clf(z, None), -1)[:, 1].mean()  # noqa: E731
    assert p(guided) > p(plain) + 0.2


def test_noise_classifier_shapes():
    c = NoiseClassifier(5, 3, hidden=(16,))
    out = c(torch.randn(7, 5), torch.randint(0, 1000, (7,)))
    assert out.shape == (7, 3)
    assert c.hparams()["n_classes"] == 3


class _CondModel(torch.nn.Module):
    """ε(x, t, c) = x + 10·c0 + 100·c1 with null codes counted as 0."""

    n_classes = [2, 3]

    @staticmethod
    def codes(cond):
        """(c0, c1) with null codes counted as 0, the others as code + 1."""
        return (torch.where(cond[:, 0] == 2, 0, cond[:, 0] + 1).float(),
                torch.where(cond[:, 1] == 3, 0, cond[:, 1] + 1).float())

    def forward(self, x, t, cond):
        c0, c1 = self.codes(cond)
        return x + 10 * c0[:, None] + 100 * c1[:, None]


def test_classifier_free_composition_matches_formula():
    m = _CondModel()
    x = torch.zeros(3, 1)
    t = torch.zeros(3, dtype=torch.long)
    # cell 0: col0=1 (w=2), col1=any; cell 1: col0=0, col1=2 (w=0.5); cell 2: col0 interpolated 0.25/0.75
    pi0 = torch.tensor([[0.0, 1.0], [1.0, 0.0], [0.25, 0.75]])
    pi1 = torch.tensor([[0.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 0.0, 0.0]])
    eps = classifier_free(m, [pi0, pi1], [2, 3], [2.0, 0.5])(x, t)
    # ε∅ = 0; ε_col0=c: 10(c+1); ε_col1=c: 100(c+1)
    expect = torch.tensor([[2 * 20.0], [2 * 10.0 + 0.5 * 300.0], [2 * (0.25 * 10 + 0.75 * 20)]])
    assert torch.allclose(eps, expect)


def test_classifier_free_unguided_is_unconditional():
    m = _CondModel()
    x = torch.randn(4, 1)
    t = torch.zeros(4, dtype=torch.long)
    eps = classifier_free(m, [None, None], [2, 3], [1.0, 1.0])(x, t)
    assert torch.allclose(eps, x)


class _InteractingModel(_CondModel):
    """_CondModel plus an interaction 1000·c0·c1: the joint is not the sum of the marginals."""

    def forward(self, x, t, cond):
        c0, c1 = self.codes(cond)
        return super().forward(x, t, cond) + 1000 * (c0 * c1)[:, None]


def test_chained_composition_follows_the_chain_rule():
    m = _InteractingModel()
    x = torch.zeros(3, 1)
    t = torch.zeros(3, dtype=torch.long)
    # cell 0: col0=1, col1=2; cell 1: col0=any, col1=0; cell 2: col0 interpolated 0.5/0.5, col1=1
    pi0 = torch.tensor([[0.0, 1.0], [0.0, 0.0], [0.5, 0.5]])
    pi1 = torch.tensor([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    ones = classifier_free(m, [pi0, pi1], [2, 3], [1.0, 1.0], chain=True)(x, t)
    # strengths 1 telescope to the joint conditional for cell 0: 10·2 + 100·3 + 1000·2·3
    assert torch.allclose(ones[0], torch.tensor([20.0 + 300.0 + 6000.0]))
    eps = classifier_free(m, [pi0, pi1], [2, 3], [2.0, 0.5], chain=True)(x, t)
    # cell 0: ε∅ + 2(ε(c0) − ε∅) + 0.5(ε(c0, c1) − ε(c0)) = 2·20 + 0.5·(300 + 6000)
    # cell 1: col0 not asked for, so col1's term is against ε∅: 0.5·100
    # cell 2: an interpolated col0 is no single value to condition on: col1 against ε∅, 0.5·200
    expect = torch.tensor([[40.0 + 0.5 * 6300.0], [0.5 * 100.0], [2 * (0.5 * 10 + 0.5 * 20) + 0.5 * 200.0]])
    assert torch.allclose(eps, expect)
    # marginal composition (the default) ignores the interaction: 2·20 + 0.5·300 for cell 0
    plain = classifier_free(m, [pi0, pi1], [2, 3], [2.0, 0.5])(x, t)
    assert torch.allclose(plain[0], torch.tensor([40.0 + 150.0]))


class _CountingModel(_InteractingModel):
    """_InteractingModel that counts the cells it is shown."""

    seen = 0

    def forward(self, x, t, cond):
        self.seen += x.shape[0]
        return super().forward(x, t, cond)


def _dense_free(m, pis, n_classes, scales, x, t):
    """ε∅ + Σ_k w_k Σ_c π_kc (ε(c_k = c) − ε∅), one network call per (column, class), as the formula reads."""
    K, n = len(n_classes), x.shape[0]
    null = torch.tensor(n_classes).expand(n, K)
    e0 = m(x, t, null)
    eps = e0.clone()
    for k, (pi, w) in enumerate(zip(pis, scales)):
        for c in range(n_classes[k]):
            cc = null.clone()
            cc[:, k] = c
            eps = eps + w * pi[:, c:c + 1] * (m(x, t, cc) - e0)
    return eps


def test_classifier_free_shows_the_network_only_the_cells_that_ask_for_a_class():
    g = torch.Generator().manual_seed(0)
    n = 40
    x, t = torch.randn(n, 1, generator=g), torch.zeros(n, dtype=torch.long)
    # column 0: most cells one-hot, a few spread over both classes; column 1: a neighbourhood's make-up
    pi0 = torch.nn.functional.one_hot(torch.randint(0, 2, (n,), generator=g), 2).float()
    pi0[:5] = torch.tensor([0.4, 0.6])
    pi1 = torch.zeros(n, 3)
    pi1[:, 0] = 1.0
    pi1[:3] = torch.tensor([0.2, 0.4, 0.4])
    m = _CountingModel()
    eps = classifier_free(m, [pi0, pi1], [2, 3], [2.0, 0.5])(x, t)
    assert torch.allclose(eps, _dense_free(_CountingModel(), [pi0, pi1], [2, 3], [2.0, 0.5], x, t), atol=1e-4)
    # ε∅ for all, column 0's first class for all, its second for the 5 spread cells, column 1 likewise for 3 + 3
    assert m.seen == n + n + 5 + n + 3 + 3
