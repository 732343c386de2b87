"""The app's layout: pages/ holds only the page scripts, each starts inside the app's frame, the
shared code lives in scdiff_app/ (small files, short functions) and uses public Streamlit API only."""
from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
APP_FILES = [ROOT / "app.py", *sorted((ROOT / "pages").glob("*.py")), *sorted((ROOT / "scdiff_app").rglob("*.py"))]


def test_pages_folder_holds_the_navigation_pages_only():
    from scdiff_app.navigation import PAGES

    assert sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "pages").iterdir()
                  if p.name != "__pycache__") == sorted(path for path, _, _ in PAGES)


def test_every_page_starts_inside_the_frame():
    for path in (ROOT / "pages").glob("*.py"):
        body = ast.parse(path.read_text()).body
        calls = [n for n in body if isinstance(n, ast.Expr) and isinstance(n.value, ast.Call)]
        first = calls[0].value.func
        assert isinstance(first, ast.Name) and first.id == "require_frame", path.name
        assert calls[0].lineno < min(n.lineno for n in body if isinstance(n, ast.Import) or
                                     (isinstance(n, ast.ImportFrom) and n.module != "scdiff_app.navigation"))


def test_public_streamlit_api_only():
    private = re.compile(r"streamlit\.(runtime|elements|commands|web)\b|PagesManager|uses_pages_directory")
    assert [p.name for p in APP_FILES if private.search(p.read_text())] == []


def test_small_files_and_functions():
    for path in APP_FILES:
        src = path.read_text()
        assert len(src.splitlines()) <= 400, path
        for node in ast.walk(ast.parse(src)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                assert node.end_lineno - node.lineno < 80, f"{path}:{node.name}"


def test_every_plot_saves_svg_and_pdf():
    """Figures for papers: every chart goes through scdiff_app.charts.chart — plotly's camera button saves
    an SVG (plot_config) and a PDF button beside it redraws the figure as a vector PDF."""
    from scdiff_app.figures.style import plot_config

    cfg = plot_config("umap map")
    assert cfg["toImageButtonOptions"]["format"] == "svg" and cfg["toImageButtonOptions"]["filename"] == "scdiff_umap_map"
    direct = [(p.name, n.lineno) for p in APP_FILES if p.name != "charts.py"
              for n in ast.walk(ast.parse(p.read_text()))
              if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr == "plotly_chart"]
    assert direct == []  # no chart without its SVG and PDF
    calls = [p.name for p in APP_FILES for n in ast.walk(ast.parse(p.read_text()))
             if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "chart"]
    assert len(calls) >= 10


def test_figures_export_to_pdf():
    """Every kind of figure the app draws (WebGL maps, bars, boxes, subplots, annotations) becomes a PDF."""
    import numpy as np
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    from scdiff_app.figures.export import figure_pdf

    rng = np.random.default_rng(0)
    m = go.Figure([go.Scattergl(x=rng.normal(size=50), y=rng.normal(size=50), mode="markers", name="real",
                                marker=dict(color=rng.random(50), showscale=True, size=4)),
                   go.Scattergl(x=[0, 1], y=[1, 0], mode="markers", name="generated<br>set",
                                marker=dict(color="rgba(214,39,40,0.5)", symbol="diamond")),
                   go.Scatter(x=[0, 0.5, 1], y=[0, 1, None], mode="lines+markers", line=dict(dash="dash"))])
    m.update_layout(title="A map<br>on two lines")
    m.add_annotation(x=0, y=1, text="<b>7MEP</b>", xref="x", yref="y")
    s = make_subplots(rows=1, cols=2, subplot_titles=["a", "b"])
    s.add_trace(go.Bar(x=[1, 2], y=["u", "v"], orientation="h", marker_color=["red", "blue"]), row=1, col=1)
    s.add_trace(go.Box(y=rng.normal(size=20), name="g"), row=1, col=2)
    for fig in (m, s):
        pdf = figure_pdf(fig)
        assert pdf.startswith(b"%PDF") and len(pdf) > 1000
