"""`pipeline report` in a real browser: headless Chromium, driven by Selenium.

The page must render one timeline bar per stage that ran, with its status class, the
graph's nodes and edges, fit a phone's width, log no console error, and make no network
request of any kind. A screenshot is kept in tests/output/ (ignored by git).

Needs Chromium and its driver (Debian: `apt-get install chromium chromium-driver`).
`make test` (.ci/matrix.py) runs this file in its newest-doit pass only when both are
found, and otherwise prints one line saying it was not run; run it alone with
`python -m pytest tests/test_report_browser.py`. Run directly without a Chromium, it
fails saying what is missing: it is never skipped.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import pytest
from conftest import REPO

OUTPUT = REPO / "tests" / "output"
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
DRIVER_NAMES = ("chromedriver",)
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run",
         "--disable-dev-shm-usage", "--hide-scrollbars")


def find(names) -> str | None:
    return next((found for name in names if (found := shutil.which(name))), None)


@pytest.fixture
def browser():
    chromium, driver_path = find(CHROMIUM_NAMES), find(DRIVER_NAMES)
    if chromium is None or driver_path is None:
        missing = "Chromium" if chromium is None else "chromedriver"
        pytest.fail(f"{missing} not found: install chromium and chromium-driver "
                    f"(Debian: apt-get install chromium chromium-driver), or leave this "
                    f"file to make test, which says when it cannot run it")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="report-browser-")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.add_argument("--window-size=1200,900")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    # the driver given by path: Selenium's own driver manager would go to the network
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


NETWORK = ("http", "https", "ws", "wss", "ftp")


def requests_made(driver, page: str = "") -> list[str]:
    """URLs of the requests in the performance log but `page` itself: any the page made,
    and any request to the network, whatever asked for it. Chromium's own pages (a new
    tab page still loading) fetch chrome:// and data: resources: not the report's."""
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message.get("method") != "Network.requestWillBeSent":
            continue
        params = message["params"]
        url = params["request"]["url"]
        if url == page:
            continue
        if params.get("documentURL") == page or url.split(":", 1)[0].lower() in NETWORK:
            urls.append(url)
    return urls


def test_report_renders_in_chromium_without_network(make_project, browser):
    project = make_project("basic")
    assert project.pipeline("run").code == 0
    assert project.pipeline("run", "--force", "-j", "2",
                            env={"STUB_FAIL": "publish"}).code == 1
    result = project.pipeline("report", "-o", "report.html")
    assert result.code == 0, result.text
    page = project.path("report.html")
    url = page.as_uri()
    statuses = {s["id"]: s["status"] for s in project.last_record()["stages"]}

    requests_made(browser)  # drained: what the browser loaded before the page
    browser.get(url)
    bars = browser.execute_script(
        "return [...document.querySelectorAll('#timeline-svg .bar')].map(b => "
        "({stage: b.dataset.stage, cls: b.getAttribute('class'), "
        "width: b.querySelector('rect').getBoundingClientRect().width}))")
    assert sorted(b["stage"] for b in bars) == sorted(statuses)  # one bar per stage
    for bar in bars:
        assert f"st-{statuses[bar['stage']]}" in bar["cls"].split(), bar
        assert bar["width"] > 1, bar  # drawn, not collapsed
    colours = browser.execute_script(
        "return Object.fromEntries([...document.querySelectorAll('#timeline-svg .bar')]"
        ".map(b => [b.dataset.stage, getComputedStyle(b.querySelector('rect')).fill]))")
    assert colours["publish"] != colours["extract"]  # failed is not drawn as succeeded

    nodes = browser.execute_script(
        "return [...document.querySelectorAll('#graph-svg .node')].map(n => "
        "[n.dataset.stage, n.getAttribute('class'), n.getBoundingClientRect().height])")
    assert {n[0]: n[1] for n in nodes} == {sid: f"node st-{status}"
                                           for sid, status in statuses.items()}
    assert all(n[2] > 10 for n in nodes)
    edges = browser.execute_script(
        "return [...document.querySelectorAll('#graph-svg .edge')].map(e => "
        "[e.dataset.from, e.dataset.to, e.getTotalLength()])")
    assert {(a, b) for a, b, _ in edges} == {("extract", "transform"),
                                             ("transform", "publish")}
    assert all(length > 10 for *_, length in edges)
    assert "publish: failing on purpose" in browser.find_element("id", "failures").text

    # a phone's width: the page itself does not scroll sideways
    browser.set_window_size(390, 844)
    overflow = browser.execute_script(
        "return document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0

    # nothing fetched: no request but the page itself, no resource timing, no error
    assert requests_made(browser, url) == []
    assert browser.execute_script(
        "return performance.getEntriesByType('resource').length") == 0
    errors = [e for e in browser.get_log("browser") if e["level"] in ("SEVERE", "WARNING")]
    assert errors == []

    OUTPUT.mkdir(exist_ok=True)
    browser.set_window_size(1200, 900)
    height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.set_window_size(1200, min(int(height) + 40, 4000))
    shot = OUTPUT / "report-browser.png"
    assert browser.save_screenshot(str(shot))
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert isinstance(Path(shot).stat().st_size, int) and shot.stat().st_size > 10_000


COLOURS_JS = """
const rgb = s => (s.match(/[\\d.]+/g) || []).map(Number);
const out = [];
for (const b of document.querySelectorAll('.badge')) {
  const s = getComputedStyle(b);
  out.push(['badge ' + b.className + ' ' + b.textContent, rgb(s.color),
            rgb(s.backgroundColor), 1]);
}
for (const g of document.querySelectorAll('#graph-svg .node, #timeline-svg .bar')) {
  const shape = g.querySelector('rect'), label = g.querySelector('text');
  const s = getComputedStyle(shape);
  out.push([g.getAttribute('class') + ' ' + label.textContent, rgb(getComputedStyle(label).fill),
            rgb(s.fill), Number(s.fillOpacity)]);
}
return out;
"""


def luminance(rgb) -> float:
    def channel(c: float) -> float:
        c = c / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = (channel(c) for c in rgb[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(text, fill, opacity: float) -> float:
    """WCAG's contrast ratio of `text` on `fill` drawn at `opacity` over the white page."""
    shown = [opacity * c + (1 - opacity) * 255 for c in fill[:3]]
    light, dark = sorted((luminance(text), luminance(shown)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def test_every_status_label_reads_on_its_colour(make_project, browser):
    """A status is a word on a coloured badge, node or bar: on a phone, in the sun, the
    word must read (WCAG AA for normal text, 4.5:1), whatever the status. White on the
    light greys of pending, skipped and up to date did not."""
    project = make_project("basic")
    runs = [(("run",), {}),  # succeeded
            (("run", "--force", "--from", "transform", "--continue-on-error"),
             {"STUB_FAIL": "transform"}),  # skipped, failed, blocked
            (("run",), {}),  # up to date, succeeded
            (("run", "--force"), {"STUB_FAIL": "extract"})]  # failed, pending
    seen = set()
    for args, env in runs:
        project.pipeline(*args, env=env)
        assert project.pipeline("report", "-o", "report.html").code == 0
        browser.get(project.path("report.html").as_uri())
        for what, text, fill, opacity in browser.execute_script(COLOURS_JS):
            seen.update(c for c in what.split() if c.startswith("st-"))
            ratio = contrast(text, fill, opacity)
            assert ratio >= 4.5, f"{what}: {text} on {fill} at {opacity}: {ratio:.1f}:1"
    assert {"st-succeeded", "st-failed", "st-pending", "st-skipped", "st-blocked",
            "st-up-to-date"} <= seen
