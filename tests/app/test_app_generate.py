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
    data_buttons = [d for d in at.get("download_button") if not d.proto.id.endswith("_pdf") and d.proto.label != "PDF"]
    assert len(data_buttons) == 2
    assert any(d.proto.label == "PDF" for d in at.get("download_button"))  # each chart's PDF beside it
    assert "placed" in texts(at.caption) and "transform" in texts(at.caption)  # how the map places generated cells
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
    verdict = texts(at.warning) + texts(at.info)
    assert "Verdict** (unseen, 0 training cells)" in verdict and ("plausible" in verdict or "doubtful" in verdict)
    at.button(key=f"trust_{list(at.session_state['results'])[-1]}").click().run()  # the real reference
    ok(at)
    assert "Real reference: held-out test cells of the nearest seen combinations (C · " in texts(at.caption)
    assert "(real " in texts(at.warning) + texts(at.info)  # the verdict now quotes the real cells' shares


def test_unseen_combinations_listed(env):
    at = new_app()
    exp = [e for e in at.expander if e.label.startswith("Unseen (")]
    assert exp and exp[0].label.startswith("Unseen (1) and rare (")
    table = exp[0].dataframe[0].value
    assert table[["cell_type", "phase", "training cells", "status"]].values.tolist()[0] == ["C", "G2M", 0, "unseen"]


def test_set_names_and_table_say_what_differs(env):
    at = new_app()
    by_label(at.slider, "cell_type").set_value(4.0)
    generate(at, "A", "any", n=30)
    by_label(at.slider, "cell_type").set_value(1.0)
    generate(at, "A", "any", n=30)
    ok(at)
    names = [r["name"] for r in at.session_state["results"].values()]
    assert names == ["#1 A · free w=4 (30)", "#2 A · free w=1 (30)"]
    table = [e for e in at.expander if e.label.startswith("All sets")][0].dataframe[0].value
    assert table["strengths"].tolist() == ["cell_type 4", "cell_type 1"]
    assert {"sampler", "seed"} <= set(table.columns)


def test_csv_has_a_cell_header(env):
    from scdiff_core.model import SCDiffModel

    from scdiff_app.downloads import csv_bytes

    a = SCDiffModel.load(env["ckpt"]).generate({"cell_type": "A"}, 5, steps=2, seed=0)
    header = csv_bytes(a).decode().splitlines()[0].split(",")
    assert header[0] == "cell" and "cell_type" in header


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


def test_colour_the_map_by_a_gene(env):
    at = new_app()
    generate(at, "B", "any", n=40)
    by_label(at.selectbox, "Colour training cells by").set_value("a gene…").run()
    ok(at)
    gene = by_label(at.selectbox, "Gene")
    gene.set_value(gene.options[3]).run()
    ok(at)
    import json

    fig = json.loads(at.get("plotly_chart")[0].proto.spec)
    names = [t.get("name", "") for t in fig["data"]]
    assert names[0] == f"training cells ({gene.options[3]})" and names[1].startswith("#1 B")
    assert len(fig["data"][0]["marker"]["color"]) > 0 and "colorbar" in fig["data"][0]["marker"]
    url = {k: v[0] if isinstance(v, list) else v for k, v in at.query_params.items()}
    assert url["gene"] == gene.options[3]


def test_time_estimate_shown_before_the_click(env):
    import re

    pat = r"About ([\d.]+) s for ([\d,]+) cells with (\d+) steps"
    at = new_app()
    ok(at)
    sec, n, steps = re.search(pat, texts(at.caption)).groups()
    assert (n, steps) == ("1,000", "50")
    by_label(at.number_input, "Cells").set_value(4000).run()  # the estimate follows the settings, at once
    ok(at)
    sec4, n4, _ = re.search(pat, texts(at.caption)).groups()
    assert n4 == "4,000" and float(sec4) >= float(sec)
    # after a real run the estimate follows that run's pace (the probes only give its shape)
    generate(at, "A", "any", n=200)
    ok(at)
    from scdiff_app.bundle import load_bundle

    m = load_bundle(str(env["ckpt"])).model
    assert ("free", "ddim") in m.__dict__["_timing_scale"]
    assert ("free", "ddim", 1) in m.__dict__["_timing_fits"]  # "A", phase any: one guided column
    # a second column guided costs another network pass per step: the estimate probes that request's shape
    by_label(at.selectbox, "phase").set_value("G1").run()
    ok(at)
    assert ("free", "ddim", 2) in m.__dict__["_timing_fits"]
    assert re.search(pat, texts(at.caption))


def test_unseen_combination_offers_the_unseen_guidance(env):
    from scdiff_core.calibration import UNSEEN

    at = new_app()
    by_label(at.selectbox, "cell_type").set_value("C")
    by_label(at.selectbox, "phase").set_value("G1").run()
    assert not [b for b in at.button if b.label.startswith("Use the unseen-combination guidance")]  # seen: none
    by_label(at.selectbox, "phase").set_value("G2M").run()
    button = [b for b in at.button if b.label.startswith("Use the unseen-combination guidance")]
    assert len(button) == 1 and "chained" in button[0].label
    button[0].click().run()
    ok(at)
    assert by_label(at.radio, "Guidance").value == "chained"
    sliders = {s.label: s.value for s in at.slider}
    assert sliders["cell_type"] == UNSEEN["first"] and sliders["phase"] == UNSEEN["others"]
    done = [b for b in at.button if b.label.startswith("Guidance set for unseen combinations")]
    assert len(done) == 1 and done[0].disabled  # stays in place, disabled
    generate(at, "C", "G2M", n=40, guidance="chained")
    ok(at)
    a = list(at.session_state["results"].values())[-1]["adata"]
    assert a.uns["scdiff"]["guidance"] == "chained"
    assert dict(a.uns["scdiff"]["scales"]) == {"cell_type": UNSEEN["first"], "phase": UNSEEN["others"]}
