"""Latency and memory of the Streamlit app, measured in a real browser (Playwright + /usr/bin/chromium).

    python benchmarks/app_latency.py [--checkpoints DIR] [--threads 1] [--repeats 3] \
        [--screenshots docs/screenshots] [--compare-threads]

What is timed (wall clock, seconds, as a user sees it):

* ``start_*``: from launching ``streamlit run app.py`` to the server answering /_stcore/health, to the
  first page's title in the browser, and to the reference UMAP drawn (model load + warm-up included).
* ``generate_1000``: on the Generate page with the reference map already drawn, click *Generate*
  (1,000 cells, the page's defaults: DDIM 50 steps, classifier-free guidance) until the UMAP holds the
  new set.
* ``trajectory_10x100``: on the Trajectory page (its defaults: 10 points × 100 cells, the default path method,
  guidance and t_start), click *Run trajectory* until the UMAP shows it.
* ``lasso_generate_more``: a lasso dragged on the Generate map (Playwright's mouse), then each click on
  *Generate more like these* until the map holds the new set.
* ``evaluate_first``: on the Evaluate page, the newest set (1,000 cells), click *Evaluate* until the
  report is shown; the first evaluation on a fresh server, so reading the held-out cells is included.
* ``two_sessions``: two browser sessions click *Generate* (1,000 cells each) at the same moment; time
  until both maps are updated, and the server's peak resident memory (VmHWM, whole run).

Results go to benchmarks/results/app_latency.json and are printed as a Markdown table.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks.common import machine, save_json  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
HAS_TRACE = ("(prefix) => [...document.querySelectorAll('.js-plotly-plot')]"
             ".some(e => (e.data || []).some(d => (d.name || '').startsWith(prefix)))")
# the screenshot of the Generate page adds one set of another type (the default model is pbmc68k)
SHOT_COLUMN, SHOT_VALUE = "bulk_labels", "CD19+ B"
SCROLL_TOP = ("() => { for (const e of document.querySelectorAll('[data-testid=\"stMain\"], section.main, "
              "[data-testid=\"stAppViewContainer\"]')) e.scrollTo(0, 0); window.scrollTo(0, 0); }")
# the highest set number "#k " among the traces of the maps (0 when there is none)
MAX_SET = ("() => Math.max(0, ...[...document.querySelectorAll('.js-plotly-plot')].flatMap(e => (e.data || [])"
           ".map(d => { const m = /^#(\\d+) /.exec(d.name || ''); return m ? +m[1] : 0; })))")
MAP = '[data-testid="stPlotlyChart"]'
HAS_TITLE = ("(prefix) => [...document.querySelectorAll('.js-plotly-plot')]"
             ".some(e => ((e.layout && e.layout.title && e.layout.title.text) || '').includes(prefix))")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_status(pid: int) -> dict[str, int]:
    out = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(("VmRSS", "VmHWM")):
                k, v = line.split(":")
                out[k] = int(v.split()[0]) * 1024
    except OSError:
        pass
    return out


def cpu_seconds(pid: int) -> float:
    try:
        f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")
    except OSError:
        return 0.0


def wait_idle(pid: int, timeout: float = 20.0, below: float = 0.1) -> float:
    """Wait until the server uses less than ``below`` of a core over 1 s (background warm-up done)."""
    t0 = time.time()
    while time.time() - t0 < timeout:
        c0 = cpu_seconds(pid)
        time.sleep(1.0)
        if cpu_seconds(pid) - c0 < below:
            break
    return time.time() - t0


def chromium_rss() -> int:
    total = 0
    for p in Path("/proc").iterdir():
        if not p.name.isdigit():
            continue
        try:
            if "chromium" in (p / "comm").read_text():
                total += proc_status(int(p.name)).get("VmRSS", 0)
        except OSError:
            continue
    return total


def compare_threads(checkpoint: str, n: int = 1000, repeats: int = 2) -> dict:
    """Library-level: 1,000 cells with 1 or 2 torch threads, alone and two requests at once."""
    code = r"""
import json, sys, threading, time, torch
torch.set_num_threads(int(sys.argv[2]))
from scdiff_core.model import SCDiffModel
m = SCDiffModel.load(sys.argv[1]); c = m.conditions[0]; v = m.vocab[c][0]
m.generate({c: v}, 16, steps=2)
alone = []
for r in range(int(sys.argv[3])):
    t = time.perf_counter(); m.generate({c: v}, int(sys.argv[4]), seed=r); alone.append(time.perf_counter() - t)
res = {}
def run(i):
    t = time.perf_counter(); m.generate({c: v}, int(sys.argv[4]), seed=10 + i); res[i] = time.perf_counter() - t
t = time.perf_counter(); th = [threading.Thread(target=run, args=(i,)) for i in range(2)]
[x.start() for x in th]; [x.join() for x in th]
print(json.dumps({"alone": alone, "two_at_once_each": [res[0], res[1]], "two_at_once_wall": time.perf_counter() - t}))
"""
    out = {}
    for k in (1, 2):
        r = subprocess.run([sys.executable, "-c", code, checkpoint, str(k), str(repeats), str(n)], cwd=ROOT,
                           capture_output=True, text=True)
        out[str(k)] = json.loads(r.stdout.strip().splitlines()[-1]) if r.returncode == 0 else {"error": r.stderr[-500:]}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoints", help="folder of checkpoints (SCDIFF_CHECKPOINTS); default checkpoints/")
    ap.add_argument("--threads", type=int, default=1, help="SCDIFF_APP_THREADS of the server")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--screenshots", help="save a PNG of each page in this folder")
    ap.add_argument("--compare-threads", action="store_true", help="also time the library with 1 vs 2 threads")
    ap.add_argument("--name", default="app_latency")
    a = ap.parse_args()
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import sync_playwright

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    users = tempfile.mkdtemp(prefix="scdiff-bench-models-")
    env = dict(os.environ, SCDIFF_MODELS=users, SCDIFF_APP_THREADS=str(a.threads),
               SCDIFF_SESSIONS=str(Path(users) / ".sessions"))
    if a.checkpoints:
        env["SCDIFF_CHECKPOINTS"] = str(Path(a.checkpoints).resolve())
    ck_root = Path(env.get("SCDIFF_CHECKPOINTS") or ROOT / "checkpoints")
    res: dict = {"threads": a.threads, "repeats": a.repeats, "checkpoints": str(ck_root),
                 "load_before": os.getloadavg(), "machine": machine()}
    log = open(Path(users) / "streamlit.log", "wb")
    t_launch = time.perf_counter()
    server = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
                               "--server.port", str(port), "--server.address", "127.0.0.1"],
                              cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        while True:
            try:
                if urllib.request.urlopen(url + "/_stcore/health", timeout=2).read() == b"ok":
                    break
            except OSError:
                pass
            if server.poll() is not None:
                raise SystemExit("streamlit exited:\n" + (Path(users) / "streamlit.log").read_text())
            time.sleep(0.1)
        res["start_health"] = time.perf_counter() - t_launch
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            ctx_a = browser.new_context(viewport={"width": 1400, "height": 1000})
            pa = ctx_a.new_page()
            t_goto = time.perf_counter()
            pa.goto(url)
            pa.get_by_role("heading", name="Generate cells").wait_for(timeout=120_000)
            res["start_first_page"] = time.perf_counter() - t_launch
            pa.wait_for_selector(".js-plotly-plot", timeout=120_000)
            res["start_reference_map"] = time.perf_counter() - t_launch
            res["page_open_to_reference_map"] = time.perf_counter() - t_goto
            res["model"] = pa.locator('[data-testid="stSidebar"] input[role="combobox"]').first.input_value()
            res["waited_for_idle_server"] = wait_idle(server.pid)

            def click_and_wait(page, button: str, fn: str, arg: str) -> float:
                t = time.perf_counter()
                page.get_by_role("button", name=button, exact=True).click()
                page.wait_for_function(fn, arg=arg, timeout=90_000)
                return time.perf_counter() - t

            res["generate_1000"] = []
            for k in range(1, a.repeats + 1):
                res["generate_1000"].append(click_and_wait(pa, "Generate", HAS_TRACE, f"#{k} "))
                pa.wait_for_timeout(800)
            pa.get_by_role("link", name="Trajectory").click()
            pa.get_by_role("button", name="Run trajectory").wait_for(timeout=60_000)
            pa.wait_for_selector(".js-plotly-plot", timeout=60_000)
            pa.wait_for_timeout(800)
            res["trajectory_10x100"] = []
            for k in range(1, a.repeats + 1):
                res["trajectory_10x100"].append(click_and_wait(pa, "Run trajectory", HAS_TITLE, f"T{k}:"))
                pa.wait_for_timeout(800)

            # the teaching view: 500 cells × 50 DDIM steps, guided and unguided (the page's defaults)
            pa.get_by_role("link", name="Denoising").click()
            pa.get_by_role("button", name="Run denoising").wait_for(timeout=60_000)
            pa.wait_for_timeout(800)
            res["denoising_500x50"] = []
            for k in range(1, a.repeats + 1):
                res["denoising_500x50"].append(click_and_wait(pa, "Run denoising", HAS_TITLE, f"Run {k}:"))
                pa.wait_for_timeout(800)
            if a.screenshots:
                Path(a.screenshots).mkdir(parents=True, exist_ok=True)
                pa.set_viewport_size({"width": 1400, "height": 1300})
                pa.evaluate(SCROLL_TOP)
                rail = pa.locator(".slider-rail-rect").first.bounding_box()
                if rail:  # plotly's frame slider, at the middle of the denoising where the clusters form
                    pa.mouse.click(rail["x"] + 0.62 * rail["width"], rail["y"] + rail["height"] / 2)
                pa.wait_for_timeout(1500)
                pa.screenshot(path=str(Path(a.screenshots) / "denoising.png"))
                pa.set_viewport_size({"width": 1400, "height": 1000})

            # two sessions at once
            ctx_b = browser.new_context(viewport={"width": 1400, "height": 1000})
            pb = ctx_b.new_page()
            pb.goto(url)
            pb.wait_for_selector(".js-plotly-plot", timeout=120_000)
            pa.get_by_role("link", name="Generate").click()
            pa.wait_for_function(HAS_TRACE, arg=f"#{a.repeats} ", timeout=60_000)
            pa.wait_for_timeout(800)
            peak_rss = {"v": 0}
            stop = threading.Event()

            def sample():
                while not stop.is_set():
                    peak_rss["v"] = max(peak_rss["v"], proc_status(server.pid).get("VmRSS", 0))
                    time.sleep(0.05)

            th = threading.Thread(target=sample, daemon=True)
            th.start()
            t = time.perf_counter()
            pa.get_by_role("button", name="Generate", exact=True).click()
            pb.get_by_role("button", name="Generate", exact=True).click()
            done = {}
            pa.wait_for_function(HAS_TRACE, arg=f"#{a.repeats + 1} ", timeout=180_000)
            done["a"] = time.perf_counter() - t
            pb.wait_for_function(HAS_TRACE, arg="#1 ", timeout=180_000)
            done["b"] = time.perf_counter() - t
            stop.set()
            th.join()
            st = proc_status(server.pid)
            res["two_sessions"] = {"session_a": done["a"], "session_b": done["b"], "both": max(done.values()),
                                   "server_peak_rss_during": peak_rss["v"], "server_vmhwm_whole_run": st.get("VmHWM"),
                                   "chromium_rss_total": chromium_rss()}

            # a lasso drawn on the Generate map, then "Generate more like these" (issue 9: ≤ 3 s)
            pa.evaluate(SCROLL_TOP)
            pa.locator(MAP).first.scroll_into_view_if_needed()
            pa.locator(f'{MAP} .modebar-btn[data-title="Lasso Select"]').first.click(force=True)
            drag = pa.locator(f"{MAP} .nsewdrag").first
            drag.wait_for(timeout=60_000)
            bb = drag.bounding_box()
            x, y, w, h = bb["x"], bb["y"], bb["width"], bb["height"]
            pts = [(0.1, 0.1), (0.6, 0.15), (0.55, 0.7), (0.15, 0.6), (0.1, 0.12)]
            pa.mouse.move(x + pts[0][0] * w, y + pts[0][1] * h)
            pa.mouse.down()
            for fx, fy in pts[1:]:
                pa.mouse.move(x + fx * w, y + fy * h, steps=6)
            pa.mouse.up()
            pa.get_by_text("Selection S1").wait_for(timeout=60_000)
            pa.wait_for_timeout(800)
            res["lasso_generate_more"] = []
            for _ in range(a.repeats):
                before = pa.evaluate(MAX_SET)
                t = time.perf_counter()
                pa.get_by_role("button", name="Generate more like these").click()
                pa.wait_for_function(f"() => ({MAX_SET})() > {before}", timeout=90_000)
                res["lasso_generate_more"].append(time.perf_counter() - t)
                pa.wait_for_timeout(800)

            # Evaluate the newest set: the first click on a fresh server also reads the held-out cells
            pa.get_by_role("link", name="Evaluate").click()
            pa.get_by_role("button", name="Evaluate", exact=True).wait_for(timeout=60_000)
            pa.wait_for_timeout(800)
            res["evaluate_set"] = pa.locator('[data-testid="stMain"] input[role="combobox"]').first.input_value()
            t = time.perf_counter()
            pa.get_by_role("button", name="Evaluate", exact=True).click()
            pa.get_by_text("Download the report").wait_for(timeout=600_000)
            res["evaluate_first"] = time.perf_counter() - t
            pa.get_by_role("link", name="Generate").click()
            pa.wait_for_selector(".js-plotly-plot", timeout=60_000)
            pa.wait_for_timeout(800)

            if a.screenshots:
                out = Path(a.screenshots)
                out.mkdir(parents=True, exist_ok=True)
                # one more set, of another cell type, so the picture shows a comparison
                label = pa.locator("label", has_text=re.compile(rf"^\s*{re.escape(SHOT_COLUMN)}\s*$"))
                try:
                    pa.locator('[data-testid="stSelectbox"]').filter(has=label).first.click(timeout=10_000)
                    pa.get_by_role("option", name=SHOT_VALUE, exact=True).click(timeout=10_000)
                    pa.wait_for_timeout(500)
                    before = pa.evaluate(MAX_SET)
                    pa.get_by_role("button", name="Generate", exact=True).click()
                    pa.wait_for_function(f"() => ({MAX_SET})() > {before}", timeout=60_000)
                except PlaywrightTimeout:
                    print(f"no {SHOT_COLUMN}={SHOT_VALUE} in this model: the screenshot shows the timed sets only")
                pa.set_viewport_size({"width": 1400, "height": 1900})
                pa.evaluate(SCROLL_TOP)
                pa.wait_for_timeout(1500)
                pa.screenshot(path=str(out / "generate.png"))
                pa.get_by_role("link", name="Trajectory").click()
                pa.wait_for_function(HAS_TITLE, arg=f"T{a.repeats}:", timeout=60_000)
                pa.evaluate(SCROLL_TOP)
                pa.wait_for_timeout(1500)
                pa.screenshot(path=str(out / "trajectory.png"))
                pa.get_by_role("link", name="Evaluate").click()
                pa.get_by_role("button", name="Evaluate", exact=True).click()
                pa.get_by_text("Download the report").wait_for(timeout=600_000)
                pa.evaluate(SCROLL_TOP)
                pa.wait_for_timeout(1500)
                pa.screenshot(path=str(out / "evaluate.png"))
                pa.get_by_role("link", name="Models").click()
                pa.get_by_text("Training curves").wait_for(timeout=60_000)
                pa.evaluate(SCROLL_TOP)
                pa.wait_for_timeout(1500)
                pa.screenshot(path=str(out / "models.png"))
                res["screenshots"] = sorted(str(p.relative_to(ROOT) if p.is_relative_to(ROOT) else p)
                                            for p in out.glob("*.png"))
            errors = pa.locator('[data-testid="stAlertContentError"]').count() + \
                pa.locator('[data-testid="stException"]').count()
            res["errors_shown"] = errors
            browser.close()
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
    res["load_after"] = os.getloadavg()
    if a.compare_threads:
        cks = sorted(p for p in ck_root.iterdir() if (p / "config.json").exists())
        pick = next((p for p in cks if p.name == "pbmc68k"), cks[0])
        res["library_threads"] = {"checkpoint": str(pick), **compare_threads(str(pick))}
    path = save_json(a.name, res)
    med = lambda xs: sorted(xs)[len(xs) // 2]  # noqa: E731
    ts = res["two_sessions"]
    print(f"| measure | value | target |\n|---|---|---|\n"
          f"| start → server healthy | {res['start_health']:.1f} s | |\n"
          f"| start → first page (title) | {res['start_first_page']:.1f} s | ≤ 6 s |\n"
          f"| start → reference UMAP drawn | {res['start_reference_map']:.1f} s | |\n"
          f"| Generate 1,000 cells → updated UMAP | median {med(res['generate_1000']):.2f} s "
          f"(runs {', '.join(f'{x:.2f}' for x in res['generate_1000'])}) | ≤ 2.5 s |\n"
          f"| Trajectory 10 × 100 → UMAP | median {med(res['trajectory_10x100']):.2f} s "
          f"(runs {', '.join(f'{x:.2f}' for x in res['trajectory_10x100'])}) | ≤ 2.5 s |\n"
          f"| Denoising view 500 cells × 50 steps (guided + unguided) → map | median "
          f"{med(res['denoising_500x50']):.2f} s (runs {', '.join(f'{x:.2f}' for x in res['denoising_500x50'])}) | ≤ 5 s |\n"
          f"| lasso selection → Generate more like these → map | median {med(res['lasso_generate_more']):.2f} s "
          f"(runs {', '.join(f'{x:.2f}' for x in res['lasso_generate_more'])}) | ≤ 3 s |\n"
          f"| Evaluate a 1,000-cell set, first on this server (held-out cells read) | {res['evaluate_first']:.1f} s "
          f"| ≤ 15 s |\n"
          f"| two sessions generating 1,000 cells at once | {ts['both']:.2f} s for both | |\n"
          f"| server peak memory (VmHWM, whole run) | {ts['server_vmhwm_whole_run'] / 2**20:.0f} MiB | ≤ 2 GB |\n"
          f"| chromium, two sessions (RSS sum) | {ts['chromium_rss_total'] / 2**20:.0f} MiB | |")
    print(f"load average before {res['load_before']}, after {res['load_after']}; errors shown: {res['errors_shown']}")
    if "library_threads" in res:
        print(json.dumps(res["library_threads"], indent=1))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
