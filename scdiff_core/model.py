"""The user-facing model: a trained checkpoint that generates cells and trajectories.

Data flow: condition request → noise in the diffusion space → sampler with guidance
(classifier or classifier-free) → decoder samples (counts or log-normalized values) → AnnData.
The diffusion space is the autoencoder's standardised latent code with the log library size
appended (count models), or, for ``space='gene'``, the standardised log-normalized gene vector.
"""
from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Mapping, Sequence

import anndata as ad
import numpy as np
import pandas as pd
import torch

from . import __version__
from .autoencoder import Autoencoder
from . import requests as R
from . import validate as V
from .checkpoint import CONFIG_NAME, load_checkpoint, save_checkpoint
from .common import ANY, LIBRARY_KEY, NORMALIZATION, ProgressFn
from .diffusion import GaussianDiffusion, make_sampler, run_sampler
from .embedding import ReferenceMap
from .errors import ScdiffError
from .guidance import GUIDANCE, NoiseClassifier
from .space import Cells, DiffusionSpace, observed_total

MAX_CELLS = 100_000




class SCDiffModel:
    """A trained scdiff model.

    Build one with :func:`scdiff_core.training.train` or load one with :meth:`load`.
    Every network is in eval mode and read-only after construction, so one instance may be
    shared between threads (the app keeps one per checkpoint); all randomness comes from
    per-call generators seeded by ``seed``.
    """

    def __init__(self, config: dict, autoencoder: Autoencoder | None, denoiser: torch.nn.Module,
                 classifiers: Mapping[str, NoiseClassifier], stats: Mapping[str, np.ndarray],
                 reference: Mapping[str, np.ndarray] | None = None, path: str | Path | None = None):
        self.config = config
        self.autoencoder = autoencoder
        self.denoiser = denoiser.eval()
        self.classifiers = {k: c.eval() for k, c in classifiers.items()}
        self.stats = {k: np.asarray(v, dtype=np.float32) for k, v in stats.items()}
        self.reference = dict(reference) if reference is not None else {}
        self.path = Path(path) if path is not None else None
        self._config_sha: str | None = None
        d = config["diffusion"]
        self.diffusion = GaussianDiffusion.from_config(d["schedule"], d["timesteps"])
        self.diffusion_space = DiffusionSpace(self.space, self.stats, autoencoder,
                                              observed_total=observed_total(config))
        self._refmap: ReferenceMap | None = None
        self._label_predictors: dict = {}
        for m in [self.denoiser, *self.classifiers.values()] + ([autoencoder] if autoencoder else []):
            for p in m.parameters():
                p.requires_grad_(False)

    # ------------------------------------------------------------------ description
    @property
    def conditions(self) -> list[str]:
        return list(self.config["conditions"])

    @property
    def vocab(self) -> dict[str, list[str]]:
        return {k: list(v) for k, v in self.config["vocab"].items()}

    @property
    def genes(self) -> list[str]:
        return list(self.config["genes"])

    @property
    def kind(self) -> str:
        return self.config["data"]["kind"]

    @property
    def space(self) -> str:
        return self.config.get("space", "latent")

    @property
    def n_classes(self) -> list[int]:
        return [len(self.config["vocab"][c]) for c in self.conditions]

    def seen_combinations(self) -> set[tuple[str, ...]]:
        """Combinations of condition values present among the training cells."""
        return {tuple(c) for c in self.config.get("combinations", [])}

    def is_seen(self, conditions: Mapping[str, str | None]) -> bool:
        """True if every training combination matching the given (non-any) values exists."""
        req = [(i, str(v)) for i, c in enumerate(self.conditions) if not R.is_free(v := conditions.get(c))]
        return any(all(combo[i] == v for i, v in req) for combo in self.seen_combinations())

    def summary(self) -> dict:
        c = self.config
        return {"dataset": c["data"].get("source"), "cells_train": len(c["split"]["train"]),
                "genes": len(c["genes"]), "kind": c["data"]["kind"], "likelihood": c.get("autoencoder", {}).get("likelihood"),
                "space": self.space, "backbone": c["backbone"]["name"],
                "backbone_parameters": sum(p.numel() for p in self.denoiser.parameters()),
                "conditions": {k: c["counts"][k] for k in self.conditions}}

    # ------------------------------------------------------------------ spaces
    def to_space(self, X_lognorm: np.ndarray, library: np.ndarray | None = None) -> np.ndarray:
        """Cells -> standardised diffusion vectors (see :meth:`DiffusionSpace.encode`)."""
        return self.diffusion_space.encode(X_lognorm, library)

    def from_space(self, v: torch.Tensor, rng: np.random.Generator) -> Cells:
        """Diffusion vectors -> :class:`~scdiff_core.space.Cells` (see :meth:`DiffusionSpace.decode`)."""
        return self.diffusion_space.decode(v, rng)

    # ------------------------------------------------------------------ requests (checks in .requests)
    def _check_conditions(self, conditions: Mapping[str, str | None]) -> dict[str, str | None]:
        return R.check_conditions(self.conditions, self.config["vocab"], conditions)

    def _match(self, col: str, val) -> str:
        return R.match(self.config["vocab"][col], col, val)

    def default_scales(self, guidance: str) -> dict[str, float]:
        """Default guidance strength per column: calibrated on validation cells when the checkpoint
        was (see :mod:`scdiff_core.calibration`), else the mode's single default."""
        from .calibration import calibrated_defaults

        g = self.config["guidance_defaults"]
        default = float(g.get(guidance, g["free"]))  # chained shares the classifier-free default
        cal = calibrated_defaults(self.config).get(guidance, {})
        return {c: float(cal.get(c, default)) for c in self.conditions}

    def _scales(self, scales: Mapping[str, float] | float | None, guidance: str) -> dict[str, float]:
        return R.scales(self.conditions, self.default_scales(guidance), scales)

    @staticmethod
    def _check_sampling(n_cells: int, sampler: str, steps: int, guidance: str, max_cells: int = MAX_CELLS) -> None:
        R.check_sampling(n_cells, sampler, steps, guidance, max_cells)

    # ------------------------------------------------------------------ sampling core
    def _denoise(self, x: torch.Tensor, targets, scales, guidance: str, sampler: str, steps: int, eta: float,
                 t_max: int | None, generator: torch.Generator, progress: ProgressFn | None,
                 batch_size: int = 4096, on_step=None) -> torch.Tensor:
        """Run the sampler from ``x`` (noise at ``t_max``, default T−1) in batches; targets[k]: (N, C_k) or None.
        ``on_step(i, t, x0_hat)`` (:func:`~scdiff_core.diffusion.sampler.run_sampler`) needs one batch."""
        smp = make_sampler(sampler, self.diffusion, steps, eta=eta, t_max=t_max)
        outs = []
        n = x.shape[0]
        n_batches = (n + batch_size - 1) // batch_size
        total = len(smp.timesteps) * n_batches
        for b in range(n_batches):
            sl = slice(b * batch_size, (b + 1) * batch_size)
            eps_fn = GUIDANCE[guidance].build(self, [None if y is None else y[sl] for y in targets], scales)
            prog = None if progress is None else (lambda i, tot, b=b: progress(b * len(smp.timesteps) + i, total))
            with torch.no_grad():
                outs.append(run_sampler(smp, eps_fn, x[sl], generator=generator, progress=prog, on_step=on_step))
        return torch.cat(outs, 0)

    def _one_hot(self, col: str, values: Sequence[str | None]) -> torch.Tensor | None:
        if all(v is None for v in values):
            return None
        vocab = self.config["vocab"][col]
        y = torch.zeros(len(values), len(vocab))
        for i, v in enumerate(values):
            if v is not None:
                y[i, vocab.index(v)] = 1.0
        return y

    # ------------------------------------------------------------------ public API
    def generate(self, conditions: Mapping[str, str | None] | Sequence[tuple[Mapping[str, str | None], int]],
                 n_cells: int | None = None, *, guidance: str = "auto",
                 scales: Mapping[str, float] | float | None = None, sampler: str = "ddim", steps: int = 50,
                 eta: float = 0.0, seed: int = 0, progress: ProgressFn | None = None) -> ad.AnnData:
        """Generate cells for a combination of conditions.

        Parameters
        ----------
        conditions
            ``{column: value}``; a missing column, ``None`` or ``"any"`` leaves it unguided. Or a
            list of ``(conditions, n_cells)`` pairs to generate several groups in one pass.
        n_cells
            Number of cells (when ``conditions`` is a single mapping).
        guidance
            ``"free"`` (classifier-free: ε∅ + Σ w_k(ε_k − ε∅)), ``"chained"`` (classifier-free, each
            column given the earlier ones: ε∅ + Σ w_k(ε(c_≤k) − ε(c_<k))), ``"classifier"`` (noise-aware
            classifiers' gradients, Σ s_k ∇log p_k), or ``"auto"`` (default): ``"free"`` when every
            requested combination was seen in training, else the setting chosen for unseen
            combinations (:data:`~scdiff_core.calibration.UNSEEN`; said in ``uns['scdiff']['guidance_choice']``).
        scales
            Guidance strength per column (or one number for all); defaults from the checkpoint.
        sampler, steps, eta
            ``ddim`` with any number of steps (η = 0 deterministic, η = 1 stochastic) or ``ddpm``.
        seed
            Same seed, same cells. Cells are drawn in blocks of 4,096, each with random streams
            derived from the seed and the block's index (:mod:`scdiff_core.streaming`), so
            :meth:`generate_chunks` and streamed files hold the same cells.
        progress
            ``progress(step, total)`` after each denoising step.

        Returns
        -------
        AnnData with X log-normalized over :attr:`genes`, ``layers['counts']`` for count models,
        obs = requested conditions, ``obsm['X_umap_ref']`` (projection onto the reference map)
        and provenance in ``uns['scdiff']``.
        """
        from .streaming import concat_cells, plan_request, sample_block

        if not isinstance(conditions, (Mapping, list, tuple)):
            raise ScdiffError("conditions must be a mapping {column: value} or a list of (mapping, n_cells) pairs.")
        eta, seed = V.eta(eta, "eta (0 deterministic, 1 stochastic)"), V.seed(seed, "seed")
        req = plan_request(self, conditions, n_cells, guidance=guidance, scales=scales, sampler=sampler,
                           steps=steps, eta=eta, seed=seed, max_cells=MAX_CELLS)
        t0 = time.perf_counter()
        cells = concat_cells([sample_block(self, req, b, progress) for b in range(req.n_blocks)])
        obs = req.obs(slice(0, req.total))
        return self._to_anndata(cells, obs, req.provenance(time.perf_counter() - t0), kind="generate")

    def generate_chunks(self, conditions: Mapping[str, str | None] | Sequence[tuple[Mapping[str, str | None], int]],
                        n_cells: int | None = None, *, chunk_size: int = 8192, guidance: str = "auto",
                        scales: Mapping[str, float] | float | None = None, sampler: str = "ddim", steps: int = 50,
                        eta: float = 0.0, seed: int = 0, progress: ProgressFn | None = None):
        """Generate any number of cells as an iterator of AnnData chunks of ``chunk_size`` cells.

        The same arguments as :meth:`generate`, without its ``MAX_CELLS`` cap. The chunks, stacked,
        hold exactly the cells :meth:`generate` returns for the same seed (see
        :mod:`scdiff_core.streaming`); obs names run on (``gen0`` … across chunks) and each chunk's
        condition columns carry the categories of the whole request. ``progress(step, total)``
        counts denoising steps over all cells.
        """
        from .streaming import MAX_STREAMED_CELLS, iter_chunks, plan_request

        req = plan_request(self, conditions, n_cells, guidance=guidance, scales=scales, sampler=sampler,
                           steps=steps, eta=eta, seed=seed, max_cells=MAX_STREAMED_CELLS)
        return iter_chunks(self, req, chunk_size, progress)

    def trajectory(self, column: str, start, end, *, method: str | None = None, **kwargs) -> ad.AnnData:
        """A continuous path of cells from ``start`` to ``end`` (values of ``column``, or sets of cells).

        ``method``: a key of :data:`scdiff_core.trajectory.METHODS`; see
        :func:`scdiff_core.trajectory.trajectory` for the methods and their options.
        """
        from .trajectory import trajectory

        checks = {"t_start": V.t_start, "eta": V.eta, "seed": V.seed, "scale": V.scale}
        for name, check in checks.items():
            if kwargs.get(name) is not None:  # None: the method's own default
                kwargs[name] = check(kwargs[name], f"{name} of the trajectory")
        if column in self.conditions:  # labels are matched leniently; sets of cells pass through
            start, end = (self._match(column, v) if isinstance(v, str) else v for v in (start, end))
        return trajectory(self, column, start, end, method=method, **kwargs)

    # ------------------------------------------------------------------ output
    @property
    def reference_map(self) -> ReferenceMap | None:
        if self._refmap is None and "umap" in self.reference:
            r = self.reference
            self._refmap = ReferenceMap(r["pca_mean"], r["pca_components"], r["pcs"], r["umap"])
        return self._refmap

    def predict_labels(self, X_lognorm: np.ndarray) -> pd.DataFrame:
        """The label each cell looks like, per condition column: ``predicted_<column>``.

        The project's one label predictor (:class:`~scdiff_core.metrics.labels.LabelPredictor`,
        a logistic regression on the training cells' PCA coordinates, as the evaluation's label
        fidelity uses), fitted once per column on the reference this checkpoint stores. Empty
        (no columns) when the checkpoint stores no reference PCA.
        """
        rm = self.reference_map
        if rm is None or len(X_lognorm) == 0:
            return pd.DataFrame(index=range(len(X_lognorm)))
        from .metrics.labels import LabelPredictor

        pcs = rm.pcs(np.asarray(X_lognorm))
        out = {}
        for col in self.conditions:
            if col not in self._label_predictors:  # a benign race: two threads fit the same predictor
                self._label_predictors[col] = LabelPredictor.from_reference(self.reference, col, vocab=self.vocab[col])
            out[f"predicted_{col}"] = np.asarray(self._label_predictors[col].predict(pcs), dtype=object)
        return pd.DataFrame(out)

    def checkpoint_hash(self) -> str | None:
        """The sha256 of the config.json this model was loaded from (as read at load time)."""
        return self._config_sha

    @property
    def fingerprint(self) -> str | None:
        """The checkpoint's fingerprint (config and weights; :mod:`scdiff_core.fingerprint`)."""
        return self.config.get("fingerprint")

    @property
    def normalization(self) -> str:
        """How ``X`` of this model's output is normalized (also in every output's ``uns['scdiff']``)."""
        if self.kind == "counts" and self.space == "latent":
            return NORMALIZATION
        if self.kind == "counts":
            return "as the training data: " + NORMALIZATION
        return "as the training data (log-normalized values used as given)"

    def _to_anndata(self, cells: Cells, obs: pd.DataFrame, prov: dict, kind: str) -> ad.AnnData:
        obs.index = [f"gen{i}" for i in range(len(obs))]
        if cells.library is not None:
            obs[LIBRARY_KEY] = cells.library
        for c in obs.columns:
            if obs[c].dtype == object:
                obs[c] = obs[c].astype("category")
        adata = ad.AnnData(X=np.asarray(cells.X, dtype=np.float32), obs=obs,
                           var=pd.DataFrame(index=pd.Index(self.genes, name="gene")))
        if cells.counts is not None:
            adata.layers["counts"] = cells.counts.astype(np.float32)
        rm = self.reference_map
        if rm is not None:
            adata.obsm["X_umap_ref"] = rm.project(adata.X)
        prov = dict(prov, kind=kind, checkpoint=str(self.path) if self.path else "",
                    checkpoint_sha256=self.checkpoint_hash() or "", checkpoint_fingerprint=self.fingerprint or "",
                    scdiff_version=__version__,
                    dataset=str(self.config["data"].get("source", "")), space=self.space,
                    backbone=self.config["backbone"]["name"], normalization=self.normalization)
        adata.uns["scdiff"] = _h5_safe(prov)
        return adata

    # ------------------------------------------------------------------ persistence
    def state_tensors(self) -> dict[str, dict[str, torch.Tensor]]:
        w = {"denoiser": {f"denoiser.{k}": v for k, v in self.denoiser.state_dict().items()},
             "stats": {k: torch.from_numpy(np.atleast_1d(v)) for k, v in self.stats.items()}}
        if self.autoencoder is not None:
            w["autoencoder"] = {f"ae.{k}": v for k, v in self.autoencoder.state_dict().items()}
        if self.classifiers:
            w["classifiers"] = {f"{c}.{k}": v for c, m in self.classifiers.items() for k, v in m.state_dict().items()}
        if self.reference:
            w["reference"] = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in self.reference.items()}
        return w

    def save(self, path: str | Path) -> Path:
        """Write the checkpoint folder (:func:`~scdiff_core.checkpoint.save_checkpoint`); records its fingerprint."""
        from .checkpoint import read_config

        self.path = save_checkpoint(path, self.config, self.state_tensors())
        written = read_config(self.path)
        for key in ("schema_version", "files", "fingerprint"):
            self.config[key] = written[key]
        self._remember_config_file()
        return self.path

    @classmethod
    def load(cls, path: str | Path, expect_fingerprint: str | None = None) -> "SCDiffModel":
        """Load a checkpoint folder: fingerprint, hashes, schema and shapes checked; nothing unpickled.

        ``expect_fingerprint`` (12 to 64 hex digits) refuses any other checkpoint than that one.
        """
        from .loading import build

        cfg, w = load_checkpoint(path, expect_fingerprint)
        ae, den, clfs, stats, ref = build(cfg, w, path)
        model = cls(cfg, ae, den, clfs, stats, ref, path=path)
        model._remember_config_file()
        return model

    def _remember_config_file(self) -> None:
        data = V.read_bytes(self.path / CONFIG_NAME, "config.json", V.limit("json"), follow_symlinks=False)
        self._config_sha = hashlib.sha256(data).hexdigest()


def _h5_safe(obj):
    """Make a provenance dict storable in .h5ad (no None, no nested lists of dicts)."""
    if isinstance(obj, dict):
        return {str(k): _h5_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        if all(isinstance(x, (int, float, str, np.number)) for x in obj) and obj:
            return np.asarray(obj)
        return {str(i): _h5_safe(x) for i, x in enumerate(obj)}
    if obj is None:
        return "none"
    if isinstance(obj, (np.floating, float)):
        return float(obj)
    return obj
