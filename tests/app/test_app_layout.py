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


def test_every_plot_saves_svg():
    """Figures for papers: every st.plotly_chart passes plot_config(…), whose camera button saves an SVG."""
    from scdiff_app.figures.style import plot_config

    cfg = plot_config("umap map")
    assert cfg["toImageButtonOptions"]["format"] == "svg" and cfg["toImageButtonOptions"]["filename"] == "scdiff_umap_map"
    calls = [(p.name, n) for p in APP_FILES for n in ast.walk(ast.parse(p.read_text()))
             if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr == "plotly_chart"]
    assert calls
    for name, call in calls:
        conf = [k.value for k in call.keywords if k.arg == "config"]
        assert conf and isinstance(conf[0], ast.Call) and getattr(conf[0].func, "id", "") == "plot_config", name
