"""The Streamlit app driven headless with streamlit.testing.v1.AppTest (every page, bad input).

A tiny model is trained once from a synthetic .h5ad *file* (so the Evaluate page can re-read its
held-out cells), with one condition combination (cell_type C in G2M) left out of the data, so the
Generate page has an unseen combination to mark.
"""
from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

APP = str(Path(__file__).resolve().parents[1] / "app.py")
TINY = dict(ae_epochs=300, diffusion_iters=600, classifier_iters=300, latent_dim=8, ae_hidden=(64,),
            backbone_hparams={"widths": [64, 64, 32]}, classifier_hidden=(64,), save_every=200,
            diffusion_batch=128)


@pytest.fixture(autouse=True)
def _navigation_only(monkeypatch):
    """AppTest re-detects Streamlit's legacy ``pages/`` mode on every run; the served app leaves
    it once per process (pages/_common._navigation_only). Keep AppTest in st.navigation mode."""
    from streamlit.runtime.pages_manager import PagesManager

    init = PagesManager.__init__

    def patched(self, *a, **k):
        init(self, *a, **k)
        PagesManager.uses_pages_directory = False

    monkeypatch.setattr(PagesManager, "__init__", patched)


@pytest.fixture(scope="session")
def app_dirs(tmp_path_factory):
    from scdiff_core.data import load_prepared, make_synthetic
    from scdiff_core.training import TrainConfig, train

    root = tmp_path_factory.mktemp("app")
    a = make_synthetic(n_cells=300, n_genes=60, n_types=3, seed=0)
    ph = a.obs["phase"].astype(str).to_numpy()
    ph[(a.obs["cell_type"].astype(str).to_numpy() == "C") & (ph == "G2M")] = "G1"  # (C, G2M) never seen
    a.obs["phase"] = ph
    data = root / "synthetic.h5ad"
    a.write_h5ad(data)
    prep = load_prepared(str(data), ["cell_type", "phase"])
    ckpts = root / "checkpoints"
    train(prep, ckpts / "tiny", TrainConfig(**TINY), command="pytest app model")
    return {"root": root, "checkpoints": ckpts, "data": data, "ckpt": ckpts / "tiny"}


@pytest.fixture
def env(app_dirs, monkeypatch, tmp_path):
    user = tmp_path / "models"
    user.mkdir()
    monkeypatch.setenv("SCDIFF_CHECKPOINTS", str(app_dirs["checkpoints"]))
    monkeypatch.setenv("SCDIFF_MODELS", str(user))
    monkeypatch.setenv("SCDIFF_APP_WARM_UMAP", "0")
    return {**app_dirs, "user": user}


def new_app():
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    return at


def by_label(widgets, label):
    found = [w for w in widgets if w.label == label]
    assert found, f"no widget labelled {label!r}: {[w.label for w in widgets]}"
    return found[0]


def ok(at):
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def texts(elements) -> str:
    return " ".join(str(e.value) for e in elements)


def n_charts(at) -> int:
    return len(at.get("plotly_chart"))


def generate(at, cell_type="A", phase="any", n=120, guidance=None):
    by_label(at.selectbox, "cell_type").set_value(cell_type)
    by_label(at.selectbox, "phase").set_value(phase)
    if guidance:
        by_label(at.radio, "Guidance").set_value(guidance)
    by_label(at.number_input, "Cells").set_value(n)
    by_label(at.number_input, "Steps").set_value(20)
    at.run()
    at.button(key="gen_go").click()
    at.run()
    return at


# ---------------------------------------------------------------------------------- Generate
def test_generate_page(env):
    at = new_app()
    ok(at)
    assert at.title[0].value == "Generate cells"
    pick = by_label(at.sidebar.selectbox, "Model")
    assert pick.value.startswith("tiny")
    assert "synthetic" in texts(at.sidebar.caption)
    assert n_charts(at) == 1  # the reference map is drawn before any click
    assert [s.label for s in at.selectbox][:2] == ["cell_type", "phase"]
    assert {"Cells", "Seed", "Steps"} <= {w.label for w in at.number_input}
    assert {s.label for s in at.slider} >= {"cell_type", "phase", "DDIM η"}  # a strength per column

    generate(at, "A", "S", n=150)
    ok(at)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Cells made"] == "150" and metrics["Combination"] == "seen"
    assert n_charts(at) >= 2  # UMAP + expression
    recs = list(at.session_state["results"].values())
    assert len(recs) == 1
    a = recs[0]["adata"]
    assert a.n_obs == 150 and a.obsm["X_umap_ref"].shape == (150, 2)
    assert {"predicted_cell_type", "predicted_phase"} <= set(a.obs.columns)
    assert len(at.get("download_button")) == 2
    assert "projected" in texts(at.caption)
    assert any("predicted = requested" in str(df.value.columns.tolist()) for df in at.dataframe)

    # a second set, classifier guidance: both kept and overlaid
    generate(at, "B", "any", n=80, guidance="classifier")
    ok(at)
    shown = by_label(at.multiselect, "Generated sets shown")
    assert len(shown.value) == 2 and len(at.session_state["results"]) == 2
    # joint re-embedding view
    by_label(at.radio, "Map").set_value("joint").run()
    ok(at)
    assert "Joint re-embedding" in texts(at.caption)


def test_unseen_combination_marked(env):
    at = new_app()
    by_label(at.selectbox, "cell_type").set_value("C")
    by_label(at.selectbox, "phase").set_value("G2M").run()
    assert "Unseen combination" in texts(at.warning)
    by_label(at.selectbox, "phase").set_value("G1").run()
    assert "Seen combination" in texts(at.success)
    by_label(at.selectbox, "phase").set_value("G2M").run()
    generate(at, "C", "G2M", n=60)
    ok(at)
    assert {m.label: m.value for m in at.metric}["Combination"] == "unseen"


# ---------------------------------------------------------------------------------- Trajectory
def test_trajectory_page(env):
    at = new_app()
    at.switch_page("pages/trajectory.py").run()
    ok(at)
    assert at.title[0].value.startswith("Trajectory")
    assert by_label(at.sidebar.selectbox, "Model").value.startswith("tiny")  # ran through app.py
    assert n_charts(at) == 1
    by_label(at.selectbox, "Start").set_value("A")
    by_label(at.selectbox, "End").set_value("C")
    by_label(at.number_input, "Points (λ values)").set_value(5)
    by_label(at.number_input, "Cells per point").set_value(30)
    by_label(at.slider, "t_start: how far the start cells are noised").set_value(0.5)
    at.run()
    at.button(key="traj_go").click().run()
    ok(at)
    assert {m.label: m.value for m in at.metric}["Cells"] == "150"
    assert n_charts(at) >= 3  # UMAP with the λ slider, gene trends, predicted labels along λ
    rec = list(at.session_state["results"].values())[-1]
    a = rec["adata"]
    assert sorted(set(np.round(a.obs["lambda"], 3))) == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert len(by_label(at.multiselect, "Genes").value) > 0
    assert len(at.get("download_button")) == 2


def test_trajectory_absurd_size_and_same_states(env):
    at = new_app()
    at.switch_page("pages/trajectory.py").run()
    by_label(at.number_input, "Points (λ values)").set_value(50)
    by_label(at.number_input, "Cells per point").set_value(1000)
    at.run()
    at.button(key="traj_go").click().run()
    assert not at.exception
    assert "more than the app" in texts(at.error)
    by_label(at.number_input, "Points (λ values)").set_value(3)
    by_label(at.number_input, "Cells per point").set_value(10)
    by_label(at.selectbox, "Start").set_value("B")
    by_label(at.selectbox, "End").set_value("B")
    at.run()
    at.button(key="traj_go").click().run()
    assert not at.exception
    assert "same" in texts(at.error)
    assert not at.session_state["results"]  # nothing half-made kept


# ---------------------------------------------------------------------------------- Evaluate
def test_evaluate_session_set(env):
    at = new_app()
    generate(at, "A", "S", n=120)
    ok(at)
    at.switch_page("pages/evaluate.py").run()
    ok(at)
    assert at.title[0].value.startswith("Evaluate")
    at.button(key="ev_go").click().run()
    ok(at)
    labels = {m.label for m in at.metric}
    assert {"RF AUROC", "MMD²", "Label fidelity"} <= labels
    table = at.dataframe[-1].value
    assert {"generated", "control"} <= set(table["set"]) and "all" in set(table["scope"])
    assert "A" in set(table["scope"])
    assert n_charts(at) == 1
    assert len(at.get("download_button")) == 1


def _h5ad_bytes(adata) -> bytes:
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "x.h5ad"
        adata.write_h5ad(p)
        return p.read_bytes()


def test_evaluate_upload_bad_and_good(env):
    import anndata as ad
    import pandas as pd

    from scdiff_core.model import SCDiffModel

    m = SCDiffModel.load(env["ckpt"])
    good = m.generate({"cell_type": "B"}, 60, seed=1)
    at = new_app()
    generate(at, "A", "any", n=50)
    n_before = len(at.session_state["results"])
    at.switch_page("pages/evaluate.py").run()
    by_label(at.radio, "Cells to evaluate").set_value("upload").run()
    up = at.file_uploader[0]

    up.set_value(("notes.h5ad", b"this is not an h5ad file", "application/octet-stream")).run()
    assert not at.exception and "not an .h5ad file" in texts(at.error)

    wrong = ad.AnnData(X=np.ones((5, 3), np.float32), var=pd.DataFrame(index=["x1", "x2", "x3"]))
    at.file_uploader[0].set_value(("wrong_genes.h5ad", _h5ad_bytes(wrong), "application/octet-stream")).run()
    assert not at.exception and "genes do not match" in texts(at.error)

    scaled = good.copy()
    scaled.X = scaled.X - scaled.X.mean(0)
    at.file_uploader[0].set_value(("scaled.h5ad", _h5ad_bytes(scaled), "application/octet-stream")).run()
    assert not at.exception and "negative values" in texts(at.error)

    truncated = _h5ad_bytes(good)[:3000]
    at.file_uploader[0].set_value(("truncated.h5ad", truncated, "application/octet-stream")).run()
    assert not at.exception and "truncated.h5ad" in texts(at.error)
    assert len(at.session_state["results"]) == n_before  # earlier results kept, nothing added

    at.file_uploader[0].set_value(("good.h5ad", _h5ad_bytes(good), "application/octet-stream")).run()
    ok(at)
    assert "Read 60 cells" in texts(at.success)
    assert len(at.session_state["results"]) == n_before + 1
    at.button(key="ev_go").click().run()
    ok(at)
    assert "B" in set(at.dataframe[-1].value["scope"])


# ---------------------------------------------------------------------------------- Models
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
    from pages import _common as C

    while time.time() < deadline:
        jobs = C.list_jobs()
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
    from pages import _common as C

    log = ("data: 300 cells\nautoencoder: 100%|####| 9/9 [00:01<00:00]\rdiffusion:  40%|##  | 40/100 [00:01<00:02, "
           "loss=0.5]\rdiffusion:  50%|##  | 50/100 [00:01<00:02]\r")
    p = C.parse_progress(log)
    assert p["current"] == "diffusion" and p["stages"]["diffusion"] == (50, 100) and p["error"] is None
    assert C.parse_progress("error: The column 'x' is missing.\n")["error"] == "The column 'x' is missing."


# ---------------------------------------------------------------------------------- bad checkpoints
def test_no_checkpoint_gives_a_useful_first_screen(env, monkeypatch, tmp_path):
    empty = tmp_path / "none"
    empty.mkdir()
    monkeypatch.setenv("SCDIFF_CHECKPOINTS", str(empty))
    at = new_app()
    assert not at.exception and not at.error
    assert "No trained model found" in texts(at.info)
    for page in ("pages/trajectory.py", "pages/evaluate.py", "pages/models.py"):
        at.switch_page(page).run()
        assert not at.exception and not at.error


def test_checkpoint_failing_its_hash_check(env, monkeypatch, tmp_path):
    bad_root = tmp_path / "bad"
    shutil.copytree(env["ckpt"], bad_root / "broken")
    f = next((bad_root / "broken").glob("denoiser.safetensors"))
    raw = bytearray(f.read_bytes())
    raw[-1] ^= 0xFF
    f.write_bytes(bytes(raw))
    monkeypatch.setenv("SCDIFF_CHECKPOINTS", str(bad_root))
    at = new_app()
    assert not at.exception
    msg = texts(at.error)
    assert "broken" in msg and "sha256" in msg
    assert "Pick another model" in texts(at.info)
    at.switch_page("pages/models.py").run()  # the card still shows (config.json is readable)
    assert not at.exception and at.dataframe[0].value["model"].tolist() == ["broken"]


def test_settings_and_results_survive_page_switches(env):
    at = new_app()
    generate(at, "C", "S", n=40)
    ok(at)
    by_label(at.selectbox, "Colour training cells by").set_value("phase").run()
    at.switch_page("pages/trajectory.py").run()
    by_label(at.number_input, "Points (λ values)").set_value(4).run()
    at.switch_page("pages/models.py").run()
    at.switch_page("pages/generate.py").run()
    ok(at)
    assert by_label(at.selectbox, "cell_type").value == "C" and by_label(at.selectbox, "phase").value == "S"
    assert by_label(at.selectbox, "Colour training cells by").value == "phase"
    assert len(by_label(at.multiselect, "Generated sets shown").value) == 1
    assert not at.warning  # no widget-state warnings
    at.switch_page("pages/trajectory.py").run()
    assert by_label(at.number_input, "Points (λ values)").value == 4


def test_new_seed_after_each_run(env):
    at = new_app()
    by_label(at.checkbox, "New seed after each run").check()
    generate(at, "A", "any", n=30)
    generate(at, "A", "any", n=30)
    ok(at)
    seeds = [r["params"]["seed"] for r in at.session_state["results"].values()]
    assert seeds == [0, 1]
    at.run()
    assert by_label(at.number_input, "Seed").value == 2


def test_absurd_number_of_cells_is_refused(env):
    at = new_app()
    by_label(at.number_input, "Cells").set_value(10**7).run()
    assert not at.exception
    from pages import _common as C

    assert by_label(at.number_input, "Cells").value <= C.MAX_APP_CELLS
