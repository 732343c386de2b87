"""Tests for scdiff_core.data.genes: choosing the genes to keep."""

from __future__ import annotations

import numpy as np

from scdiff_core import data as D
from scdiff_core.data import genes


def test_add_genes_in_place_reports_new_ones():
    mask = np.array([True, False, False, True])
    added = genes._add_genes(mask, ["a", "b", "c", "d"], ["d", "c", "b"])
    assert added == ["c", "b"]
    assert mask.all()
    assert genes._add_genes(mask, ["a", "b", "c", "d"], []) == []


def test_select_genes_keeps_all_without_computing_lognorm(syn):
    def lognorm():
        raise AssertionError("lognorm is not needed when all genes are kept")

    names = [str(g) for g in syn.var_names]
    mask, sel = genes._select_genes(syn.X, lognorm, names, "counts", ["cell_type", "phase"], 3000, 2000)
    assert mask.all() and sel["method"] == "all" and sel["n_genes"] == 60
    assert list(sel) == ["max_all_genes", "n_top_genes", "fallback_reason", "method", "n_highly_variable",
                         "cell_cycle_genes_included", "n_cell_cycle_genes_present",
                         "cell_cycle_genes_added", "n_genes"]
    assert sel["cell_cycle_genes_included"] is True and sel["n_cell_cycle_genes_present"] == 10
    assert sel["cell_cycle_genes_added"] == []


def test_select_genes_lognorm_records_no_fallback(syn):
    ln = D.lognormalize(syn.X)
    names = [str(g) for g in syn.var_names]
    mask, sel = genes._select_genes(ln, lambda: ln, names, "lognorm", ["cell_type"], 30, 15)
    assert sel["flavor"] == "seurat" and sel["fallback_reason"] is None
    assert int(mask.sum()) == sel["n_genes"] == sel["n_highly_variable"] == 15
    assert sel["cell_cycle_genes_included"] is False and sel["n_cell_cycle_genes_present"] == 0
