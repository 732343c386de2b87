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
