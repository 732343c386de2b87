"""Corpus: what the app and library callers hand over (uploads, user model folders, API arguments)."""
from __future__ import annotations

import gzip
import json

from corpus import Case, case, config_of, copy_ckpt, synthetic_h5ad


class Upload:
    """What Streamlit's file uploader gives a page: a name, a size and the bytes."""

    def __init__(self, name: str, data: bytes):
        self.name, self._data, self.size = name, data, len(data)

    def getvalue(self) -> bytes:
        return self._data


def _read(name: str, data: bytes, env: dict | None = None, expect: str = ""):
    def call():
        from scdiff_core.uploads import read_h5ad_bytes

        return read_h5ad_bytes(data, name)
    return Case(call=call, env=env or {}, expect=expect)


@case("upload: empty")
def _(tmp, ckpt):
    return _read("cells.h5ad", b"", expect="empty")


@case("upload: random bytes")
def _(tmp, ckpt):
    return _read("cells.h5ad", b"PK\x03\x04 not an h5ad at all" * 20, expect="not an .h5ad")


@case("upload: over the size limit")
def _(tmp, ckpt):
    return _read("cells.h5ad", b"\0" * 4096, env={"SCDIFF_MAX_UPLOAD_MB": "0.001"}, expect="SCDIFF_MAX_UPLOAD_MB")


@case("upload: gzip bomb")
def _(tmp, ckpt):
    blob = gzip.compress(b"\x89HDF\r\n\x1a\n" + b"\0" * (3 * 2**20))
    return _read("cells.h5ad.gz", blob, env={"SCDIFF_MAX_DECOMPRESSED_MB": "1"}, expect="decompressed")


@case("app upload: scaled training data is not kept")
def _(tmp, ckpt):
    import numpy as np

    from scdiff_core.data import make_synthetic

    a = make_synthetic(n_cells=60, n_genes=20, n_types=3, seed=0, counts=True)
    X = np.asarray(a.X.toarray() if hasattr(a.X, "toarray") else a.X, dtype=np.float32)
    a.X = X - X.mean()
    a.write_h5ad(tmp / "scaled.h5ad")
    up = Upload("scaled.h5ad", (tmp / "scaled.h5ad").read_bytes())

    def call():
        from scdiff_app.uploads import save_training_upload

        return save_training_upload(up)
    return Case(call=call, env={"SCDIFF_MODELS": str(tmp / "models")}, expect="negative")


@case("app upload: oversized, refused before reading")
def _(tmp, ckpt):
    up = Upload("big.h5ad", b"\0" * 10)
    up.size = 10**12  # the reported size: the bytes are never read

    def call():
        from scdiff_app.uploads import read_uploaded_h5ad

        return read_uploaded_h5ad(up)
    return Case(call=call, expect="larger than")


def _summary(name: str, text: str):
    def build(tmp, ckpt):
        d = copy_ckpt(ckpt, tmp)
        (d / "config.json").write_text(text)

        def call():
            from scdiff_core.summaries import try_read_config

            return try_read_config(d)
        return Case(call=call, refusal_value=None)
    case(f"app models page: {name}")(build)


_summary("config.json a JSON list", "[1, 2]")
_summary("config.json nested 100000 deep", "[" * 100000 + "]" * 100000)
_summary("config.json with a split that is a number", json.dumps({"split": 5, "genes": []}))
_summary("config.json with broken loss curves", json.dumps({"training": {"diffusion": {"loss_curve": [1, 2]}}}))


def _api(name: str, kwargs: dict, expect: str):
    def build(tmp, ckpt):
        def call():
            from scdiff_core.model import SCDiffModel

            m = SCDiffModel.load(ckpt)
            col = m.conditions[0]
            return m.generate({col: m.vocab[col][0]}, **{"n_cells": 3, "steps": 2, **kwargs})
        return Case(call=call, expect=expect)
    case(f"api generate: {name}")(build)


_api("eta NaN", {"eta": float("nan")}, "eta")
_api("eta 1e9", {"eta": 1e9}, "eta")
_api("seed -1", {"seed": -1}, "seed")
_api("seed 2**70", {"seed": 2**70}, "seed")
_api("n_cells True", {"n_cells": True}, "Number of cells")
_api("steps 2.5", {"steps": 2.5}, "Steps")
_api("scales inf", {"scales": float("inf")}, "scale")


@case("api train: TrainConfig from a JSON list")
def _(tmp, ckpt):
    def call():
        from scdiff_core.train_config import TrainConfig

        return TrainConfig.from_dict([1, 2])
    return Case(call=call, expect="JSON object")


@case("api train: --out holds the user's files")
def _(tmp, ckpt):
    d = tmp / "out"
    d.mkdir()
    (d / "notes.txt").write_text("mine")
    data = synthetic_h5ad(tmp / "d.h5ad")

    def call():
        from scdiff_core.data import load_prepared
        from scdiff_core.training import TrainConfig, train

        prep = load_prepared(str(data), ["cell_type"])
        return train(prep, d, TrainConfig(ae_epochs=1, diffusion_iters=1, classifier_iters=1))
    return Case(call=call, expect="not a scdiff checkpoint")


@case("api save: weight name clashes with a user file")
def _(tmp, ckpt):
    d = copy_ckpt(ckpt, tmp)
    cfg = config_of(d)
    (d / "extra.safetensors").write_text("the user's")

    def call():
        from scdiff_core.checkpoint import save_checkpoint

        return save_checkpoint(d, {k: v for k, v in cfg.items() if k not in ("files", "fingerprint")},
                               {"extra": {"x": __import__("torch").zeros(1)}})
    return Case(call=call, expect="did not write")
