"""Screenshots of the app's pages at two window widths (what users see), for docs/screenshots/.

    python benchmarks/app_screenshots.py --out docs/screenshots [--widths 1400,800] [--model paul15]

Starts ``streamlit run app.py`` on a free port with the shipped checkpoints, opens each page in headless
Chromium (/usr/bin/chromium, no browser download) with its settings in the URL, and saves
``<page>.png`` (1400 px) and ``<page>_<width>.png`` for the other widths. Generate shows two sets of
3Ery · G2M at two strengths and the unseen 1Ery · G1 (with the guidance chosen for unseen combinations) and
its verdict; Trajectory a 7MEP → 2Ery run;
Evaluate the 3Ery · G2M set's report (re-sequenced control cells on); Models the model cards.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks.app_latency import ARGS, CHROMIUM, HAS_TRACE, SCROLL_TOP, free_port  # noqa: E402


def _server(port: int, log):
    env = dict(os.environ, SCDIFF_APP_WARM_UMAP="0")
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
                             "--server.port", str(port), "--server.address", "127.0.0.1"], cwd=ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    for _ in range(180):
        try:
            if urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2).read() == b"ok":
                return proc
        except OSError:
            time.sleep(0.5)
    proc.terminate()
    raise SystemExit("streamlit did not start")


def _shoot(page, path: Path) -> None:
    page.evaluate(SCROLL_TOP)
    page.wait_for_timeout(1500)
    page.screenshot(path=str(path), full_page=True)
    print("wrote", path, path.stat().st_size // 1024, "KB")


def shots(browser, url: str, width: int, out: Path, model: str) -> None:
    suffix = "" if width == 1400 else f"_{width}"
    page = browser.new_page(viewport={"width": width, "height": 1500})
    q = f"model={model}&paul15_clusters=3Ery&phase=G2M&n=1000"
    page.goto(f"{url}/?{q}")
    go = page.get_by_role("button", name="Generate", exact=True)
    go.wait_for(timeout=120_000)
    go.click()
    page.wait_for_function(HAS_TRACE, arg="#1 ", timeout=120_000)
    thumb = page.locator('[data-testid="stSlider"]').filter(has_text="paul15_clusters").first.get_by_role("slider")
    for _ in range(11):  # strength 1.24 (the calibrated default) -> about 4
        thumb.press("ArrowRight")
    page.wait_for_timeout(1500)
    go.click()
    page.wait_for_function(HAS_TRACE, arg="#2 ", timeout=120_000)
    for label, value in (("paul15_clusters", "1Ery"), ("phase", "G1")):
        page.locator('[data-testid="stSelectbox"]').filter(has_text=label).first.click()
        page.get_by_role("option", name=value, exact=True).click()
    page.wait_for_timeout(800)
    page.get_by_role("button", name="Use the unseen-combination guidance", exact=False).click()  # its one click
    page.get_by_role("button", name="Guidance set for unseen combinations", exact=False).wait_for(timeout=60_000)
    go.click()
    page.wait_for_function(HAS_TRACE, arg="#3 ", timeout=120_000)
    page.get_by_text("Verdict").wait_for(timeout=60_000)
    _shoot(page, out / f"generate{suffix}.png")
    page.get_by_role("link", name="Evaluate").click()
    page.locator('[data-testid="stSelectbox"]').filter(has_text="Set").first.click()
    page.get_by_role("option").filter(has_text="#1 ").first.click()
    page.get_by_text("Also re-sequenced control cells").click()  # the control cells' technical replicates too
    page.wait_for_timeout(800)
    page.get_by_role("button", name="Evaluate", exact=True).click()
    page.get_by_text("Download the report").wait_for(timeout=600_000)
    _shoot(page, out / f"evaluate{suffix}.png")
    page.goto(f"{url}/trajectory?model={model}&col=paul15_clusters&start=7MEP&end=2Ery&points=10&cpp=100")
    run = page.get_by_role("button", name="Run trajectory")
    run.wait_for(timeout=120_000)
    run.click()
    page.wait_for_function(HAS_TRACE, arg="mean path", timeout=180_000)
    _shoot(page, out / f"trajectory{suffix}.png")
    page.get_by_role("link", name="Models").click()
    page.get_by_text("Training curves").wait_for(timeout=60_000)
    _shoot(page, out / f"models{suffix}.png")
    page.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="docs/screenshots")
    ap.add_argument("--widths", default="1400,800")
    ap.add_argument("--model", default="paul15")
    a = ap.parse_args()
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    from playwright.sync_api import sync_playwright

    port = free_port()
    with open(out / ".streamlit.log", "wb") as log:
        proc = _server(port, log)
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
                for w in (int(x) for x in a.widths.split(",")):
                    shots(browser, f"http://127.0.0.1:{port}", w, out, a.model)
                browser.close()
        finally:
            proc.terminate()
            proc.wait(10)


if __name__ == "__main__":
    main()
