"""Marker genes on the Generate page (AppTest): generated vs the real cells of its labels, and a map
selection vs the training cells outside it."""
from __future__ import annotations

import hashlib

import numpy as np

from apptest_helpers import by_label, generate, new_app, ok, texts


def _markers_table(at):
    tables = [df.value for df in at.dataframe if "log2_fold_change" in df.value.columns]
    assert tables, "no marker table"
    return tables[0]


def test_marker_genes(env):
    at = new_app()
    generate(at, "A", "any", n=80)
    ok(at)
    assert by_label(at.selectbox, "Set A").value.startswith("generated #1")
    assert by_label(at.selectbox, "Set B").value == "real training cells of A"
    at.button(key="mk_go").click().run()
    ok(at)
    df = _markers_table(at)
    assert len(df) == 60 and {"gene", "p_adjusted", "mean_a", "fraction_b"} <= set(df.columns)
    assert (df.p_adjusted.between(0, 1)).all()
    assert "Marker genes (CSV)" in [d.proto.label for d in at.get("download_button")]
    assert any(c.proto.id and "markers_volcano" in c.proto.config for c in at.get("plotly_chart"))
    assert "A = generated #1" in texts(at.caption)

    rec = next(iter(at.session_state["results"].values()))
    kh = hashlib.sha1(rec["ckpt"].rsplit("@", 1)[0].encode()).hexdigest()[:6]
    at.session_state[f"sel_{kh}"] = {"idx": np.arange(0, 40), "name": "S1 (40 cells)"}
    at.run()
    by_label(at.selectbox, "Set A").set_value("selection S1 (40 cells)")
    by_label(at.selectbox, "Set B").set_value("training cells outside S1 (40 cells)")
    at.run()
    at.button(key="mk_go").click().run()
    ok(at)
    assert "(40 cells), B = training cells outside" in texts(at.caption)
    by_label(at.selectbox, "Set B").set_value("selection S1 (40 cells)").run()
    at.button(key="mk_go").click().run()
    assert "two different sets" in texts(at.error)


def test_volcano_labels_do_not_overlap():
    """Genes whose points crowd together (same p, near fold changes) get labels that are apart."""
    import pandas as pd

    from scdiff_app.figures.markers import LABEL_H, LABEL_W, label_positions, volcano_figure

    px = np.array([2.0, 2.1, 2.2, 2.05, -3.0, -3.1, 5.0, 2.15])
    py = np.array([300.0, 300.0, 300.0, 299.0, 300.0, 300.0, 10.0, 298.0])
    xspan, yspan = float(np.ptp(px)), float(py.max())
    lx, ly = label_positions(px, py, xspan, yspan)
    for i in range(len(px)):
        for j in range(i + 1, len(px)):
            apart = abs(lx[i] - lx[j]) >= LABEL_W * xspan or abs(ly[i] - ly[j]) >= LABEL_H * yspan * (1 - 1e-6)
            assert apart, (i, j)
    df = pd.DataFrame({"gene": [f"g{i}" for i in range(len(px))], "log2_fold_change": px,
                       "p_adjusted": 10.0 ** -py})
    fig = volcano_figure(df, "A", "B", n_labels=8)
    assert sorted(a.text for a in fig.layout.annotations if a.text.startswith("g")) == sorted(df["gene"])
