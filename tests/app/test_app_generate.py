"""The Generate page, driven headless with streamlit.testing.v1.AppTest."""
from __future__ import annotations

from apptest_helpers import by_label, generate, n_charts, new_app, ok, texts


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
    assert {s.label for s in at.slider} >= {"cell_type", "phase", "η (stochasticity)"}  # a strength per column

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
    from scdiff_app.settings import MAX_APP_CELLS

    assert by_label(at.number_input, "Cells").value <= MAX_APP_CELLS
