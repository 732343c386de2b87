"""The result of an evaluation: one table row per comparison, the settings, and notes."""
from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from ..common import to_jsonable
from ..errors import ScdiffError

#: Columns of :attr:`EvaluationReport.table`, in order.
TABLE_COLUMNS: list[str] = [
    "set",
    "scope",
    "n",
    "mmd2",
    "energy",
    "rf_auroc",
    "scc_means",
    "zero_frac_gap",
    "zeros_real",
    "zeros_gen",
    "label_fidelity",
    "phase_fidelity",
]
#: The metric columns (floats; NaN where a metric could not be computed).
FLOAT_COLUMNS: list[str] = TABLE_COLUMNS[3:]


def typed_table(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` with :data:`TABLE_COLUMNS` in order and their types: str, str, int, floats."""
    table = table.reindex(columns=TABLE_COLUMNS)
    for c in FLOAT_COLUMNS:
        table[c] = pd.to_numeric(table[c], errors="coerce").astype(float)
    table["n"] = pd.to_numeric(table["n"], errors="coerce").fillna(0).astype(int)
    table["set"] = table["set"].astype(str)
    table["scope"] = table["scope"].astype(str)
    return table


@dataclass
class EvaluationReport:
    """Result of :func:`~scdiff_core.metrics.evaluate`.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per comparison, columns :data:`TABLE_COLUMNS`: ``set`` (``'generated'`` or
        ``'control'``), ``scope`` (``'all'`` or a label value, as a string), ``n`` (cells per
        side used), ``mmd2``, ``energy``, ``rf_auroc``, ``scc_means``, ``zero_frac_gap``,
        ``zeros_real``, ``zeros_gen``, ``label_fidelity``, ``phase_fidelity``. A metric that
        could not be computed is NaN and explained in :attr:`notes`.
    settings : dict
        How the numbers were obtained: ``n_pcs``, ``bandwidth`` (median squared distance),
        ``sigma2`` (the σ² values of the kernel mixture), ``sigma2_factors``, ``kernel``,
        ``seed``, ``label_key``, ``phase_key``, ``min_label_cells``, ``rf`` (random-forest
        parameters), ``energy`` (estimator description).
    notes : list of str
        Human-readable remarks (skipped metrics, missing control set, ...).
    """

    table: pd.DataFrame
    settings: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        """JSON-serialisable form (NaN becomes ``None``); inverse of :meth:`from_dict`."""
        table = self.table.reindex(columns=TABLE_COLUMNS)
        records = [
            {c: to_jsonable(v) for c, v in zip(TABLE_COLUMNS, row)}
            for row in table.itertuples(index=False, name=None)
        ]
        return {
            "columns": list(TABLE_COLUMNS),
            "table": records,
            "settings": to_jsonable(dict(self.settings)),
            "notes": [str(n) for n in self.notes],
        }

    @classmethod
    def from_dict(cls, d: dict) -> "EvaluationReport":
        """Rebuild a report from :meth:`to_dict` output (``None`` becomes NaN)."""
        try:
            columns = list(d.get("columns", TABLE_COLUMNS))
            table = pd.DataFrame(list(d["table"]), columns=columns)
        except (KeyError, TypeError) as exc:
            raise ScdiffError(
                "This is not a saved evaluation report (expected a dict with a 'table' list). "
                "Re-run the evaluation to create it."
            ) from exc
        return cls(table=typed_table(table), settings=dict(d.get("settings", {})), notes=list(d.get("notes", [])))

    def summary(self) -> pd.DataFrame:
        """The global rows only (``scope == 'all'``): generated, and control if evaluated."""
        return self.table[self.table["scope"] == "all"].reset_index(drop=True)
