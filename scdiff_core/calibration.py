"""Guidance defaults calibrated on validation cells, one strength per condition column.

A guidance strength that is too weak gives cells that do not look like the value asked for; one
that is too strong gives cells that look like it *more* than real cells do (a caricature, and
less diverse). The right default is the one whose fidelity matches real cells': for each
guidance mode and column, cells are generated for the validation cells' own condition
combinations (every column guided, as a user asks for "3Ery in G2M"), with the column's strength
on a grid and the other columns at their current value; the strength at which the fidelity
crosses the validation cells' own is kept, interpolated between the two grid strengths around it
(:func:`crossing`; when the weakest and the strongest strength do not bracket it, the closer of those
two, without trying the strengths between). Columns are calibrated one
after the other (coordinate-wise), first column first.

Fidelity is measured as the evaluation measures it (docs/evaluation.md): cell-cycle scoring
pooled with the training cells for ``phase`` when enough marker genes are present, otherwise the
project's one label predictor (:meth:`SCDiffModel.predict_labels`). Only training and validation
cells are used; test cells play no part.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
from anndata import AnnData

from .common import ANY, ProgressFn

#: Strengths tried for each column.
GRID = (0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0)
#: At most this many generated cells per trial (validation combinations subsampled proportionally).
MAX_CELLS = 600
PHASE_COLUMN = "phase"


def _groups(val_obs, conditions: Sequence[str], n_max: int) -> list[tuple[dict, int]]:
    """The validation cells' condition combinations with their counts, scaled to at most ``n_max`` cells."""
    combos = val_obs[list(conditions)].astype(str).value_counts()
    scale = min(1.0, n_max / max(1, int(combos.sum())))
    groups = [(dict(zip(conditions, c)), max(1, int(round(n * scale)))) for c, n in combos.items()]
    return [(req, n) for req, n in groups if n > 0]


class _Fidelity:
    """Share of cells whose predicted value (label predictor, or phase scoring) is the requested one."""

    def __init__(self, model, train: AnnData):
        from .metrics.phases import usable_phase_genes

        self.model = model
        self.train = train
        genes, _ = usable_phase_genes(train.var_names) if PHASE_COLUMN in model.conditions else (None, None)
        self.phase_genes = genes

    def predicted(self, cells: AnnData, column: str, seed: int) -> np.ndarray:
        if column == PHASE_COLUMN and self.phase_genes is not None:
            from .metrics.phases import score_with_train

            return score_with_train(cells, self.train, self.phase_genes, seed)
        return self.model.predict_labels(np.asarray(cells.X))[f"predicted_{column}"].to_numpy().astype(str)

    def __call__(self, cells: AnnData, requested: np.ndarray, column: str, seed: int = 0) -> float:
        from .metrics.phases import norm_phase

        pred = self.predicted(cells, column, seed)
        req = np.asarray(requested).astype(str)
        if column == PHASE_COLUMN and self.phase_genes is not None:
            req = norm_phase(req)
        keep = req != ANY
        return float((pred[keep] == req[keep]).mean()) if keep.any() else float("nan")


def calibrate_guidance(model, train: AnnData, val: AnnData, *, modes: Sequence[str] = ("free", "chained", "classifier"),
                       grid: Sequence[float] = GRID, n_max: int = MAX_CELLS, steps: int = 50, seed: int = 0,
                       progress: ProgressFn | None = None, stop_early: bool = True) -> dict:
    """Per-column default strengths whose fidelity matches the validation cells' (module docstring).

    Parameters
    ----------
    model
        A trained :class:`~scdiff_core.model.SCDiffModel`.
    train, val
        Training and validation cells: log-normalized ``X`` over ``model.genes`` (normalized as
        the model's data), condition columns in ``obs``.
    modes
        Guidance modes to calibrate (those the model supports).
    grid
        Strengths tried per column, weakest first.
    stop_early
        Try the weakest and the strongest strength first. If their fidelities do not bracket the
        validation cells' (the model never reaches it, or passes it even at the weakest), keep the
        closer of the two (what the whole grid gives when fidelity rises with strength) and try no
        other (``ends_only`` in the report). Otherwise scan weakest first and stop at the first pair
        of strengths whose fidelities bracket the validation cells' (the pair :func:`crossing` would
        pick from the whole grid, so the chosen strength is the same); the report holds the strengths
        tried. A gene-space transformer on paul15 spent about 2.4 minutes per strength on 2 cores and
        never reached the validation fidelity: the whole grid took 60 minutes, the ends take 10.

    Returns
    -------
    dict
        ``{mode: {column: strength}}`` plus ``'report'``: per mode and column, the validation
        cells' fidelity (``control``) and the generated cells' fidelity at each strength.
    """
    fid = _Fidelity(model, train)
    groups = _groups(val.obs, model.conditions, n_max)
    requested = {c: np.concatenate([[req[c]] * n for req, n in groups]) for c in model.conditions}
    control = {c: fid(val, val.obs[c].astype(str).to_numpy(), c, seed) for c in model.conditions}
    from .guidance import GUIDANCE

    modes = [m for m in modes if m in GUIDANCE and (m != "classifier" or model.classifiers)]
    if len(model.conditions) == 1:  # with one column the chained composition is the classifier-free one
        modes = [m for m in modes if m != "chained"]
    out: dict = {"report": {}}
    total, done = len(modes) * len(model.conditions) * len(grid), 0
    for mode in modes:
        chosen = dict(model._scales(None, mode))
        out["report"][mode] = {}
        for col in model.conditions:
            trials: dict[float, float] = {}

            def trial(s: float) -> float:
                nonlocal done
                cells = model.generate(groups, guidance=mode, scales={**chosen, col: s}, steps=steps, seed=seed)
                trials[s] = fid(cells, requested[col], col, seed)
                done += 1
                if progress is not None:
                    progress(done, total)
                return trials[s]

            order = sorted(float(g) for g in grid)
            ends_only = False
            if stop_early and len(order) > 2:  # the ends first: no crossing between them, no scan
                trial(order[0])
                trial(order[-1])
                ends_only = not _brackets(trials[order[0]], trials[order[-1]], control[col])
            if not ends_only:
                for prev_s, s in zip([None] + order[:-1], order):
                    f = trials[s] if s in trials else trial(s)
                    if stop_early and prev_s is not None and _brackets(trials[prev_s], f, control[col]):
                        break
            skipped = len(grid) - len(trials)
            if skipped:  # the strengths not tried count as done, so the progress bar ends full
                done += skipped
                if progress is not None:
                    progress(done, total)
            chosen[col] = crossing(trials, control[col])
            out["report"][mode][col] = {"control": control[col], "fidelity": dict(sorted(trials.items())),
                                        "chosen": chosen[col], "ends_only": ends_only}
        out[mode] = {c: float(chosen[c]) for c in model.conditions}
    return out


def _brackets(fa: float, fb: float, target: float) -> bool:
    """Whether fidelities ``fa`` then ``fb`` (at two neighbouring strengths) cross ``target``."""
    return fa == fa and fb == fb and (fa - target) * (fb - target) <= 0 and fa != fb


def crossing(trials: Mapping[float, float], target: float) -> float:
    """The strength at which fidelity reaches ``target``: linear between the two grid strengths that
    bracket it (the first such pair, weakest first), else the grid strength closest to it (ties: the
    weaker). The grid is coarse (0.25 apart at its finest), and on paul15 the closest grid point was
    0.04-0.07 off the control's fidelity, either side; the crossing lands within noise of it."""
    s = sorted(trials)
    for a, b in zip(s, s[1:]):
        fa, fb = trials[a], trials[b]
        if _brackets(fa, fb, target):
            return float(round(a + (target - fa) / (fb - fa) * (b - a), 3))
    return float(min(trials, key=lambda x: (abs(trials[x] - target) if trials[x] == trials[x] else np.inf, x)))


def calibrated_defaults(config: Mapping) -> dict[str, dict[str, float]]:
    """``{mode: {column: strength}}`` stored in a checkpoint's config (empty if never calibrated)."""
    cal = (config.get("guidance_defaults") or {}).get("calibrated") or {}
    out = {m: dict(v) for m, v in cal.items() if m != "report" and isinstance(v, Mapping)}
    if "chained" not in out and "free" in out and len(config.get("conditions") or []) == 1:
        out["chained"] = dict(out["free"])  # one column: the same composition
    return out


#: Guidance for a combination never seen in training (``generate(guidance="auto")``): the chained
#: composition, the first condition column (the cell type) at ``first`` and every later column at
#: ``others``. Chosen on validation: a paul15 model trained without any 10GMP × G2M or 14Mo × S cell
#: (benchmarks/unseen.py --select, docs/benchmarks.md): of 23 settings it was the only one whose cells
#: reached 90 % of the real cells' cluster fidelity and 88 % of their phase fidelity on both held-out
#: combinations. The strengths calibrated on seen combinations (phase 5–6) pull an unseen combination's
#: cells off their cell type (7–30 % of the cluster).
UNSEEN = {"guidance": "chained", "first": 1.5, "others": 4.0,
          "chosen_on": "paul15 with 10GMP x G2M and 14Mo x S held out of training, benchmarks/unseen.py --select"}


def unseen_setting(config: Mapping) -> tuple[str, dict[str, float], str]:
    """(guidance, {column: strength}, where it comes from) for combinations never seen in training:
    the checkpoint's own ``guidance_defaults['unseen']`` when it has one, else :data:`UNSEEN`."""
    cols = list(config.get("conditions") or [])
    own = (config.get("guidance_defaults") or {}).get("unseen")
    if isinstance(own, Mapping) and isinstance(own.get("scales"), Mapping) and set(own["scales"]) == set(cols):
        return str(own["guidance"]), {c: float(own["scales"][c]) for c in cols}, str(own.get("chosen_on", ""))
    scales = {c: float(UNSEEN["first"] if i == 0 else UNSEEN["others"]) for i, c in enumerate(cols)}
    return str(UNSEEN["guidance"]), scales, UNSEEN["chosen_on"]
