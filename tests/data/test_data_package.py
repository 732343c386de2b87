"""Tests for the scdiff_core.data package: what it re-exports."""

from __future__ import annotations

import inspect

import scdiff_core.data as D


def test_reexports_public_names():
    # every name imported from scdiff_core.data elsewhere in the repository, and all of __all__
    used = {"G2M_GENES", "KNOWN_DATASETS", "PreparedData", "S_GENES", "cell_cycle_genes", "condition_strata",
            "detect_kind", "load_anndata", "load_prepared", "lognormalize", "make_synthetic", "prepare",
            "score_phase", "select_matrix", "split_cells"}
    assert used <= set(D.__all__)
    for name in D.__all__:
        assert getattr(D, name) is not None, name
    assert inspect.isfunction(D.prepare)  # the function, not a submodule of the same name
    assert D.prepare.__module__ == "scdiff_core.data.preparation"
