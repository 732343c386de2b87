"""Tests for scdiff_core.data.from_source: load_prepared, from a file to prepared data."""

from __future__ import annotations

import json

import pytest

from scdiff_core import data as D
from scdiff_core.errors import DataError


@pytest.fixture(scope="module")
def syn_path(syn, tmp_path_factory):
    p = tmp_path_factory.mktemp("data") / "syn.h5ad"
    syn.write_h5ad(p)
    return p


def test_load_prepared_records_and_restricts_genes(syn_path):
    p = D.load_prepared(str(syn_path), ["cell_type"])
    assert p.kind == "counts" and p.adata.shape == (300, 60)
    assert p.preprocessing["layer"] is None and p.preprocessing["use_raw"] is False
    assert p.preprocessing["source"]["path"] == str(syn_path.resolve())
    json.dumps(p.preprocessing)
    q = D.load_prepared(str(syn_path), ["cell_type"], genes=["g30", "Mcm5", "g12"])
    assert q.genes == ["g30", "Mcm5", "g12"] and list(q.adata.var_names) == q.genes
    assert q.adata.n_obs + q.preprocessing.get("n_cells_dropped_empty_selected", 0) == 300
    assert (q.adata.layers["counts"].sum(1) > 0).all()


def test_load_prepared_missing_genes(syn_path):
    with pytest.raises(DataError, match="2 of the model's 3 genes are not in the prepared data "
                                        "\\(e.g. 'nope', 'gone'\\)"):
        D.load_prepared(str(syn_path), ["cell_type"], genes=["g12", "nope", "gone"])
