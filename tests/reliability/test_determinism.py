"""The same seed gives byte-identical cells: across runs, across torch thread counts, and from the CLI."""
from __future__ import annotations

import anndata as ad
import numpy as np
import pytest
import torch

from scdiff_core.cli import main


@pytest.mark.parametrize("guidance,sampler", [("free", "ddim"), ("classifier", "ddpm")])
def test_same_seed_same_bytes_across_runs_and_threads(tiny_model, guidance, sampler):
    old = torch.get_num_threads()
    outs = []
    try:
        for threads in (1, 2, 1, 2):
            torch.set_num_threads(threads)
            a = tiny_model.generate({"cell_type": "B"}, 40, guidance=guidance, sampler=sampler, steps=10, eta=0.5,
                                    seed=7)
            outs.append(a)
    finally:
        torch.set_num_threads(old)
    ref = outs[0]
    for a in outs[1:]:
        assert a.X.tobytes() == ref.X.tobytes()
        assert a.layers["counts"].tobytes() == ref.layers["counts"].tobytes()
        assert np.array_equal(a.obsm["X_umap_ref"], ref.obsm["X_umap_ref"])
    other = tiny_model.generate({"cell_type": "B"}, 40, guidance=guidance, sampler=sampler, steps=10, eta=0.5, seed=8)
    assert other.X.tobytes() != ref.X.tobytes()


def test_cli_same_seed_same_file_contents(tiny_model_dir, tmp_path):
    xs = []
    for i, threads in enumerate(("1", "2")):
        out = tmp_path / f"g{i}.h5ad"
        assert main(["generate", "--checkpoint", str(tiny_model_dir), "--condition", "cell_type=A", "--cells", "30",
                     "--seed", "3", "--steps", "8", "--threads", threads, "--out", str(out)]) == 0
        xs.append(ad.read_h5ad(out).X)
    torch.set_num_threads(1)
    assert xs[0].tobytes() == xs[1].tobytes()
