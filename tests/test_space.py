"""The diffusion space: standardised coordinates fitted on training cells, and the way back to cells."""
import numpy as np
import pytest
import torch

from scdiff_core.autoencoder import Autoencoder
from scdiff_core.data import lognormalize
from scdiff_core.space import DiffusionSpace, positive_floor


def _counts(n=64, g=12, seed=0):
    rng = np.random.default_rng(seed)
    return rng.poisson(rng.gamma(2.0, 2.0, size=(n, g))).astype(np.float32) + (np.arange(g) == 0)


def test_gene_space_is_standardised_and_round_trips():
    X = lognormalize(_counts())
    sp = DiffusionSpace.fit("gene", X)
    v = sp.encode(X)
    assert sp.dim == X.shape[1] and v.shape == X.shape
    assert np.allclose(v.mean(0), 0, atol=1e-4) and np.allclose(v.std(0), 1, atol=0.05)
    back, counts, library = sp.decode(torch.from_numpy(v), np.random.default_rng(0))
    assert counts is None and library is None
    assert np.allclose(back, X, atol=1e-4)  # values at or above half the floor survive the snap


def test_latent_space_appends_standardised_log_library():
    C = _counts()
    X = lognormalize(C)
    torch.manual_seed(0)
    ae = Autoencoder(C.shape[1], latent_dim=4, hidden=(16,), likelihood="nb").eval()
    lib = C.sum(1) * 2.0  # the model's genes hold half of each cell's counts
    X = np.log1p(C / lib[:, None] * 1e4).astype(np.float32)
    sp = DiffusionSpace.fit("latent", X, lib, ae)
    v = sp.encode(X, lib)
    assert sp.has_library and sp.dim == 5 and v.shape == (len(C), 5)
    assert np.allclose(v.mean(0), 0, atol=1e-3) and np.allclose(v.std(0), 1, atol=1e-2)
    Xg, counts, library = sp.decode(torch.from_numpy(v), np.random.default_rng(0))
    assert counts.shape == C.shape and (counts >= 0).all()
    # the observed total: the genes' counts plus the remainder's, drawn around the decoded library
    assert (library >= counts.sum(1)).all() and not np.allclose(library, lib, rtol=1e-3)
    assert np.allclose(Xg, np.log1p(counts / library[:, None] * 1e4), atol=1e-5)  # normalized by the full total
    old = DiffusionSpace("latent", sp.stats, ae, observed_total=False)  # checkpoints before scdiff 0.2
    _, counts, library = old.decode(torch.from_numpy(v), np.random.default_rng(0))
    assert np.allclose(library, lib, rtol=1e-3)  # the library coordinate round-trips, used as is
    with pytest.raises(ValueError, match="library"):
        sp.encode(X)


def test_hurdle_latent_space_has_no_library_and_needs_an_autoencoder():
    X = lognormalize(_counts())
    ae = Autoencoder(X.shape[1], latent_dim=3, hidden=(8,), likelihood="hurdle").eval()
    sp = DiffusionSpace.fit("latent", X, None, ae)
    assert not sp.has_library and sp.dim == 3
    with pytest.raises(ValueError, match="autoencoder"):
        DiffusionSpace("latent", sp.stats, None)


def test_positive_floor():
    X = np.array([[0.0, 2.0, 0.0], [1.5, 0.5, 0.0]])
    assert positive_floor(X).tolist() == [1.5, 0.5, 0.0]


def test_which_checkpoints_normalize_by_the_observed_total(tiny_model):
    from scdiff_core.space import observed_total

    assert tiny_model.diffusion_space.observed_total  # trained now: the decoder's noise was re-fitted
    assert tiny_model.config["training"]["autoencoder"]["decoder_refit"]["steps"] > 0
    assert not observed_total({"training": {"autoencoder": {"val_nll": 1.0}}})  # written before scdiff 0.2
    assert not observed_total({"training": {"autoencoder": {"decoder_refit": {"steps": 0}}}})
    assert not observed_total({})
