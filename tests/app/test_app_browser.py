"""The app in a real headless Chromium: `streamlit run app.py` on a fresh server for each test.

Needs Debian's chromium at /usr/bin/chromium (skipped otherwise) and Playwright's Python client;
no browser is downloaded. Marked ``browser``: ``pytest -m browser``.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parents[2]
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
APP_PAGES = ["Generate", "Trajectory", "Denoising", "Evaluate", "Models"]  # scdiff_app.navigation.PAGES, in order
NAV_LINKS = ('[data-testid="stSidebarNavLink"], [data-testid="stPageLink-NavLink"], '
             '[data-testid="stTopNavLink"]')  # any navigation entry Streamlit can draw

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                 reason="needs /usr/bin/chromium (apt-get install chromium)")]

HAS_TRACE = ("(prefix) => [...document.querySelectorAll('.js-plotly-plot')]"
             ".some(e => (e.data || []).some(d => (d.name || '').startsWith(prefix)))")
# Installed before the page's own scripts: records every change of the navigation entries (their
# texts) and whether the app has drawn anything yet, with the time since the page load began (ms).
RECORD_NAVIGATION = """
window.__nav = [];
const record = () => {
  const links = [...document.querySelectorAll('%s')].map(e => e.innerText.trim());
  const drawn = !!document.querySelector('[data-testid="stSidebar"], [data-testid="stMain"] [data-testid="stElementContainer"]');
  const last = window.__nav[window.__nav.length - 1];
  if (!last || last.drawn !== drawn || JSON.stringify(last.links) !== JSON.stringify(links))
    window.__nav.push({t: performance.now(), links, drawn});
};
new MutationObserver(record).observe(document, {subtree: true, childList: true, characterData: true});
""" % NAV_LINKS.replace("'", "\\'")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(tiny_model_dir, tmp_path):
    port = _free_port()
    users = tmp_path / "models"
    users.mkdir()
    env = dict(os.environ, SCDIFF_CHECKPOINTS=str(Path(tiny_model_dir).parent), SCDIFF_MODELS=str(users),
               SCDIFF_SESSIONS=str(tmp_path / "sessions"))
    log = open(tmp_path / "streamlit.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
                             "--server.port", str(port), "--server.address", "127.0.0.1"],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 90
        while True:
            try:
                if urllib.request.urlopen(url + "/_stcore/health", timeout=2).read() == b"ok":
                    break
            except OSError:
                pass
            if proc.poll() is not None or time.time() > deadline:
                raise RuntimeError("streamlit did not start:\n" + (tmp_path / "streamlit.log").read_text())
            time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield b
        finally:
            b.close()


def _no_error(page) -> None:
    assert page.locator('[data-testid="stException"]').count() == 0
    errors = page.locator('[data-testid="stAlertContentError"]')
    assert errors.count() == 0, errors.all_inner_texts()


def _pick(page, label: str, option: str) -> None:
    page.locator('[data-testid="stSelectbox"]').filter(has_text=label).first.click()
    page.get_by_role("option", name=option, exact=True).click()


@pytest.mark.parametrize("path", ["", "trajectory"], ids=["root", "page-url"])
def test_first_page_shows_only_the_apps_navigation(server, browser, path):
    """A fresh server's first visitor: Streamlit's automatic list of the files in pages/ (with its
    'common' entry, and 'app') never appears; the app's own links are there within a second of the
    app drawing anything."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.add_init_script(RECORD_NAVIGATION)
    page.goto(f"{server}/{path}")
    page.wait_for_function(f"() => document.querySelectorAll('{NAV_LINKS}').length >= {len(APP_PAGES)}",
                           timeout=90_000)
    page.get_by_role("heading", name="Trajectory" if path else "Generate cells").wait_for(timeout=90_000)
    page.wait_for_timeout(1500)  # a late change (a rerun, another navigation) would be recorded too
    history = page.evaluate("window.__nav")
    shown = [[text.splitlines()[-1].strip() for text in snap["links"]] for snap in history]
    for entries in shown:
        assert not any("common" in e.lower() for e in entries), history
        assert set(entries) <= set(APP_PAGES), history
    assert shown[-1] == APP_PAGES, history
    first_drawn = next(s["t"] for s in history if s["drawn"] or s["links"])
    complete = next(s["t"] for s, entries in zip(history, shown) if entries == APP_PAGES)
    assert complete - first_drawn <= 1000, history
    _no_error(page)


def test_generate_and_trajectory_in_chromium(server, browser, tmp_path):
    page = browser.new_page(viewport={"width": 1400, "height": 1800})
    # the first request of a fresh server is a page URL (a reload after a restart): it must still
    # run through app.py (navigation, model picker), not the page script alone
    page.goto(server + "/trajectory")
    page.get_by_role("button", name="Run trajectory").wait_for(timeout=90_000)
    assert page.locator(NAV_LINKS).count() == len(APP_PAGES)
    assert page.get_by_text("Model", exact=True).count() >= 1
    page.get_by_role("link", name="Generate").click()
    page.get_by_role("heading", name="Generate cells").wait_for(timeout=90_000)
    page.wait_for_selector(".js-plotly-plot", timeout=90_000)  # the reference map, before any click
    _no_error(page)

    _pick(page, "cell_type", "B")
    _pick(page, "phase", "S")
    page.get_by_text("Seen combination").wait_for(timeout=30_000)
    cells = page.get_by_role("spinbutton", name="Cells", exact=True)
    cells.fill("300")
    cells.press("Enter")
    page.get_by_role("button", name="Generate").click()
    page.wait_for_function(HAS_TRACE, arg="#1 ", timeout=90_000)
    page.get_by_text("Cells made").wait_for(timeout=30_000)
    _no_error(page)
    page.screenshot(path=str(tmp_path / "generate.png"))

    page.get_by_role("link", name="Trajectory").click()
    page.get_by_role("heading", name="Trajectory between two states").wait_for(timeout=60_000)
    page.get_by_role("button", name="Run trajectory").click()
    page.wait_for_function(HAS_TRACE, arg="mean path", timeout=120_000)
    _no_error(page)
    # λ slider of the figure: move to the last frame client-side
    assert page.locator(".slider-container").count() >= 1
    page.screenshot(path=str(tmp_path / "trajectory.png"))

    page.get_by_role("link", name="Generate").click()  # the session's set is still there
    page.wait_for_function(HAS_TRACE, arg="#1 ", timeout=60_000)
    _no_error(page)
