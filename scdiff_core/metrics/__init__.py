"""How generated cells are compared with held-out real cells.

PCA (50 components), kernel bandwidth and label predictor are fitted on training cells only;
generated cells and held-out real control cells are each compared with the test cells, at equal n.
Metrics: MMD², energy distance, random-forest AUROC, per-gene means and zeros, label and phase fidelity.

The protocol in full, with every definition: ``docs/evaluation.md``. One idea per module:
:mod:`.distances` (the metrics), :mod:`.reference` (the space), :mod:`.labels` (the label
predictor), :mod:`.phases` (cell-cycle scoring), :mod:`.protocol` (:func:`evaluate`),
:mod:`.report` (:class:`EvaluationReport`), :mod:`.heldout` (a checkpoint's real cells),
:mod:`.baselines` (the Gaussian baseline), :mod:`.inputs` (checks of the cells passed in),
:mod:`.replicates` (real cells' technical replicates: the fidelity a model of new cells can reach).
"""
from .baselines import gaussian_baseline
from .distances import RF_PARAMS, SIGMA2_FACTORS, energy_distance, gene_metrics, mmd2_unbiased, rf_auroc
from .heldout import HeldOut
from .labels import LabelPredictor
from .phases import score_phases
from .protocol import evaluate
from .reference import ReferenceSpace
from .replicates import technical_replicates
from .report import TABLE_COLUMNS, EvaluationReport

__all__ = [
    "EvaluationReport",
    "ReferenceSpace",
    "LabelPredictor",
    "HeldOut",
    "mmd2_unbiased",
    "energy_distance",
    "rf_auroc",
    "gene_metrics",
    "evaluate",
    "score_phases",
    "gaussian_baseline",
    "technical_replicates",
    "SIGMA2_FACTORS",
    "RF_PARAMS",
    "TABLE_COLUMNS",
]
