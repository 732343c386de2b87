"""What survives page switches, and the first screens without a usable checkpoint (AppTest)."""
from __future__ import annotations

import shutil

from apptest_helpers import by_label, generate, new_app, ok, texts


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


def test_results_come_back_after_a_reload(env):
    """A reload is a new session: the token in the URL (s=…) brings the session's results back from disk,
    the evaluation report with them; a link without a token, or with an unknown one, starts empty."""
    from streamlit.testing.v1 import AppTest

    from apptest_helpers import APP

    at = new_app()
    generate(at, "A", "S", n=40)
    ok(at)
    token = at.query_params["s"][0] if isinstance(at.query_params["s"], list) else at.query_params["s"]
    made = dict(at.session_state["results"])
    assert len(made) == 1 and (env["user"].parent / "sessions" / token).is_dir()
    at.switch_page("pages/evaluate.py").run()
    at.button(key="ev_go").click().run()
    ok(at)

    again = AppTest.from_file(APP, default_timeout=120)
    again.query_params["s"] = token  # what the reloaded page's URL still holds
    again.run()
    ok(again)
    back = again.session_state["results"]
    assert list(back) == list(made)
    rec = next(iter(back.values()))
    assert rec["name"] == next(iter(made.values()))["name"] and rec["adata"].n_obs == 40
    assert rec.get("reports")  # the evaluation came back too
    assert len(by_label(again.multiselect, "Generated sets shown").options) == 1

    for t in (None, "unknown-token-123"):
        fresh = AppTest.from_file(APP, default_timeout=120)
        if t:
            fresh.query_params["s"] = t
        fresh.run()
        assert not fresh.session_state["results"] if "results" in fresh.session_state else True
