"""The diffusion space: the vectors the denoiser learns and the sampler produces.

* ``latent`` (scDiffusion): the autoencoder's code, standardised per coordinate (the raw code
  has a std of about 0.1, so without rescaling most steps would see pure noise); for count data
  the standardised log library size is appended, so diffusion generates library sizes too.
* ``gene`` (scRDiT, White-Box DiT): the log-normalized gene vector itself, standardised per gene.

:meth:`DiffusionSpace.fit` computes the statistics on training cells, :meth:`encode` maps cells
into the space and :meth:`decode` maps vectors back to cells — sampled from the decoder's
likelihood, so zeros and noise come from the model, not from rounding.
"""
from __future__ import annotations

from typing import Mapping, NamedTuple

import numpy as np
import torch

from .autoencoder import Autoencoder
from .common import TARGET_SUM

SPACES = ("latent", "gene")


class Cells(NamedTuple):
    """Decoded cells: log-normalized ``X`` (N, G), sampled ``counts`` (N, G) and ``library`` (N,) —
    each cell's total over all its genes — for count models (``None`` otherwise)."""

    X: np.ndarray
    counts: np.ndarray | None
    library: np.ndarray | None


class DiffusionSpace:
    """Standardised diffusion coordinates for one trained model.

    Parameters
    ----------
    kind
        ``'latent'`` or ``'gene'``.
    stats
        The standardisation statistics (``latent_mean``/``latent_std`` and, for count models,
        ``loglib_mean``/``loglib_std``/``loglib_range``; or ``gene_mean``/``gene_std``/``gene_floor``).
    autoencoder
        The trained autoencoder (latent space only).
    observed_total
        Count models: normalize each decoded cell by its sampled total over all genes (the remainder
        drawn too; :func:`observed_total` says which checkpoints) rather than by the library it was
        decoded with.
    """

    def __init__(self, kind: str, stats: Mapping[str, np.ndarray], autoencoder: Autoencoder | None = None,
                 observed_total: bool = True):
        if kind not in SPACES:
            raise ValueError(f"space must be one of {SPACES}, got {kind!r}")
        if kind == "latent" and autoencoder is None:
            raise ValueError("the latent space needs an autoencoder")
        self.kind = kind
        self.stats = {k: np.asarray(v, dtype=np.float32) for k, v in stats.items()}
        self.autoencoder = autoencoder
        self.observed_total = bool(observed_total)

    @property
    def has_library(self) -> bool:
        """True when the last coordinate is the cell's standardised log library size."""
        return self.kind == "latent" and self.autoencoder.is_count_model

    @property
    def dim(self) -> int:
        if self.kind == "gene":
            return len(self.stats["gene_mean"])
        return self.autoencoder.latent_dim + int(self.has_library)

    # ------------------------------------------------------------------ fitting
    @classmethod
    def fit(cls, kind: str, X_lognorm: np.ndarray, library: np.ndarray | None = None,
            autoencoder: Autoencoder | None = None) -> "DiffusionSpace":
        """Statistics from training cells: (N, G) log-normalized values and (N,) library sizes."""
        X = np.asarray(X_lognorm, dtype=np.float32)
        if kind == "gene":
            stats = {"gene_mean": X.mean(0), "gene_std": X.std(0) + 1e-3, "gene_floor": positive_floor(X)}
            return cls(kind, stats)
        with torch.no_grad():
            z = autoencoder.encode(torch.from_numpy(X)).numpy()  # (N, latent_dim)
        return cls.from_codes(z, library, autoencoder)

    @classmethod
    def from_codes(cls, z: np.ndarray, library: np.ndarray | None, autoencoder: Autoencoder) -> "DiffusionSpace":
        """The latent space from the training cells' codes (N, latent_dim) and (count models) library sizes."""
        stats = {"latent_mean": z.mean(0), "latent_std": z.std(0) + 1e-6}
        if autoencoder.is_count_model:
            ll = np.log(np.asarray(library, dtype=np.float32))
            stats.update(loglib_mean=np.array([ll.mean()]), loglib_std=np.array([ll.std() + 1e-6]),
                         loglib_range=np.array([ll.min() - 0.5, ll.max() + 0.5]))
        return cls("latent", stats, autoencoder)

    # ------------------------------------------------------------------ cells -> vectors
    def encode(self, X_lognorm: np.ndarray, library: np.ndarray | None = None) -> np.ndarray:
        """(N, G) log-normalized cells (and (N,) library sizes for count models) -> (N, dim)."""
        X = np.asarray(X_lognorm, dtype=np.float32)
        if self.kind == "gene":
            return ((X - self.stats["gene_mean"]) / self.stats["gene_std"]).astype(np.float32)
        with torch.no_grad():
            z = self.autoencoder.encode(torch.from_numpy(X)).numpy()
        v = (z - self.stats["latent_mean"]) / self.stats["latent_std"]
        if self.has_library:
            if library is None:
                raise ValueError("count models need library sizes")
            ll = (np.log(np.asarray(library, dtype=np.float32)) - self.stats["loglib_mean"]) / self.stats["loglib_std"]
            v = np.concatenate([v, ll[:, None]], axis=1)
        return v.astype(np.float32)

    # ------------------------------------------------------------------ vectors -> cells
    def decode(self, v: torch.Tensor, rng: np.random.Generator) -> Cells:
        """(N, dim) vectors -> :class:`Cells`, sampled from the decoder.

        For count models X = log1p(counts / total · 1e4), where the total is the cell's sampled counts
        over *all* its genes (the model's and the remainder), whose mean is the generated library:
        what a user's ``normalize_total(1e4)`` + ``log1p`` gives on real cells.
        """
        v = torch.as_tensor(v).detach().float()
        if self.kind == "gene":
            # gene space has no noise model (scRDiT): un-standardise, then snap values below half of
            # each gene's smallest positive training value to zero (the data's support)
            x = v.numpy() * self.stats["gene_std"] + self.stats["gene_mean"]
            x = np.where(x < 0.5 * self.stats["gene_floor"], 0.0, x)
            return Cells(x.astype(np.float32), None, None)
        ae = self.autoencoder
        d = ae.latent_dim
        z = v[:, :d] * torch.from_numpy(self.stats["latent_std"]) + torch.from_numpy(self.stats["latent_mean"])
        with torch.no_grad():
            if not self.has_library:
                return Cells(ae.sample(ae.decode(z), rng), None, None)
            loglib = v[:, d] * float(self.stats["loglib_std"][0]) + float(self.stats["loglib_mean"][0])
            lo, hi = self.stats["loglib_range"]
            library = torch.exp(loglib.clamp(float(lo), float(hi)))  # (N,) expected total over all genes
            params = ae.decode(z, library)
            if self.observed_total:  # (N, G) counts and (N,) the observed total: genes' counts + the remainder's
                counts, lib = ae.sample_with_total(params, rng)
            else:  # checkpoints before scdiff 0.2 (remainder dispersion never re-fitted): divided by ℓ itself
                counts, lib = ae.sample(params, rng), library.numpy().astype(np.float32)
        X = np.log1p(counts / lib[:, None] * TARGET_SUM).astype(np.float32)
        return Cells(X, counts, lib)


def observed_total(config: dict) -> bool:
    """Whether a checkpoint's count decoder normalizes by the observed total (remainder sampled).

    True for checkpoints whose decoder noise was re-fitted after training
    (:func:`~scdiff_core.autoencoder.refit_decoder`, recorded as ``training.autoencoder.decoder_refit``):
    their remainder's dispersion is fitted, so drawing it gives real cells' spread of the genes'
    share. Older checkpoints left it at θ ≈ 1, and keep dividing by the library they decode with.
    """
    refit = (config.get("training", {}).get("autoencoder") or {}).get("decoder_refit") or {}
    return bool(refit.get("steps", 0))


def positive_floor(X: np.ndarray) -> np.ndarray:
    """Per gene, the smallest positive value among the cells (0 for a gene never expressed)."""
    X = np.asarray(X)
    return np.where((X > 0).any(0), np.where(X > 0, X, np.inf).min(0), 0.0).astype(np.float32)
