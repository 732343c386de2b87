"""The Evaluate page (a session set, uploads good and bad), driven headless with AppTest."""
from __future__ import annotations

import numpy as np

from apptest_helpers import by_label, generate, h5ad_bytes, n_charts, new_app, ok, texts


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
    data_buttons = [d for d in at.get("download_button") if not d.proto.id.endswith("_pdf") and d.proto.label != "PDF"]
    assert len(data_buttons) == 1
    assert any(d.proto.label == "PDF" for d in at.get("download_button"))  # each chart's PDF beside it


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
    at.file_uploader[0].set_value(("wrong_genes.h5ad", h5ad_bytes(wrong), "application/octet-stream")).run()
    assert not at.exception and "genes do not match" in texts(at.error)

    scaled = good.copy()
    scaled.X = scaled.X - scaled.X.mean(0)
    at.file_uploader[0].set_value(("scaled.h5ad", h5ad_bytes(scaled), "application/octet-stream")).run()
    assert not at.exception and "negative values" in texts(at.error)

    truncated = h5ad_bytes(good)[:3000]
    at.file_uploader[0].set_value(("truncated.h5ad", truncated, "application/octet-stream")).run()
    assert not at.exception and "truncated.h5ad" in texts(at.error)
    assert len(at.session_state["results"]) == n_before  # earlier results kept, nothing added

    at.file_uploader[0].set_value(("good.h5ad", h5ad_bytes(good), "application/octet-stream")).run()
    ok(at)
    assert "Read 60 cells" in texts(at.success)
    assert len(at.session_state["results"]) == n_before + 1
    at.button(key="ev_go").click().run()
    ok(at)
    assert "B" in set(at.dataframe[-1].value["scope"])


def test_evaluate_headline_is_the_row_asked_for(env):
    """A set generated for one label and one phase: the cards show that label's row with its control row
    beside it, and the phase fidelity of the phase asked for; only the asked label is compared (fast)."""
    at = new_app()
    generate(at, "B", "G2M", n=120)
    at.switch_page("pages/evaluate.py").run()
    at.button(key="ev_go").click().run()
    ok(at)
    cards = {m.label: m for m in at.metric}
    assert "Phase fidelity (G2M)" in cards
    t = at.dataframe[-1].value
    assert set(t["scope"]) == {"all", "B"}  # only the label asked for
    g = t[(t["set"] == "generated") & (t["scope"] == "B")].iloc[0]
    c = t[(t["set"] == "control") & (t["scope"] == "B")].iloc[0]
    assert cards["MMD²"].value == f"{g['mmd2']:.3f}"
    assert f"control {c['mmd2']:.3f}" in str(cards["MMD²"].delta)
    assert cards["Phase fidelity (G2M)"].value == f"{g['phase_fidelity']:.3f}"
    assert "**B** row" in texts(at.caption)
    assert "Evaluated in" in str([s.label for s in at.status])

    by_label(at.toggle, "Only the cell_type values asked for (fast)").set_value(False).run()
    at.button(key="ev_go").click().run()
    ok(at)
    assert {"A", "B", "C"} <= set(at.dataframe[-1].value["scope"])  # every label with test cells


def test_evaluate_with_resequenced_control(env):
    """Count models offer the re-sequenced control cells: one more row per scope, and a line under the cards."""
    at = new_app()
    generate(at, "B", "G2M", n=120)
    at.switch_page("pages/evaluate.py").run()
    ok(at)
    at.toggle(key="ev_reps").set_value(True).run()
    at.button(key="ev_go").click().run()
    ok(at)
    t = at.dataframe[-1].value
    assert {"generated", "control", "replicates"} <= set(t["set"])
    assert "Re-sequenced control cells" in " ".join(c.value for c in at.caption)
