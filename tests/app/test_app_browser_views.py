"""In a real headless Chromium (see test_app_browser.py): settings surviving page switches and a reload
(the URL round trip into a fresh browser context), and the narrow (800 px) layout without overlaps."""
from __future__ import annotations

import pytest

from test_app_browser import CHROMIUM, HAS_TRACE, _no_error, _pick, browser, server  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not __import__("pathlib").Path(CHROMIUM).exists(), reason="needs /usr/bin/chromium")]

# Boxes of the widgets and charts in the main area that overlap another's by more than 2 px each way,
# and any that stick out of the window.
OVERLAPS = """() => {
  const sel = ['stSelectbox','stNumberInput','stSlider','stButton','stRadio','stMultiSelect','stMetric',
               'stPlotlyChart','stCheckbox','stExpander','stDataFrame','stToggle','stAlert','stCaptionContainer']
              .map(t => `[data-testid="stMain"] [data-testid="${t}"]`).join(',');
  const els = [...document.querySelectorAll(sel)].filter(e => !e.parentElement.closest(sel));
  const boxes = els.map(e => [e.getAttribute('data-testid') + ':' + e.innerText.slice(0, 30), e.getBoundingClientRect()])
                   .filter(([_, r]) => r.width > 0 && r.height > 0);
  const bad = [];
  for (let i = 0; i < boxes.length; i++) {
    const [a, r] = boxes[i];
    if (r.right > window.innerWidth + 1) bad.push(['outside', a, r.right]);
    for (let j = i + 1; j < boxes.length; j++) {
      const [b, s] = boxes[j];
      const w = Math.min(r.right, s.right) - Math.max(r.left, s.left);
      const h = Math.min(r.bottom, s.bottom) - Math.max(r.top, s.top);
      if (w > 2 && h > 2) bad.push([a, b]);
    }
  }
  return bad;
}"""
# Words laid out over two lines (a word broken inside): each run of letters/digits must sit on one line.
BROKEN_WORDS = """() => {
  const bad = [];
  const root = document.querySelector('[data-testid="stMain"]');
  const walk = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  let n;
  while ((n = walk.nextNode())) {
    if (n.parentElement.closest('svg, [data-testid="stDataFrame"], code, pre')) continue;
    const re = /[\\p{L}\\p{N}_]{2,}/gu; let m;
    while ((m = re.exec(n.textContent))) {
      const r = document.createRange(); r.setStart(n, m.index); r.setEnd(n, m.index + m[0].length);
      const tops = new Set([...r.getClientRects()].filter(x => x.width > 0).map(x => Math.round(x.top)));
      if (tops.size > 1) bad.push(m[0]);
    }
  }
  return bad;
}"""
# Plotly's play / pause buttons and the λ slider rail must not overlap.
SLIDER_CLEAR = """() => {
  const rail = document.querySelector('.slider-rail-rect');
  const btns = [...document.querySelectorAll('.updatemenu-button')];
  if (!rail || !btns.length) return 'missing';
  const s = rail.getBoundingClientRect();
  return btns.every(b => { const r = b.getBoundingClientRect();
    return r.bottom <= s.top || r.top >= s.bottom || r.right <= s.left || r.left >= s.right; });
}"""


def _select_text(page, label: str) -> list[str]:
    """The lines of a selectbox's label and shown value (the value may sit in its input)."""
    box = page.locator('[data-testid="stSelectbox"]').filter(has_text=label).first
    return box.evaluate("e => (e.innerText + '\\n' + [...e.querySelectorAll('input')].map(i => i.value)"
                        ".join('\\n')).split('\\n').map(s => s.trim())")


def _set_number(page, label: str, value: int) -> None:
    box = page.get_by_role("spinbutton", name=label, exact=True)
    box.fill(str(value))
    box.press("Enter")


def test_settings_survive_page_switch_and_reload(server, browser):  # noqa: F811
    page = browser.new_page(viewport={"width": 1400, "height": 1600})
    page.goto(server)
    page.get_by_role("button", name="Generate").wait_for(timeout=90_000)
    _pick(page, "cell_type", "B")
    _pick(page, "phase", "S")
    page.get_by_role("radio", name="classifier", exact=True).check(force=True)
    _set_number(page, "Cells", 300)
    _set_number(page, "Seed", 5)
    page.wait_for_function("() => location.search.includes('seed=5') && location.search.includes('n=300')",
                           timeout=30_000)
    gen_url = page.url
    assert "model=tiny" in gen_url and "cell_type=B" in gen_url and "mode=classifier" in gen_url

    page.get_by_role("link", name="Trajectory").click()
    page.get_by_role("button", name="Run trajectory").wait_for(timeout=60_000)
    _pick(page, "Start", "C")
    _pick(page, "End", "A")
    _set_number(page, "Points (λ values)", 4)
    page.wait_for_function("() => location.search.includes('points=4') && location.search.includes('start=C')",
                           timeout=30_000)
    traj_url = page.url
    page.get_by_role("link", name="Generate").click()  # a page switch keeps the settings
    page.get_by_role("button", name="Generate").wait_for(timeout=60_000)
    page.wait_for_timeout(1000)
    assert "B" in _select_text(page, "cell_type") and "S" in _select_text(page, "phase")
    assert page.get_by_role("spinbutton", name="Cells", exact=True).input_value() == "300"
    assert page.get_by_role("radio", name="classifier", exact=True).is_checked()
    _no_error(page)

    # a reload (the same URL, a new session): the settings and the session's generated set come back
    page.get_by_role("button", name="Generate").click()
    page.wait_for_function(HAS_TRACE, arg="#1 ", timeout=90_000)
    page.wait_for_function("() => location.search.includes('s=')", timeout=30_000)
    page.reload()
    page.get_by_role("button", name="Generate").wait_for(timeout=60_000)
    page.wait_for_function(HAS_TRACE, arg="#1 ", timeout=60_000)
    assert "B" in _select_text(page, "cell_type") and page.get_by_role("spinbutton", name="Cells", exact=True).input_value() == "300"
    _no_error(page)
    gen_url = page.url

    fresh = browser.new_context(viewport={"width": 1400, "height": 1600}).new_page()  # the shared link
    fresh.goto(gen_url)
    fresh.get_by_role("button", name="Generate").wait_for(timeout=60_000)
    fresh.wait_for_timeout(1000)
    assert "B" in _select_text(fresh, "cell_type") and "S" in _select_text(fresh, "phase")
    assert fresh.get_by_role("spinbutton", name="Cells", exact=True).input_value() == "300"
    assert fresh.get_by_role("spinbutton", name="Seed", exact=True).input_value() == "5"
    assert fresh.get_by_role("radio", name="classifier", exact=True).is_checked()
    fresh.goto(traj_url)
    fresh.get_by_role("button", name="Run trajectory").wait_for(timeout=60_000)
    fresh.wait_for_timeout(1000)
    assert "C" in _select_text(fresh, "Start") and "A" in _select_text(fresh, "End")
    assert fresh.get_by_role("spinbutton", name="Points (λ values)", exact=True).input_value() == "4"
    _no_error(fresh)


def test_narrow_layout_has_no_overlaps(server, browser, tmp_path):  # noqa: F811
    page = browser.new_page(viewport={"width": 800, "height": 2400})
    page.goto(server + "/?cell_type=B&phase=S&n=200&steps=20")
    page.get_by_role("button", name="Generate").wait_for(timeout=90_000)
    page.get_by_role("button", name="Generate").click()
    page.wait_for_function(HAS_TRACE, arg="#1 ", timeout=90_000)
    page.get_by_text("Cells made").wait_for(timeout=30_000)
    page.wait_for_timeout(1500)
    page.screenshot(path=str(tmp_path / "generate_800.png"), full_page=True)
    assert page.evaluate(OVERLAPS) == []
    assert page.evaluate(BROKEN_WORDS) == []
    _no_error(page)

    page.get_by_role("link", name="Trajectory").click()
    page.get_by_role("button", name="Run trajectory").wait_for(timeout=60_000)
    _set_number(page, "Cells per point", 20)
    page.get_by_role("button", name="Run trajectory").click()
    page.wait_for_function(HAS_TRACE, arg="mean path", timeout=120_000)
    page.wait_for_timeout(1500)
    page.screenshot(path=str(tmp_path / "trajectory_800.png"), full_page=True)
    assert page.evaluate(SLIDER_CLEAR) is True
    assert page.evaluate(OVERLAPS) == []
    assert page.evaluate(BROKEN_WORDS) == []
    _no_error(page)


def test_denoising_view_and_evaluate_headline(server, browser, tmp_path):  # noqa: F811
    """The teaching view plays frames of the denoising on the map; Evaluate's headline cards show the row of
    the label and the phase a two-condition set was generated for, each with its control."""
    page = browser.new_page(viewport={"width": 1400, "height": 1600})
    page.goto(server + "/denoising")
    page.get_by_role("button", name="Run denoising").wait_for(timeout=90_000)
    page.get_by_role("button", name="Run denoising").click()
    page.wait_for_function("() => [...document.querySelectorAll('.js-plotly-plot')]"
                           ".some(e => (e._transitionData && e._transitionData._frames || []).length > 2)",
                           timeout=120_000)
    page.locator(".updatemenu-button").first.wait_for(timeout=30_000)  # play / pause
    page.screenshot(path=str(tmp_path / "denoising.png"))
    _no_error(page)

    page.goto(server + "/?cell_type=B&phase=G2M&n=150&steps=20")
    page.get_by_role("button", name="Generate").wait_for(timeout=90_000)
    page.get_by_role("button", name="Generate").click()
    page.wait_for_function(HAS_TRACE, arg="#1 ", timeout=90_000)
    page.get_by_role("link", name="Evaluate").click()
    page.get_by_role("button", name="Evaluate").wait_for(timeout=60_000)
    page.get_by_role("button", name="Evaluate").click()
    page.get_by_text("Phase fidelity (G2M)").wait_for(timeout=120_000)
    page.get_by_text("row (the cell_type this set was generated for)").wait_for(timeout=30_000)
    assert page.locator('[data-testid="stMetric"]').filter(has_text="control").count() >= 3
    page.screenshot(path=str(tmp_path / "evaluate.png"), full_page=True)
    _no_error(page)
