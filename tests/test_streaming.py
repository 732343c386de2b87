"""Streamed generation: blocks of cells with their own random streams, so chunks, a file written in
chunks and the in-memory result hold the same cells; a killed stream leaves no file under its name."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import anndata as ad
import numpy as np
import pytest
import torch

from scdiff_core.errors import ScdiffError
from scdiff_core.h5stream import write_h5ad_streamed
from scdiff_core.model import MAX_CELLS
from scdiff_core.streaming import RNG_BLOCK, block_generators, plan_request

ROOT = Path(__file__).resolve().parents[1]
# more than one RNG block, groups that straddle block and chunk boundaries, a free column
GROUPS = [({"cell_type": "A"}, 3000), ({"cell_type": "B", "phase": "S"}, 1500), ({}, 200)]


@pytest.fixture(scope="module")
def in_memory(tiny_model):
    return tiny_model.generate(GROUPS, steps=5, seed=7)


def test_small_requests_keep_one_stream(tiny_model):
    """Block 0 uses the generators generate() always used, so outputs of <= 4,096 cells are unchanged."""
    a = tiny_model.generate({"cell_type": "C"}, 50, steps=5, seed=11)
    g = torch.Generator().manual_seed(11)
    x = torch.randn(50, tiny_model.config["space_dim"], generator=g)
    targets = [tiny_model._one_hot("cell_type", ["C"] * 50), None]
    v = tiny_model._denoise(x, targets, [1.0, 1.0], "free", "ddim", 5, 0.0, None, g, None)
    cells = tiny_model.from_space(v, np.random.default_rng(11))
    assert np.array_equal(a.X, cells.X) and np.array_equal(a.layers["counts"], cells.counts)


def test_block_streams_differ_and_repeat():
    g1, r1 = block_generators(3, 1)
    g1b, r1b = block_generators(3, 1)
    g2, _ = block_generators(3, 2)
    assert torch.equal(torch.randn(5, generator=g1), torch.randn(5, generator=g1b))
    assert r1.random() == r1b.random()
    assert not torch.equal(torch.randn(5, generator=block_generators(3, 1)[0]), torch.randn(5, generator=g2))


def test_chunks_equal_in_memory(tiny_model, in_memory):
    assert in_memory.n_obs > RNG_BLOCK
    chunks = list(tiny_model.generate_chunks(GROUPS, chunk_size=999, steps=5, seed=7))
    assert [c.n_obs for c in chunks] == [999] * 4 + [4700 - 4 * 999]
    assert np.array_equal(np.vstack([c.X for c in chunks]), in_memory.X)
    assert np.array_equal(np.vstack([c.layers["counts"] for c in chunks]), in_memory.layers["counts"])
    both = ad.concat(chunks)
    assert both.obs_names.equals(in_memory.obs_names)
    assert both.obs["cell_type"].dtype == in_memory.obs["cell_type"].dtype  # the request's categories
    assert (both.obs == in_memory.obs).all().all()


@pytest.mark.parametrize("dense_x", [False, True])
def test_streamed_file_equals_in_memory(tiny_model, in_memory, tmp_path, dense_x):
    req = plan_request(tiny_model, GROUPS, None, steps=5, seed=7, max_cells=10**9)
    out = tmp_path / "cells.h5ad"
    seen = []
    res = write_h5ad_streamed(tiny_model, req, out, chunk_size=1000, dense_x=dense_x,
                              progress=lambda done, total: seen.append((done, total)))
    assert res["n_cells"] == 4700 and seen[-1] == (4700, 4700) and len(seen) == 5
    f = ad.read_h5ad(out)
    assert f.layers["counts"].format == "csr"
    X = f.X if dense_x else f.X.toarray()
    assert isinstance(f.X, np.ndarray) == dense_x
    assert np.array_equal(X, in_memory.X)
    assert np.array_equal(f.layers["counts"].toarray(), in_memory.layers["counts"])
    assert f.obs.equals(in_memory.obs) and f.var_names.equals(in_memory.var_names)
    assert np.allclose(f.obsm["X_umap_ref"], in_memory.obsm["X_umap_ref"], atol=1e-4)
    assert f.uns["scdiff"]["streamed"] and f.uns["scdiff"]["seed"] == 7
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".partial")]


def test_cap_only_for_in_memory(tiny_model):
    with pytest.raises(ScdiffError, match="generate_chunks"):
        tiny_model.generate({"cell_type": "A"}, MAX_CELLS + 1)
    it = tiny_model.generate_chunks({"cell_type": "A"}, MAX_CELLS + 1, chunk_size=10, steps=2)
    assert next(it).n_obs == 10  # lazily: only the first block is computed
    with pytest.raises(ScdiffError, match="chunk_size"):
        tiny_model.generate_chunks({"cell_type": "A"}, 10, chunk_size=0)


def _cli(*args):
    return [sys.executable, "-m", "scdiff_core.cli", *args]


def test_cli_stream_writes_readable_file(tiny_model_dir, tmp_path):
    from scdiff_core.cli import main

    out = tmp_path / "s.h5ad"
    assert main(["generate", "--checkpoint", str(tiny_model_dir), "--condition", "cell_type=A", "--cells", "300",
                 "--stream", "--chunk-size", "128", "--steps", "5", "--threads", "1", "--out", str(out)]) == 0
    f = ad.read_h5ad(out)
    assert f.shape == (300, 60) and f.X.format == "csr" and (f.obs["cell_type"] == "A").all()


def test_killed_stream_leaves_no_file(tiny_model_dir, tmp_path):
    out = tmp_path / "big.h5ad"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    p = subprocess.Popen(_cli("generate", "--checkpoint", str(tiny_model_dir), "--cells", "2000000", "--steps", "10",
                              "--chunk-size", "2048", "--threads", "1", "--out", str(out)),
                         cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 120
        partial = []
        while time.time() < deadline and p.poll() is None:
            partial = [q for q in tmp_path.iterdir() if q.name.endswith(".partial") and q.stat().st_size > 50_000]
            if partial:
                break
            time.sleep(0.2)
        assert partial and p.poll() is None, "the stream never started writing"
        time.sleep(1.0)
    finally:
        p.send_signal(signal.SIGKILL)
        p.wait()
    assert not out.exists()
    # the next run to the same target removes the dead run's partial file and writes the target
    from scdiff_core.cli import main

    assert main(["generate", "--checkpoint", str(tiny_model_dir), "--cells", "20", "--stream", "--steps", "2",
                 "--threads", "1", "--out", str(out)]) == 0
    assert ad.read_h5ad(out).n_obs == 20
    assert not [q for q in tmp_path.iterdir() if q.name.endswith(".partial")]
