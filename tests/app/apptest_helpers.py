"""Helpers of the AppTest tests (streamlit.testing.v1): start the app, find widgets, generate a set."""
from __future__ import annotations

import tempfile
from pathlib import Path

APP = str(Path(__file__).resolve().parents[2] / "app.py")


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


def h5ad_bytes(adata) -> bytes:
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "x.h5ad"
        adata.write_h5ad(p)
        return p.read_bytes()
