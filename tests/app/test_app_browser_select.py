"""In a real headless Chromium (see test_app_browser.py): a box and a lasso dragged with the mouse on the
Generate map select training cells; the selection appears with its make-up and "Generate more like
these" adds a set. Screenshots go to ``$SCDIFF_SHOTS`` when set (else the test's tmp folder)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from test_app_browser import CHROMIUM, HAS_TRACE, _no_error, _pick, browser, server  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs /usr/bin/chromium")]

MAP = '[data-testid="stPlotlyChart"]'


def _drag(page, points) -> None:
    """Press at the first point, move through the others, release (plotly's select / lasso drag)."""
    page.mouse.move(*points[0])
    page.mouse.down()
    for p in points[1:]:
        page.mouse.move(*p, steps=6)
    page.mouse.up()


def _map_box(page):
    drag = page.locator(f"{MAP} .nsewdrag").first  # the plot area that takes the drag
    drag.wait_for(timeout=60_000)
    return drag.bounding_box()


@pytest.mark.parametrize("width", [1400, 800])
def test_box_and_lasso_select_on_the_map(server, browser, tmp_path, width):
    shots = Path(os.environ.get("SCDIFF_SHOTS", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": width, "height": 1600})
    page.goto(server)
    page.get_by_role("heading", name="Generate cells").wait_for(timeout=90_000)
    page.wait_for_selector(f"{MAP} .js-plotly-plot", timeout=90_000)
    _pick(page, "cell_type", "B")
    cells = page.get_by_role("spinbutton", name="Cells", exact=True)
    cells.fill("200")
    cells.press("Enter")
    page.get_by_role("button", name="Generate", exact=True).click()
    page.wait_for_function(HAS_TRACE, arg="#1 ", timeout=90_000)
    _no_error(page)

    page.locator(MAP).first.scroll_into_view_if_needed()
    page.locator(f'{MAP} .modebar-btn[data-title="Box Select"]').first.click(force=True)
    b = _map_box(page)
    x, y, w, h = b["x"], b["y"], b["width"], b["height"]
    _drag(page, [(x + 0.05 * w, y + 0.05 * h), (x + 0.55 * w, y + 0.5 * h), (x + 0.95 * w, y + 0.95 * h)])
    page.get_by_text("Selection S1").wait_for(timeout=60_000)
    _no_error(page)
    # a double-click on the map clears it (plotly's deselect), as in other explorers
    page.mouse.dblclick(x + 0.5 * w, y + 0.5 * h)
    page.get_by_text("Select cells", exact=False).first.wait_for(timeout=60_000)
    assert page.get_by_text("Selection S1").count() == 0
    _drag(page, [(x + 0.05 * w, y + 0.05 * h), (x + 0.55 * w, y + 0.5 * h), (x + 0.95 * w, y + 0.95 * h)])
    page.get_by_text("Selection S2").wait_for(timeout=60_000)
    page.screenshot(path=str(shots / f"select_box_{width}.png"), full_page=True)

    page.get_by_role("button", name="Generate more like these").click()
    page.wait_for_function(HAS_TRACE, arg="#2 ", timeout=90_000)
    _no_error(page)
    page.wait_for_timeout(1000)
    assert page.get_by_text("Selection S2").count() == 1  # a new set on the map keeps the selection
    page.get_by_role("button", name="Generate more like these").click()  # and it can be used again
    page.wait_for_function(HAS_TRACE, arg="#3 ", timeout=90_000)
    page.wait_for_timeout(1000)
    assert page.get_by_text("Selection S2").count() == 1
    page.get_by_role("button", name="Clear selection").click()
    page.get_by_text("Select cells", exact=False).first.wait_for(timeout=60_000)
    assert page.get_by_text("Selection S2").count() == 0

    page.locator(f'{MAP} .modebar-btn[data-title="Lasso Select"]').first.click(force=True)
    b = _map_box(page)
    x, y, w, h = b["x"], b["y"], b["width"], b["height"]
    _drag(page, [(x + 0.1 * w, y + 0.1 * h), (x + 0.6 * w, y + 0.15 * h), (x + 0.55 * w, y + 0.7 * h),
                 (x + 0.15 * w, y + 0.6 * h), (x + 0.1 * w, y + 0.12 * h)])
    page.get_by_text("Selection S3").wait_for(timeout=60_000)
    _no_error(page)
    page.screenshot(path=str(shots / f"select_lasso_{width}.png"), full_page=True)
    page.get_by_role("button", name="Generate more like these").click()  # the lasso drives generation too
    page.wait_for_function(HAS_TRACE, arg="#4 ", timeout=90_000)
    _no_error(page)

    # marker genes of the newest set against the real cells of its labels, then side-by-side panels
    page.get_by_role("button", name="Compare A with B").click()
    page.get_by_role("button", name="Marker genes (CSV)").wait_for(timeout=90_000)
    _no_error(page)
    volcano = page.locator(MAP).filter(has=page.locator(".js-plotly-plot")).nth(2)  # map, expression, volcano
    volcano.scroll_into_view_if_needed()
    page.screenshot(path=str(shots / f"markers_{width}.png"))
    page.locator(MAP).first.scroll_into_view_if_needed()
    page.get_by_text("Side by side", exact=True).click()
    page.wait_for_function("() => [...document.querySelectorAll('.js-plotly-plot')]"
                           ".some(e => e.layout && e.layout.xaxis2)", timeout=60_000)
    _no_error(page)
    page.locator(MAP).first.screenshot(path=str(shots / f"panels_{width}.png"))
