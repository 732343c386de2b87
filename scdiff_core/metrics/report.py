"""The result of an evaluation: one table row per comparison, the settings, and notes."""
from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from ..common import ANY, to_jsonable
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
        One row per comparison, columns :data:`TABLE_COLUMNS`: ``set`` (``'generated'``, ``'replicates'`` or
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


def asked_values(adata, column: str) -> list[str]:
    """The values of ``column`` a generated set's cells were asked for (``any`` left out), sorted."""
    if column is None or column not in adata.obs:
        return []
    v = adata.obs[column].astype(str)
    return sorted(set(v[v != ANY]))


def headline_scope(generated, table: pd.DataFrame, label_key: str | None, conditions) -> tuple[str, str | None]:
    """(the scope of the report's headline row, the phase asked for or None).

    The headline is the row of what was asked for: a set generated for one ``label_key`` value gets
    that value's row when the report has it, else ``'all'``. The phase is named when the model is
    conditioned on ``phase``, the set asked for phases and the report holds phase fidelity. The app's
    headline cards and ``scdiff evaluate``'s headline line both read it.
    """
    labels = asked_values(generated, label_key) if label_key else []
    scopes = set(table["scope"].astype(str))
    scope = labels[0] if len(labels) == 1 and labels[0] in scopes else "all"
    phase = None
    if "phase" in conditions and "phase_fidelity" in table and pd.to_numeric(
            table["phase_fidelity"], errors="coerce").notna().any():
        ph = asked_values(generated, "phase")
        phase = ph[0] if len(ph) == 1 else ("phases asked for" if ph else None)
    return scope, phase


def headline_rows(report: "EvaluationReport", generated, label_key: str | None, conditions):
    """(scope, phase, the generated row, its control row or None) of :func:`headline_scope`, as Series."""
    t = report.table
    scope, phase = headline_scope(generated, t, label_key, conditions)
    g = t[(t["set"] == "generated") & (t["scope"] == scope)]
    c = t[(t["set"] == "control") & (t["scope"] == scope)]
    return scope, phase, (g.iloc[0] if len(g) else None), (c.iloc[0] if len(c) else None)
