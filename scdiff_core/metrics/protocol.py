"""The evaluation protocol: how generated cells are compared with held-out real cells.

Every comparison happens in one :class:`~scdiff_core.metrics.reference.ReferenceSpace` fitted
once on the **training** cells only (PCA, kernel bandwidth, label predictor). For each compared
set (``generated``, and ``control`` — real held-out cells that neither the model nor the PCA
saw, giving the real-vs-real floor of every metric) :func:`evaluate` reports a global row
(``scope='all'``) and one row per label. In each row both sides are subsampled (without
replacement, seeded) to the same number of cells ``n``, and every metric of the row is computed
on exactly those cells:

``mmd2``
    Unbiased MMD² (:func:`~.distances.mmd2_unbiased`) with a mixture of RBF kernels in PCA space.
``energy``
    Energy distance (:func:`~.distances.energy_distance`) in PCA space.
``rf_auroc``
    Classifier two-sample test (:func:`~.distances.rf_auroc`): cross-validated AUROC of a random
    forest telling real from generated in PCA space; 0.5 means indistinguishable.
``scc_means``
    Spearman correlation of the per-gene means (gene space).
``zero_frac_gap``, ``zeros_real``, ``zeros_gen``
    Mean over genes of ``|zero fraction real − zero fraction generated|`` and the overall zero
    fraction of each side (gene space).
``label_fidelity``
    Fraction of the compared cells whose label predicted by the label predictor equals the
    label they carry (requested label for generated cells, true label for control cells).
``phase_fidelity``
    Fraction of the compared cells whose cell-cycle phase, scored pooled with the training
    cells, equals the phase they carry (cells whose phase is missing or ``'any'`` — none
    requested — are left out of this fraction).

With ``replicates=True`` a third set, ``replicates``, is compared too: the control cells with
their counts redrawn (:mod:`.replicates`), whose fidelities are what a generator of new cells can
reach where a label is partly a cell's own count noise.

The protocol in words, for biologists and reviewers: ``docs/evaluation.md``.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from anndata import AnnData

from ..common import ProgressFn
from ..errors import ScdiffError
from .distances import RF_MIN_CELLS, RF_PARAMS, SIGMA2_FACTORS, energy_distance, gene_metrics, mmd2_unbiased
from .inputs import align_genes, check_finite, dense, label_column
from .phases import PhaseGenes, requested_phases, score_with_train, usable_phase_genes
from .reference import ReferenceSpace
from .report import TABLE_COLUMNS, EvaluationReport, typed_table


@dataclass
class _Side:
    """One set of cells ready for comparison: gene matrix, PCA coordinates, labels, phases."""

    name: str
    X: np.ndarray
    Z: np.ndarray
    labels: np.ndarray | None = None
    phases: np.ndarray | None = None
    pred_labels: np.ndarray | None = None
    scored_phases: np.ndarray | None = None


@dataclass
class _Run:
    """What every step of one :func:`evaluate` call shares."""

    reference: ReferenceSpace
    label_key: str | None
    phase_key: str | None
    seed: int
    per_label: bool
    phase_genes: PhaseGenes | None = None
    notes: list[str] = field(default_factory=list)


def evaluate(
    generated: AnnData,
    *,
    train: AnnData,
    test: AnnData,
    control: AnnData | None,
    label_key: str | None,
    phase_key: str | None = None,
    min_label_cells: int = 5,
    seed: int = 0,
    reference: ReferenceSpace | None = None,
    per_label: bool = True,
    replicates: bool = False,
    progress: ProgressFn | None = None,
) -> EvaluationReport:
    """Compare generated cells (and a real control set) with held-out test cells.

    Parameters
    ----------
    generated : AnnData
        Generated cells; ``.X`` log-normalized expression over the training genes (another
        order of the same genes is reordered). When ``label_key``/``phase_key`` are given,
        ``obs`` must carry the *requested* label/phase of each cell under those names.
    train : AnnData
        The model's training cells: the PCA, the kernel bandwidth and the label predictor
        are fitted on them (unless ``reference`` is given), and phases are scored against them.
    test : AnnData
        Held-out real cells every set is compared with.
    control : AnnData or None
        Other held-out real cells (seen by neither the model nor the PCA): the real-vs-real
        control rows. ``None`` omits them.
    label_key : str or None
        obs column with the cell label (cell type, ...). Enables per-label rows and label
        fidelity.
    phase_key : str or None
        obs column with the cell-cycle phase (``G1``/``S``/``G2M``). Enables phase fidelity.
    min_label_cells : int
        A label gets its own row if it has at least this many test cells and is present in the
        compared set.
    seed : int
        Seed of the reference space, of the equal-size subsampling and of the random forest.
    reference : ReferenceSpace or None
        A reference space already fitted on ``train`` (reused across calls); built if ``None``.
    per_label : bool
        Whether to add per-label rows.
    replicates : bool
        Also compare technical replicates of the control cells (their counts redrawn,
        :func:`~.replicates.technical_replicates`): the ``replicates`` rows, the label and phase
        fidelity a generator of new cells of those states can reach. Needs a control set with
        raw counts; otherwise a note says why the rows are missing.
    progress : callable or None
        ``progress(rows done, rows in all)`` after each table row (a random forest each).

    Returns
    -------
    EvaluationReport
        Rows: ``generated``/``all``, then per-label generated rows, then ``control``/``all``
        and per-label control rows. In each row both sides are subsampled without replacement
        (seeded, the same draw for the generated and the control row) to the smaller size ``n``
        and every metric, label and phase fidelity included, uses exactly those cells.

    Raises
    ------
    ScdiffError
        Genes that do not match the training genes, a missing label/phase column, non-finite
        values, an empty set, or a ``reference`` built for other genes or another label column.
    """
    _check_sets(generated, test)
    run = _start(train, label_key, phase_key, seed, reference, per_label)
    test_side = _prepare(run, "test", test)
    sides = _compared_sides(run, generated, control, replicates)
    row_labels = _row_labels(run, test, test_side, min_label_cells)
    work = [(side, scope, gi, ti) for side in sides for scope, gi, ti in _scopes(side, test_side, row_labels)]
    rows = []
    for side, scope, gi, ti in work:
        rows.append(_compare(run, side, test_side, scope, gi, ti))
        if progress is not None:
            progress(len(rows), len(work))
    if any(row["n"] < RF_MIN_CELLS for row in rows):
        run.notes.append(
            f"rf_auroc is NaN where fewer than {RF_MIN_CELLS} cells per side are available "
            "(too few for 5-fold cross-validation)."
        )
    table = typed_table(pd.DataFrame(rows, columns=TABLE_COLUMNS))
    sets = {"test": test, "generated": generated, "control": control}
    return EvaluationReport(table=table, settings=_settings(run, min_label_cells, sets), notes=run.notes)


# --------------------------------------------------------------------------------------------
# steps
# --------------------------------------------------------------------------------------------


def _check_sets(generated: Any, test: AnnData) -> None:
    if not isinstance(generated, AnnData):
        raise ScdiffError("generated must be an AnnData object with log-normalized expression in .X.")
    if generated.n_obs == 0:
        raise ScdiffError("The generated set has no cells; generate some cells before evaluating.")
    if test.n_obs == 0:
        raise ScdiffError("The test set has no cells; evaluation needs held-out real cells.")


def _start(train: AnnData, label_key: str | None, phase_key: str | None, seed: int,
           reference: ReferenceSpace | None, per_label: bool) -> _Run:
    """The reference space (built, or checked to fit ``train``/``label_key``) and the marker genes."""
    if reference is None:
        reference = ReferenceSpace(train, label_key, seed=seed)
    elif not pd.Index(train.var_names.astype(str)).equals(reference.var_names):
        raise ScdiffError(
            "The reference space was fitted on other genes than this training set; rebuild it "
            "with ReferenceSpace(train, label_key)."
        )
    elif reference.label_key != label_key:
        raise ScdiffError(
            f"The reference space was built for label column {reference.label_key!r}, not "
            f"{label_key!r}; rebuild it with ReferenceSpace(train, {label_key!r})."
        )
    run = _Run(reference, label_key, phase_key, int(seed), bool(per_label), notes=list(reference.notes))
    if phase_key is not None:
        run.phase_genes, why_not = usable_phase_genes(reference.var_names)
        if why_not:
            run.notes.append(why_not)
    return run


def _prepare(run: _Run, name: str, adata: AnnData) -> _Side:
    """Genes aligned, finiteness checked, PCA coordinates, labels (and predicted), phases (and scored).

    The test side carries its labels only when per-label rows are wanted, and no phases.
    """
    is_test = name == "test"
    adata = align_genes(adata, run.reference.var_names, f"{name} cells")
    X = dense(adata.X)
    check_finite(X, name)
    side = _Side(name, X, run.reference.pca.transform(X))
    if run.label_key is not None and not (is_test and not run.per_label):
        side.labels = label_column(adata, run.label_key, name)
        if not is_test:
            side.pred_labels = run.reference.predict_labels(side.Z)
    if run.phase_key is not None and not is_test:
        side.phases = requested_phases(adata, run.phase_key, name)
        if run.phase_genes is not None:
            try:
                side.scored_phases = score_with_train(adata, run.reference.train, run.phase_genes, run.seed)
            except (RuntimeError, ValueError) as exc:  # e.g. no control genes of matching expression
                run.notes.append(f"Phase fidelity of the {name} cells not computed: cell-cycle scoring failed ({exc}).")
    return side


def _compared_sides(run: _Run, generated: AnnData, control: AnnData | None, replicates: bool = False) -> list[_Side]:
    """The generated side, then the control side if a control set is given, then (``replicates``)
    the control cells' technical replicates."""
    sides = [_prepare(run, "generated", generated)]
    if control is None:
        run.notes.append("No control set given: the real-vs-real control rows are omitted"
                         + (", and so are the replicates rows." if replicates else "."))
        return sides
    if control.n_obs == 0:
        raise ScdiffError("The control set has no cells; pass control=None to skip the control rows.")
    sides.append(_prepare(run, "control", control))
    if replicates:
        from .replicates import technical_replicates

        try:
            reps = technical_replicates(control, seed=run.seed)
        except ScdiffError as exc:
            run.notes.append(f"No replicates rows: {exc}")
        else:
            sides.append(_prepare(run, "replicates", reps))
    return sides


def _row_labels(run: _Run, test: AnnData, test_side: _Side, min_label_cells: int) -> list[str]:
    """Labels that get their own rows: at least ``min_label_cells`` test cells (category order)."""
    if not run.per_label or run.label_key is None:
        return []
    counts = pd.Series(test_side.labels).value_counts()
    col = test.obs[run.label_key]
    order = [str(c) for c in col.cat.categories] if hasattr(col, "cat") else sorted(counts.index)
    row_labels = [lab for lab in order if counts.get(lab, 0) >= min_label_cells]
    skipped = sorted(set(counts.index) - set(row_labels))
    if skipped:
        run.notes.append(
            f"No per-label rows for {len(skipped)} label(s) with fewer than {min_label_cells} test "
            f"cells: {', '.join(skipped[:10])}{' ...' if len(skipped) > 10 else ''}."
        )
    return row_labels


def _scopes(side: _Side, test_side: _Side, row_labels: list[str]) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """``(scope, cells of side, test cells)``: all cells, then each row label present in ``side``."""
    scopes = [("all", np.arange(side.X.shape[0]), np.arange(test_side.X.shape[0]))]
    for lab in row_labels:
        gi = np.flatnonzero(side.labels == lab)
        if len(gi):
            scopes.append((lab, gi, np.flatnonzero(test_side.labels == lab)))
    return scopes


def _compare(run: _Run, side: _Side, test_side: _Side, scope: str, gi: np.ndarray, ti: np.ndarray) -> dict[str, Any]:
    """One table row: both sides subsampled to the same ``n`` (seeded), every metric on those cells."""
    n = int(min(len(gi), len(ti)))
    rng = np.random.default_rng(run.seed)
    ti = np.sort(rng.choice(ti, size=n, replace=False))
    gi = np.sort(rng.choice(gi, size=n, replace=False))
    ZR, ZG = test_side.Z[ti], side.Z[gi]
    row: dict[str, Any] = {"set": side.name, "scope": scope, "n": n}
    row["mmd2"] = mmd2_unbiased(ZR, ZG, run.reference.sigma2s)
    row["energy"] = energy_distance(ZR, ZG)
    row["rf_auroc"] = _rf_auroc(ZR, ZG, run.seed)
    row.update(gene_metrics(test_side.X[ti], side.X[gi]))
    row["label_fidelity"] = _label_fidelity(side, gi)
    row["phase_fidelity"] = _phase_fidelity(side, gi)
    return row


def _rf_auroc(ZR: np.ndarray, ZG: np.ndarray, seed: int) -> float:
    """``rf_auroc`` as currently bound on the :mod:`scdiff_core.metrics` package.

    Looked up when called, so that replacing ``scdiff_core.metrics.rf_auroc`` (the tests stub
    the slow forest that way) takes effect here; otherwise it is
    :func:`~scdiff_core.metrics.distances.rf_auroc`.
    """
    return sys.modules[__package__].rf_auroc(ZR, ZG, seed=seed)


def _label_fidelity(side: _Side, gi: np.ndarray) -> float:
    if side.pred_labels is None:
        return float("nan")
    return float(np.mean(side.pred_labels[gi] == side.labels[gi]))


def _phase_fidelity(side: _Side, gi: np.ndarray) -> float:
    """Among cells with a requested phase, the fraction whose scored phase equals it."""
    asked = gi[side.phases[gi] != None] if side.phases is not None else gi  # noqa: E711
    if side.scored_phases is None or not len(asked):
        return float("nan")
    return float(np.mean(side.scored_phases[asked] == side.phases[asked]))


def _settings(run: _Run, min_label_cells: int, sets: dict[str, AnnData | None]) -> dict[str, Any]:
    """How the numbers were obtained (:attr:`EvaluationReport.settings`)."""
    ref = run.reference
    return {
        "n_pcs": ref.n_pcs,
        "bandwidth": ref.bandwidth,
        "sigma2": list(ref.sigma2s),
        "sigma2_factors": list(SIGMA2_FACTORS),
        "kernel": "mean over sigma2 of exp(-||x-y||^2 / (2*sigma2)), sigma2 = factor * median sq. distance (train, PCA)",
        "mmd2": "unbiased U-statistic (diagonal terms left out)",
        "energy": "2*mean||X-Y|| - U-statistic mean||X-X'|| - U-statistic mean||Y-Y'||",
        "seed": run.seed,
        "reference_seed": ref.seed,
        "label_key": run.label_key,
        "phase_key": run.phase_key,
        "min_label_cells": int(min_label_cells),
        "per_label": run.per_label,
        "rf": {**RF_PARAMS, "random_state": run.seed, "scoring": "roc_auc (pooled out-of-fold)"},
        "n_train": int(ref.train.n_obs),
        "n_test": int(sets["test"].n_obs),
        "n_generated": int(sets["generated"].n_obs),
        "n_control": int(sets["control"].n_obs) if sets["control"] is not None else 0,
    }
