"""Corpus: data files handed to ``scdiff train --data`` and ``scdiff evaluate --generated``."""
from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np

from corpus import Case, case, config_of, fifo, generated_like, synthetic_h5ad


def _train(tmp: Path, data: Path, conditions: str = "cell_type") -> list[str]:
    return ["train", "--data", str(data), "--conditions", conditions, "--out", str(tmp / "model"),
            "--ae-epochs", "1", "--diffusion-iters", "1", "--classifier-iters", "1"]


@case("data: gzip bomb past the decompressed cap")
def _(tmp, ckpt):
    p = tmp / "bomb.h5ad.gz"
    with gzip.open(p, "wb", compresslevel=9) as f:
        f.write(b"\x89HDF\r\n\x1a\n" + b"\0" * (3 * 2**20))
    return Case(argv=_train(tmp, p), env={"SCDIFF_MAX_DECOMPRESSED_MB": "1"}, expect="decompressed")


@case("data: a FIFO")
def _(tmp, ckpt):
    return Case(argv=_train(tmp, fifo(tmp / "pipe.h5ad")), expect="FIFO")


@case("data: a symlink to /dev/zero")
def _(tmp, ckpt):
    (tmp / "zero.h5ad").symlink_to("/dev/zero")
    return Case(argv=_train(tmp, tmp / "zero.h5ad"), expect="device")


@case("data: an empty file")
def _(tmp, ckpt):
    (tmp / "empty.h5ad").write_bytes(b"")
    return Case(argv=_train(tmp, tmp / "empty.h5ad"), expect="not an .h5ad")


@case("data: random bytes")
def _(tmp, ckpt):
    (tmp / "noise.h5ad").write_bytes(np.random.default_rng(0).bytes(5000))
    return Case(argv=_train(tmp, tmp / "noise.h5ad"), expect="not an .h5ad")


@case("data: gzip of random bytes")
def _(tmp, ckpt):
    (tmp / "noise.h5ad.gz").write_bytes(gzip.compress(np.random.default_rng(1).bytes(5000)))
    return Case(argv=_train(tmp, tmp / "noise.h5ad.gz"), expect="does not contain")


@case("data: truncated gzip")
def _(tmp, ckpt):
    src = synthetic_h5ad(tmp / "ok.h5ad")
    blob = gzip.compress(src.read_bytes())
    (tmp / "cut.h5ad.gz").write_bytes(blob[: len(blob) // 2])
    return Case(argv=_train(tmp, tmp / "cut.h5ad.gz"), expect="truncated")


@case("data: truncated h5ad")
def _(tmp, ckpt):
    src = synthetic_h5ad(tmp / "ok.h5ad")
    (tmp / "cut.h5ad").write_bytes(src.read_bytes()[:4000])
    return Case(argv=_train(tmp, tmp / "cut.h5ad"), expect="Could not read")


@case("data: no gene names (no /var)")
def _(tmp, ckpt):
    import anndata as ad

    from scdiff_core.data import make_synthetic

    a = make_synthetic(n_cells=60, n_genes=20, n_types=3, seed=0, counts=True)
    b = ad.AnnData(X=a.X, obs=a.obs)  # genes numbered 0..19
    b.write_h5ad(tmp / "novar.h5ad")
    return Case(argv=_train(tmp, tmp / "novar.h5ad"), expect="no gene names")


def _edited(tmp: Path, name: str, edit) -> Path:
    from scdiff_core.data import make_synthetic

    a = make_synthetic(n_cells=60, n_genes=20, n_types=3, seed=0, counts=True)
    X = np.asarray(a.X.toarray() if hasattr(a.X, "toarray") else a.X, dtype=np.float32)
    a.X = edit(X)
    a.write_h5ad(tmp / name)
    return tmp / name


@case("data: NaN values")
def _(tmp, ckpt):
    return Case(argv=_train(tmp, _edited(tmp, "nan.h5ad", lambda X: np.where(X > 3, np.nan, X))), expect="NaN")


@case("data: negative (scaled) values")
def _(tmp, ckpt):
    return Case(argv=_train(tmp, _edited(tmp, "neg.h5ad", lambda X: X - X.mean())), expect="negative")


@case("data: more cells than the cap")
def _(tmp, ckpt):
    return Case(argv=_train(tmp, synthetic_h5ad(tmp / "d.h5ad")), env={"SCDIFF_MAX_CELLS": "50"}, expect="SCDIFF_MAX_CELLS")


@case("data: more genes than the cap")
def _(tmp, ckpt):
    return Case(argv=_train(tmp, synthetic_h5ad(tmp / "d.h5ad")), env={"SCDIFF_MAX_GENES": "10"}, expect="SCDIFF_MAX_GENES")


@case("data: a missing condition column")
def _(tmp, ckpt):
    return Case(argv=_train(tmp, synthetic_h5ad(tmp / "d.h5ad"), "no_such_column"), expect="not found")


def _evaluate(ckpt: Path, g: Path) -> list[str]:
    return ["evaluate", "--checkpoint", str(ckpt), "--generated", str(g)]


@case("evaluate: NaN values")
def _(tmp, ckpt):
    def edit(a):
        a.X[0, 0] = np.nan
    return Case(argv=_evaluate(ckpt, generated_like(tmp / "g.h5ad", ckpt, edit)), expect="NaN")


@case("evaluate: negative values")
def _(tmp, ckpt):
    def edit(a):
        a.X = a.X - 1.0
    return Case(argv=_evaluate(ckpt, generated_like(tmp / "g.h5ad", ckpt, edit)), expect="negative")


@case("evaluate: labels the model does not know")
def _(tmp, ckpt):
    col = config_of(ckpt)["conditions"][0]

    def edit(a):
        a.obs[col] = ["Martian"] * a.n_obs
    return Case(argv=_evaluate(ckpt, generated_like(tmp / "g.h5ad", ckpt, edit)), expect="does not know")


@case("evaluate: genes missing")
def _(tmp, ckpt):
    def edit(a):
        return a[:, a.var_names[1:]].copy()
    return Case(argv=_evaluate(ckpt, generated_like(tmp / "g.h5ad", ckpt, edit)), expect="genes")


@case("evaluate: no cells")
def _(tmp, ckpt):
    def edit(a):
        return a[:0].copy()
    return Case(argv=_evaluate(ckpt, generated_like(tmp / "g.h5ad", ckpt, edit)), expect="no cells")


@case("evaluate: a FIFO as --generated")
def _(tmp, ckpt):
    return Case(argv=_evaluate(ckpt, fifo(tmp / "g.h5ad")), expect="FIFO")


@case("evaluate: a folder as --generated")
def _(tmp, ckpt):
    os.mkdir(tmp / "g.h5ad")
    return Case(argv=_evaluate(ckpt, tmp / "g.h5ad"), expect="folder")
