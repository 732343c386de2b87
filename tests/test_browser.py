"""End to end in a real headless Chromium: start `streamlit run app.py`, generate, run a trajectory.

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
ROOT = Path(__file__).resolve().parents[1]
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                 reason="needs /usr/bin/chromium (apt-get install chromium)")]

HAS_TRACE = ("(prefix) => [...document.querySelectorAll('.js-plotly-plot')]"
             ".some(e => (e.data || []).some(d => (d.name || '').startsWith(prefix)))")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(tiny_model_dir, tmp_path):
    port = _free_port()
    users = tmp_path / "models"
    users.mkdir()
    env = dict(os.environ, SCDIFF_CHECKPOINTS=str(Path(tiny_model_dir).parent), SCDIFF_MODELS=str(users))
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


def _no_error(page) -> None:
    assert page.locator('[data-testid="stException"]').count() == 0
    errors = page.locator('[data-testid="stAlertContentError"]')
    assert errors.count() == 0, errors.all_inner_texts()


def _pick(page, label: str, option: str) -> None:
    page.locator('[data-testid="stSelectbox"]').filter(has_text=label).first.click()
    page.get_by_role("option", name=option, exact=True).click()


def test_generate_and_trajectory_in_chromium(server, tmp_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1800})
            # the first request of a fresh server is a page URL (a reload after a restart): it must still
            # run through app.py (navigation, model picker), not the page script alone
            page.goto(server + "/trajectory")
            page.get_by_role("button", name="Run trajectory").wait_for(timeout=90_000)
            assert page.locator('[data-testid="stSidebarNavLink"]').count() == 4
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
        finally:
            browser.close()
