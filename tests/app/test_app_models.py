"""The Models page (model cards, training from an upload) and the training runs' progress parser."""
from __future__ import annotations

import json
import time

from apptest_helpers import by_label, n_charts, new_app, ok, texts


def test_models_page_cards(env):
    at = new_app()
    at.switch_page("pages/models.py").run()
    ok(at)
    assert at.title[0].value == "Models"
    assert at.dataframe[0].value["model"].tolist() == ["tiny"]
    assert {"Dataset", "Genes", "Backbone"} <= {m.label for m in at.metric}
    assert n_charts(at) >= 3  # counts per condition column + training curves
    md = texts(at.markdown) + texts(at.caption)
    assert "Training curves" in md and "None yet" in md


def test_models_page_training_bad_upload(env):
    at = new_app()
    at.switch_page("pages/models.py").run()
    at.file_uploader[0].set_value(("table.h5ad", b"gene,cell\n1,2\n", "text/csv")).run()
    assert not at.exception
    assert "not an .h5ad file" in texts(at.error)


def test_models_page_trains_a_new_model(env, monkeypatch):
    """The whole loop: upload, start a background `scdiff train`, progress, the model appears in the picker."""
    monkeypatch.setenv("SCDIFF_APP_TRAIN_ARGS", "--ae-epochs 3 --diffusion-iters 60 --classifier-iters 20 "
                                                "--latent-dim 4 --config '{\"backbone_hparams\":{\"widths\":[32,32]},"
                                                "\"ae_hidden\":[32],\"classifier_hidden\":[32],\"save_every\":50}'")
    at = new_app()
    at.switch_page("pages/models.py").run()
    at.file_uploader[0].set_value(("mydata.h5ad", env["data"].read_bytes(), "application/octet-stream")).run()
    ok(at)
    assert "300 cells × 60 genes" in texts(at.success)
    by_label(at.multiselect, "Condition columns").set_value(["cell_type"])
    by_label(at.text_input, "Model name").set_value("newmodel")
    at.run()
    at.button(key="tr_go").click().run()
    ok(at)
    assert "started" in texts(at.success)
    deadline = time.time() + 300
    from scdiff_app.jobs import list_jobs

    while time.time() < deadline:
        jobs = list_jobs()
        if jobs and jobs[0]["status"] != "running":
            break
        time.sleep(2)
    assert jobs[0]["status"] == "done", jobs[0]
    at.run()
    ok(at)
    assert "Model ready" in texts(at.success)
    options = by_label(new_app().sidebar.selectbox, "Model").options  # a fresh session's picker
    assert any(o.startswith("newmodel") for o in options)
    cfg = json.loads((env["user"] / "newmodel" / "config.json").read_text())
    assert cfg["conditions"] == ["cell_type"]


def test_training_progress_parser():
    from scdiff_app.jobs import parse_progress

    log = ("data: 300 cells\nautoencoder: 100%|####| 9/9 [00:01<00:00]\rdiffusion:  40%|##  | 40/100 [00:01<00:02, "
           "loss=0.5]\rdiffusion:  50%|##  | 50/100 [00:01<00:02]\r")
    p = parse_progress(log)
    assert p["current"] == "diffusion" and p["stages"]["diffusion"] == (50, 100) and p["error"] is None
    assert parse_progress("error: The column 'x' is missing.\n")["error"] == "The column 'x' is missing."


def test_overall_progress_counts_the_calibration_as_the_last_stage():
    from scdiff_app.jobs import overall_progress

    job = {"conditions": ["cell_type", "phase"], "current": None, "stages": {}}
    assert overall_progress(job) == (0.0, "preparing the data…")
    job.update(current="diffusion", stages={"autoencoder": (9, 9), "diffusion": (50, 100)})
    assert overall_progress(job) == (1.5 / 6, "stage 2/6: diffusion 50/100")
    # the calibration comes after the reference map: nearly done, not back at stage 1
    job.update(current="calibration", stages={**job["stages"], "reference": (1, 1), "calibration": (36, 72)})
    frac, text = overall_progress(job)
    assert frac == 5.5 / 6 and text == "stage 6/6: calibration 36/72"


def test_phase_not_offered_when_it_cannot_be_scored(env):
    """Genes renamed so that no S/G2M marker is left: 'phase' is not offered (with the reason, no CLI flag)."""
    import anndata as ad

    a = ad.read_h5ad(env["data"])
    del a.obs["phase"]
    a.var_names = [f"gene{i}" for i in range(a.n_vars)]
    at = new_app()
    at.switch_page("pages/models.py").run()
    from apptest_helpers import h5ad_bytes

    at.file_uploader[0].set_value(("nophase.h5ad", h5ad_bytes(a), "application/octet-stream")).run()
    ok(at)
    assert "phase" not in by_label(at.multiselect, "Condition columns").options
    assert "only 0 S-phase" in texts(at.caption)
    msg = [c.value for c in at.caption if "*phase* is not offered" in c.value]
    assert msg and "S-phase" in msg[0] and "--" not in msg[0]


def test_plain_error_names_no_cli_flag():
    from scdiff_app.uploads import plain_error

    msg = plain_error("Use a matrix with more genes (e.g. --use-raw), or choose another matrix with --layer / "
                      "--use-raw; --layer counts; --use-raw (use_raw=True) if adata.raw holds it")
    assert "--" not in msg and "the .raw matrix" in msg and "the 'counts' layer" in msg


class _Upload:
    """What Streamlit's file uploader hands a page: a name, a size and the bytes."""

    def __init__(self, name: str, data: bytes):
        self.name, self._data, self.size = name, data, len(data)

    def getvalue(self) -> bytes:
        return self._data


def test_uploads_are_kept_once_and_can_be_deleted(env):
    import pytest

    from scdiff_app.uploads import delete_upload, save_training_upload, stored_uploads
    from scdiff_core.errors import DataError

    data = env["data"].read_bytes()
    a = save_training_upload(_Upload("mydata.h5ad", data))
    b = save_training_upload(_Upload("mydata.h5ad", data))  # the same file again: no second copy
    assert a["path"] == b["path"] and len(stored_uploads()) == 1
    c = save_training_upload(_Upload("other.h5ad", data + b""))  # same bytes under another name: still one
    assert c["path"] == a["path"]
    with pytest.raises(DataError, match="being read"):
        delete_upload(a["path"], {a["path"]})
    delete_upload(a["path"], set())
    assert stored_uploads() == [] and not list((env["user"] / ".uploads").iterdir())


def test_removing_an_unfinished_run_deletes_its_half_trained_state(env):
    from scdiff_app.jobs import _write_job, list_jobs, remove_job
    from scdiff_app.settings import jobs_dir

    jobs_dir().mkdir(parents=True)
    half = env["user"] / "halfdone"
    (half / ".train_state").mkdir(parents=True)
    (half / ".train_state" / "state.safetensors").write_bytes(b"\0" * 5000)
    done = env["user"] / "finished"
    done.mkdir()
    (done / "config.json").write_text("{}")
    for name, out in (("halfdone", half), ("finished", done)):
        _write_job({"name": name, "pid": 2 ** 22 + 7, "out": str(out), "log": "", "data": "x", "conditions": ["c"],
                    "command": "", "started": time.time(), "returncode": 1, "cancelled": name == "halfdone"})
    assert {j["name"]: j["status"] for j in list_jobs()}["halfdone"] == "cancelled"
    assert remove_job("halfdone")["freed_bytes"] >= 5000 and not half.exists()
    remove_job("finished")
    assert (done / "config.json").exists()  # a finished model is never deleted from here
    assert list_jobs() == []
