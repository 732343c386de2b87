"""The backbone contract for mlp, dit and crate, plus DiT/CRATE-specific checks."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from scdiff_core.backbones import BACKBONES, build_backbone
from scdiff_core.backbones.crate import ISTA, MSSA, CrateBlock
from scdiff_core.backbones.dit import DiTBlock, sincos_pos_embed_1d
from scdiff_core.errors import ScdiffError

DIM = 37  # not a multiple of the patch size
N = 6
SMALL = {
    "mlp": {"widths": [32, 16], "emb_dim": 16},
    "dit": {"patch_size": 8, "width": 32, "depth": 2, "heads": 2, "mlp_ratio": 2.0, "emb_dim": 16},
    "crate": {"patch_size": 8, "width": 32, "depth": 2, "heads": 2, "emb_dim": 16},
}
NAMES = sorted(BACKBONES)  # the contract tests cover every registered backbone
TRANSFORMERS = ["dit", "crate"]
COND_SETS = [[3, 2], []]


def make(name, n_classes, seed=0, dim=DIM, **over):
    torch.manual_seed(seed)
    return build_backbone(name, dim, n_classes, **{**SMALL[name], **over}).eval()


def perturb(model, scale=0.1, seed=1):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(scale * torch.randn(p.shape, generator=g))
    return model


def inputs(n_classes, seed=2, dim=DIM):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(N, dim, generator=g)
    t = torch.randint(0, 1000, (N,), generator=g)
    cond = None
    if n_classes:
        cond = torch.stack([torch.randint(0, k + 1, (N,), generator=g) for k in n_classes], dim=1)
    return x, t, cond


@pytest.mark.parametrize("n_classes", COND_SETS, ids=["cond", "uncond"])
@pytest.mark.parametrize("name", NAMES)
def test_output_shape(name, n_classes):
    m = perturb(make(name, n_classes))
    x, t, cond = inputs(n_classes)
    out = m(x, t, cond)
    assert out.shape == (N, DIM)
    assert torch.isfinite(out).all()
    # float timesteps work too
    assert m(x, t.float() + 0.5, cond).shape == (N, DIM)


@pytest.mark.parametrize("n_classes", COND_SETS, ids=["cond", "uncond"])
@pytest.mark.parametrize("name", NAMES)
def test_none_cond_is_null_cond(name, n_classes):
    m = perturb(make(name, n_classes))
    x, t, _ = inputs(n_classes)
    null = m.null_condition(N)
    assert null.shape == (N, len(n_classes))
    torch.testing.assert_close(m(x, t, None), m(x, t, null), rtol=0, atol=0)


@pytest.mark.parametrize("name", NAMES)
def test_conditioning_changes_output(name):
    m = perturb(make(name, [3, 2]))
    x, t, _ = inputs([3, 2])
    a = torch.zeros(N, 2, dtype=torch.long)
    b = torch.tensor([[2, 1]] * N)
    out_a, out_b, out_null = m(x, t, a), m(x, t, b), m(x, t, None)
    assert not torch.allclose(out_a, out_b)
    assert not torch.allclose(out_a, out_null)
    # and the timestep matters
    assert not torch.allclose(m(x, t, a), m(x, (t + 100) % 1000, a))


@pytest.mark.parametrize("n_classes", COND_SETS, ids=["cond", "uncond"])
@pytest.mark.parametrize("name", NAMES)
def test_gradients_reach_every_parameter(name, n_classes):
    m = perturb(make(name, n_classes)).train()
    x, t, cond = inputs(n_classes)
    m(x, t, cond).pow(2).mean().backward()
    for pname, p in m.named_parameters():
        assert p.grad is not None, pname
        assert torch.isfinite(p.grad).all(), pname
        assert p.grad.abs().sum() > 0, pname


@pytest.mark.parametrize("n_classes", COND_SETS, ids=["cond", "uncond"])
@pytest.mark.parametrize("name", NAMES)
def test_rebuild_from_hparams(name, n_classes):
    m = perturb(make(name, n_classes))
    hp = json.loads(json.dumps(m.hparams))  # must survive JSON
    m2 = build_backbone(m.name, DIM, n_classes, **hp).eval()
    assert m2.hparams == m.hparams
    m2.load_state_dict(m.state_dict())
    x, t, cond = inputs(n_classes)
    torch.testing.assert_close(m2(x, t, cond), m(x, t, cond), rtol=0, atol=0)


@pytest.mark.parametrize("name", NAMES)
def test_default_hparams_match(name):
    m = build_backbone(name, DIM, [])
    assert m.hparams == type(m).default_hparams


@pytest.mark.parametrize("n_classes", COND_SETS, ids=["cond", "uncond"])
@pytest.mark.parametrize("name", TRANSFORMERS)
def test_adaln_zero_output_is_zero_at_init(name, n_classes):
    m = make(name, n_classes)
    x, t, cond = inputs(n_classes)
    out = m(x, t, cond)
    assert out.shape == (N, DIM)
    assert torch.equal(out, torch.zeros_like(out))


@pytest.mark.parametrize("name", TRANSFORMERS)
def test_adaln_zero_blocks_identity_at_init(name):
    m = make(name, [3, 2])
    x, t, cond = inputs([3, 2])
    h = m.patch_embed(m.patchify(x)) + m.pos_embed
    c = m.conditioning(t, cond, N, x.device)
    assert h.shape == (N, m.n_tokens, 32) and c.shape == (N, 32)
    assert len(m.blocks) == 2
    for blk in m.blocks:
        assert isinstance(blk, DiTBlock if name == "dit" else CrateBlock)
        out = blk(h, c)
        assert torch.equal(out, h)
    # once the gates are non-zero the block is no longer the identity
    perturb(m)
    assert not torch.allclose(m.blocks[0](h, c), h)


@pytest.mark.parametrize("name", TRANSFORMERS)
def test_patchify_roundtrip_and_fixed_positions(name):
    m = make(name, [])
    x, _, _ = inputs([])
    p = m.patchify(x)
    assert p.shape == (N, 5, 8)
    assert torch.equal(p.reshape(N, -1)[:, DIM:], torch.zeros(N, 5 * 8 - DIM))
    assert torch.equal(m.unpatchify(p), x)
    # positions are a fixed buffer, not a parameter, and not in the state dict
    assert "pos_embed" not in dict(m.named_parameters())
    assert "pos_embed" not in m.state_dict()
    pe = sincos_pos_embed_1d(5, 32).numpy()
    pos = np.arange(5)[:, None]
    omega = 1.0 / 10000 ** (np.arange(16) / 16.0)
    np.testing.assert_allclose(pe, np.concatenate([np.sin(pos * omega), np.cos(pos * omega)], 1), atol=1e-6)
    torch.testing.assert_close(m.pos_embed, torch.from_numpy(pe))


def test_ista_matches_closed_form():
    width = 3
    D = np.array([[0.5, -0.2, 0.1], [0.3, 0.8, -0.4], [-0.6, 0.2, 0.9]])
    z = np.array([[1.0, -0.5, 0.25], [0.2, 0.4, -1.5]])  # two tokens
    eta, lam = 0.3, 0.2
    expected = np.maximum(z + eta * (z - z @ D.T) @ D - eta * lam, 0.0)  # rows: ReLU(z + η Dᵀ(z − Dz) − ηλ)
    # the same per column vector, written literally
    for i in range(2):
        col = z[i]
        np.testing.assert_allclose(expected[i], np.maximum(col + eta * D.T @ (col - D @ col) - eta * lam, 0))
    ista = ISTA(width, step_size=eta, lambd=lam)
    with torch.no_grad():
        ista.weight.copy_(torch.from_numpy(D))
    out = ista(torch.from_numpy(z).float()[None])  # (1, 2, 3)
    np.testing.assert_allclose(out[0].detach().numpy(), expected, rtol=1e-5, atol=1e-6)
    assert (expected == 0).any() and (expected > 0).any()  # the hand example exercises both ReLU sides


def test_mssa_one_head_matches_hand_computation():
    width, hd, L = 4, 2, 3
    rng = np.random.default_rng(0)
    U = rng.normal(size=(width, hd))  # columns span the subspace
    Wout = rng.normal(size=(width, hd))
    bout = rng.normal(size=width)
    z = rng.normal(size=(L, width))
    Z = z @ U  # (L, hd) = (Uᵀ z_i) per token
    S = Z @ Z.T / np.sqrt(hd)
    A = np.exp(S - S.max(1, keepdims=True))
    A /= A.sum(1, keepdims=True)
    expected = (A @ Z) @ Wout.T + bout
    mssa = MSSA(width, heads=1, head_dim=hd)
    with torch.no_grad():
        mssa.qkv.weight.copy_(torch.from_numpy(U.T))
        mssa.to_out.weight.copy_(torch.from_numpy(Wout))
        mssa.to_out.bias.copy_(torch.from_numpy(bout))
    out = mssa(torch.from_numpy(z).float()[None])
    assert out.shape == (1, L, width)
    np.testing.assert_allclose(out[0].detach().numpy(), expected, rtol=1e-4, atol=1e-5)
    assert mssa.qkv.bias is None


def test_mssa_heads_are_independent_subspaces():
    # two heads = concatenation of two one-head computations before the output projection
    torch.manual_seed(0)
    two = MSSA(6, heads=2, head_dim=3)
    z = torch.randn(2, 4, 6)
    outs = []
    for k in range(2):
        one = MSSA(6, heads=1, head_dim=3)
        with torch.no_grad():
            one.qkv.weight.copy_(two.qkv.weight[3 * k: 3 * k + 3])
            one.to_out.weight.copy_(torch.eye(3, 6).T)
            one.to_out.bias.zero_()
        outs.append(one(z)[..., :3])
    torch.testing.assert_close(two(z), two.to_out(torch.cat(outs, -1)), rtol=1e-5, atol=1e-6)


def test_crate_has_about_half_the_parameters_of_dit():
    for dim in (65, 2000):
        common = {"patch_size": 16, "width": 128, "depth": 4, "heads": 4}
        dit = build_backbone("dit", dim, [3, 2], **common)
        crate = build_backbone("crate", dim, [3, 2], **common)
        ratio = crate.n_parameters() / dit.n_parameters()
        assert 0.4 < ratio < 0.65, ratio


def test_invalid_sizes_raise():
    with pytest.raises(ScdiffError):
        build_backbone("dit", DIM, [], width=30, heads=4)
    with pytest.raises(ScdiffError):
        build_backbone("crate", DIM, [], width=30, heads=4)
    # CRATE may use a head_dim that does not tile the width
    m = build_backbone("crate", DIM, [], patch_size=8, width=30, heads=4, head_dim=5, depth=1, emb_dim=8)
    assert m(torch.randn(2, DIM), torch.tensor([1, 2])).shape == (2, DIM)


def test_every_registered_backbone_has_test_sizes_and_a_description():
    """A new backbone must come with small test sizes here (and a sentence for help texts)."""
    assert set(BACKBONES) == set(SMALL)
    assert all(cls.description for cls in BACKBONES.values())


@pytest.mark.parametrize("name", NAMES)
def test_hparams_for_space(name):
    hp = BACKBONES[name].hparams_for("latent")
    assert set(hp) == set(BACKBONES[name].default_hparams)
    if name in TRANSFORMERS:
        assert hp["patch_size"] == 8 and BACKBONES[name].hparams_for("gene")["patch_size"] == 16


def test_dit_gelu_form_is_an_hparam_old_checkpoints_keep_tanh():
    """New DiT models use the exact GELU; hparams written before the choice existed build DiT's tanh form."""
    assert BACKBONES["dit"].hparams_for("latent")["gelu"] == "none"
    assert BACKBONES["dit"].hparams_for("gene")["gelu"] == "none"
    old = {k: v for k, v in SMALL["dit"].items()}  # a config.json from before: no "gelu" key
    assert build_backbone("dit", DIM, [3, 2], **old).hparams["gelu"] == "tanh"
    tanh = perturb(make("dit", [3, 2], gelu="tanh"))
    exact = make("dit", [3, 2], gelu="none")
    exact.load_state_dict(tanh.state_dict())  # same weights, only the nonlinearity differs
    x, t, cond = inputs([3, 2])
    a, b = tanh(x, t, cond), exact(x, t, cond)
    assert not torch.equal(a, b)
    torch.testing.assert_close(a, b, rtol=0, atol=1e-2)
    with pytest.raises(ScdiffError, match="gelu"):
        build_backbone("dit", DIM, [], gelu="relu")


@pytest.mark.parametrize("n_classes", COND_SETS, ids=["cond", "uncond"])
@pytest.mark.parametrize("name", TRANSFORMERS)
def test_sampling_computes_adaln_once_per_conditioning_row(name, n_classes):
    """Without gradients, cells sharing (t, condition) share their adaLN modulations: same output as per cell."""
    m = perturb(make(name, n_classes))
    n = 96
    x = torch.randn(n, DIM, generator=torch.Generator().manual_seed(3))
    t = torch.full((n,), 7)
    t[n // 2:] = 300  # two time steps
    cond = None
    if n_classes:
        cond = torch.zeros(n, len(n_classes), dtype=torch.long)
        cond[::3, 0] = 2
        cond[1::3, 0] = n_classes[0]  # the null code of column 0 ("not given")
        cond[n // 4:, 1] = 1
    with torch.no_grad():
        c, index = m.conditioning_rows(t, cond, n, x.device)
        keys = {(int(t[i]),) + (tuple(cond[i].tolist()) if cond is not None else ()) for i in range(n)}
        assert index is not None and c.shape[0] == len(keys) and index.shape == (n,)
        for i in range(n):  # each cell points at the row of its own (t, condition)
            torch.testing.assert_close(c[index[i]], m.conditioning(t[i:i + 1], None if cond is None else cond[i:i + 1],
                                                                   1, x.device)[0], rtol=1e-5, atol=1e-6)
        fast = m(x, t, cond)
    plain = m(x, t, cond).detach()  # with gradients recorded: one conditioning row per cell
    torch.testing.assert_close(fast, plain, rtol=1e-5, atol=1e-5)
    with torch.no_grad():  # every cell its own time step: nothing to share
        assert m.conditioning_rows(torch.arange(n), cond, n, x.device)[1] is None
        torch.testing.assert_close(m(x, torch.tensor(7), cond), m(x, torch.full((n,), 7), cond))


@pytest.mark.parametrize("name", TRANSFORMERS)
def test_sampling_in_row_blocks_gives_the_whole_batch_values(name, monkeypatch):
    """Without gradients a large batch runs in blocks of SAMPLING_ROWS rows: same ε as in one pass."""
    from scdiff_core.backbones import dit

    m = perturb(make(name, [3, 2]))
    n = 100
    x, t = torch.randn(n, DIM, generator=torch.Generator().manual_seed(4)), torch.full((n,), 50)
    cond = torch.randint(0, 3, (n, 2), generator=torch.Generator().manual_seed(5))  # column 1: 2 is "not given"
    whole = m(x, t, cond).detach()
    monkeypatch.setattr(dit, "SAMPLING_ROWS", 16)  # 7 blocks, the last one short
    with torch.no_grad():
        torch.testing.assert_close(m(x, t, cond), whole, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(m(x, torch.tensor(50), cond), whole, rtol=1e-5, atol=1e-5)
