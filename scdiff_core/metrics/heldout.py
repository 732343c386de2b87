"""A checkpoint's real cells, split as it was trained: train, validation (control) and test.

The checkpoint records its dataset, preprocessing and the train/validation/test split by cell
id; the data are re-read and re-prepared the same way, the PCA is fitted on training cells only,
and the validation cells (never used to fit anything) serve as the real-vs-real control row.
See ``docs/evaluation.md``.
"""
from __future__ import annotations

from pathlib import Path

import anndata as ad

from ..data import load_prepared, split_cells
from ..common import ProgressFn
from ..errors import ScdiffError
from .protocol import evaluate
from .reference import ReferenceSpace
from .report import EvaluationReport

_NO_TEST_NOTE = (
    "This model was trained without a test set (--split …,0): generated cells are compared "
    "with half of the validation cells, and the control row is the other half. Validation "
    "cells may have informed choices; this is not a held-out test result."
)


class HeldOut:
    """The real cells of a checkpoint's split: ``train``, ``val`` (control) and ``test``.

    Parameters
    ----------
    model : SCDiffModel
        The loaded checkpoint (its config records the data source, preprocessing and split).
    data : str or None
        Where to read the data from, if not where the checkpoint says.
    paul15_path : str or None
        A local copy of the paul15 data set.
    """

    def __init__(self, model, data: str | None = None, paul15_path: str | None = None):
        cfg = model.config
        pre = cfg["data"]["preprocessing"]
        src = _source(pre, data)
        prep = load_prepared(src, model.conditions, layer=pre.get("layer"), use_raw=bool(pre.get("use_raw")),
                             paul15_path=paul15_path, genes=model.genes)
        a = prep.adata
        missing = [c for s in ("train", "val", "test") for c in cfg["split"][s][:1] if c not in a.obs_names]
        if missing:
            raise ScdiffError(f"The data at {src} does not contain the checkpoint's cells (e.g. {missing[0]!r}); "
                              f"pass the dataset the model was trained on with --data.")
        self.train = a[cfg["split"]["train"]].copy()
        self.val = a[cfg["split"]["val"]].copy()
        self.test = a[cfg["split"]["test"]].copy()
        self.note = None
        if self.test.n_obs == 0:  # trained with --split TRAIN,VAL,0: validation cells stand in for the test set
            val_ids, test_ids = _halve(self.val, model.conditions)
            self.test, self.val = self.val[test_ids].copy(), self.val[val_ids].copy()
            self.note = _NO_TEST_NOTE
        self.label_key = model.conditions[0] if model.conditions else None
        self.phase_key = "phase" if "phase" in model.conditions else None
        self._ref: ReferenceSpace | None = None

    @property
    def reference(self) -> ReferenceSpace:
        """The reference space of the training cells for :attr:`label_key` (built once)."""
        if self._ref is None:
            self._ref = ReferenceSpace(self.train, self.label_key)
        return self._ref

    def evaluate(self, generated: ad.AnnData, *, label_key: str | None = None, per_label: bool = True,
                 seed: int = 0, replicates: bool = False, progress: ProgressFn | None = None) -> EvaluationReport:
        """Compare ``generated`` with the test cells, with the validation cells as control row.

        Generated cells with label ``'any'`` are left out; phase fidelity is computed when the
        model is conditioned on ``phase`` and some cells were generated for a specific phase.
        ``progress(rows done, rows in all)`` is called after each row of the report.
        ``replicates``: also the control cells' technical replicates (:mod:`.replicates`).
        """
        key = label_key or self.label_key
        if key is not None and key not in generated.obs:
            raise ScdiffError(f"The generated cells have no {key!r} column in obs; generate with that condition "
                              f"or pass --label-key.")
        phase = self.phase_key if (self.phase_key and self.phase_key in generated.obs
                                   and (generated.obs[self.phase_key].astype(str) != "any").any()) else None
        gen = generated
        if key is not None:
            gen = generated[generated.obs[key].astype(str) != "any"].copy()
            if gen.n_obs == 0:
                raise ScdiffError(f"None of the generated cells has a {key!r} value (all 'any'); label-based "
                                  f"metrics need cells generated for specific {key} values.")
        report = evaluate(gen, train=self.train, test=self.test, control=self.val, label_key=key, phase_key=phase,
                          seed=seed, reference=self.reference if key == self.label_key else None,
                          per_label=per_label, replicates=replicates, progress=progress)
        if self.note:
            report.notes.insert(0, self.note)
        return report

    def test_counts(self, key: str | None = None) -> dict[str, int]:
        """Test cells per value of ``key`` (default: :attr:`label_key`), values with cells only."""
        key = key or self.label_key
        vc = self.test.obs[key].astype(str).value_counts()
        return {k: int(v) for k, v in vc.items() if v > 0}


def _source(pre: dict, data: str | None) -> str:
    """The data to read: ``data`` if given, else the recorded path (or data-set name if it is gone)."""
    recorded = pre.get("source") or {}
    src = data or recorded.get("path") or recorded.get("source")
    if src is None:
        raise ScdiffError("The checkpoint does not record where its data came from; pass --data PATH.")
    if data is None and src and not Path(str(src)).exists() and src not in ("pbmc68k", "paul15"):
        src = recorded.get("source")
    return src


def _halve(adata: ad.AnnData, conditions) -> tuple[list[str], list[str]]:
    """Split cells in two halves stratified by their condition combination (fixed seed)."""
    strata = adata.obs[list(conditions)].astype(str).agg("|".join, axis=1).to_numpy() if conditions else None
    s = split_cells(adata.obs_names, strata, fractions=(0.5, 0.5, 0.0), seed=0)
    return s["train"], s["val"]
