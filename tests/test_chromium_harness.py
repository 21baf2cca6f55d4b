"""The real-browser harness (tests/chromium.py) is not a toy: it sees requests, cuts them, sees the console,
drives a real mouse and takes real screenshots. Every page here is a tiny file written to tmp_path."""

from __future__ import annotations

import threading
import urllib.request
import warnings
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import chromium as harness
import pytest


def page(tmp_path: Path, body: str, name: str = "page.html") -> Path:
    """Write a small HTML page into tmp_path and return its path."""
    path = tmp_path / name
    path.write_text(f"<!doctype html><html><head><meta charset='utf-8'><title>t</title></head>"
                    f"<body>{body}</body></html>", encoding="utf-8")
    return path


class _Probe(BaseHTTPRequestHandler):
    hits: list[str]

    def do_GET(self) -> None:
        self.hits.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Access-Control-Allow-Origin", "*")
        self.end_headers()
        self.wfile.write(b"reached")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def probe() -> Iterator[tuple[int, list[str]]]:
    """A live HTTP server on 127.0.0.1 that counts what reaches it: (port, hits)."""
    hits: list[str] = []
    handler = type("Probe", (_Probe,), {"hits": hits})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    port = server.server_address[1]
    # Positive control: the server is reachable from this machine, so zero hits from the browser means the
    # browser was cut off, not that the server was down.
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/control", timeout=5) as resp:
        assert resp.read() == b"reached"
    assert hits == ["/control"]
    hits.clear()
    try:
        yield port, hits
    finally:
        server.shutdown()
        server.server_close()


NETWORK_PAGE = """
<img id="remote" src="https://example.com/x.png">
<img id="loop" src="http://localhost:{port}/img.png">
<script>
  const imgs = [...document.images].map(img => new Promise(res => {{
    if (img.complete) res(img.naturalWidth ? 'loaded' : 'error');
    img.onload = () => res('loaded'); img.onerror = () => res('error');
  }}));
  const fetches = ['http://example.org/', 'http://127.0.0.1:{port}/probe']
    .map(u => fetch(u).then(r => r.text()).then(t => 'fetched ' + t, e => 'rejected'));
  const socket = new Promise(res => {{
    const ws = new WebSocket('ws://127.0.0.1:{port}/ws');
    ws.onopen = () => res('open'); ws.onerror = () => res('error');
  }});
  Promise.all([...imgs, ...fetches, socket]).then(out => {{ window.outcome = out; window.atlasReady = true; }});
</script>
"""


# ---- (1) a clean page --------------------------------------------------------------------------------------

@pytest.mark.browser
def test_clean_page_is_offline_error_free_and_reports_ready(chromium, tmp_path):
    path = page(tmp_path, """
      <div id="map">map</div>
      <img src="data:image/gif;base64,R0lGODlhAQABAAAAACH5BAEKAAEALAAAAAABAAEAAAICTAEAOw==">
      <script>
        const url = URL.createObjectURL(new Blob(['{"ok": 1}'], {type: 'application/json'}));
        fetch(url).then(r => r.json()).then(j => {
          setTimeout(() => { window.atlasReadyAt = performance.now(); window.atlasReady = j.ok === 1; }, 120);
        });
      </script>""")
    report = chromium.open(path, ready="window.atlasReady === true", ready_js="window.atlasReadyAt")

    assert report.requests[0] == path.resolve().as_uri()
    assert report.request_log[0].status == 200 and report.request_log[0].resource_type == "Document"
    assert any(u.startswith("blob:") for u in report.requests), report.requests  # blob fetch was recorded
    assert report.external_requests == []
    report.assert_offline()
    assert report.failed_requests == []
    assert report.console_errors == []
    report.assert_no_console_errors()
    # The page's own ready time, and the harness's observation a few ms after it.
    assert isinstance(report.ready_value, (int, float))  # JSON: a whole number arrives as int
    assert 120 <= report.ready_value <= report.ready_ms < 10_000


@pytest.mark.browser
def test_ready_condition_that_never_holds_times_out_with_the_console(chromium, tmp_path):
    path = page(tmp_path, "<script>console.error('never ready'); window.atlasReady = false;</script>")
    with pytest.raises(harness.PageNotReady, match="never ready") as info:
        chromium.open(path, ready="window.atlasReady === true", timeout=0.3)
    assert info.value.report.console_errors


@pytest.mark.browser
def test_plain_open_waits_for_document_complete(chromium, tmp_path):
    report = chromium.open(page(tmp_path, "<p>plain</p>"))
    assert report.ready_value is None and report.ready_ms > 0
    assert chromium.run_js("return document.readyState") == "complete"
    assert chromium.run_js("return document.querySelector(arguments[0]).textContent", "p") == "plain"
    with pytest.raises(FileNotFoundError):
        chromium.open(tmp_path / "missing.html")


# ---- (2) requests to the network are recorded and cut ------------------------------------------------------

@pytest.mark.browser
def test_network_requests_are_recorded_and_never_reach_the_network(chromium, tmp_path, probe):
    port, hits = probe
    report = chromium.open(page(tmp_path, NETWORK_PAGE.format(port=port)), ready="window.atlasReady === true")

    wanted = ["https://example.com/x.png", "http://example.org/",
              f"http://localhost:{port}/img.png", f"http://127.0.0.1:{port}/probe", f"ws://127.0.0.1:{port}/ws"]
    for url in wanted:
        assert url in report.requests, (url, report.requests)
        assert url in report.external_requests
    failed = {r.url: r for r in report.failed_requests}
    for url in wanted:
        assert url in failed and failed[url].status is None, report.summary()
        assert failed[url].error == "net::ERR_INTERNET_DISCONNECTED"
    assert chromium.run_js("return window.outcome") == ["error", "error", "rejected", "rejected", "error"]
    assert hits == []  # the live loopback server saw nothing
    with pytest.raises(AssertionError, match="example.com"):
        report.assert_offline()
    # Failed loads are console errors too.
    assert any("example.com/x.png" in m.text and m.source == "network" for m in report.console_errors)


@pytest.mark.browser
def test_dead_proxy_still_cuts_when_the_emulation_is_lifted(chromium, tmp_path, probe):
    """The second layer on its own: without the DevTools offline emulation, the dead proxy refuses all."""
    port, hits = probe
    path = page(tmp_path, NETWORK_PAGE.format(port=port))
    chromium.open("about:blank")
    try:
        chromium.cut_network(offline=False)
        chromium.driver.get(path.resolve().as_uri())
        chromium.wait_for("window.atlasReady === true")
        report = chromium.collect()
        errors = {r.url: r.error for r in report.failed_requests}
    finally:
        chromium.cut_network(offline=True)
    assert errors.get("https://example.com/x.png") == "net::ERR_PROXY_CONNECTION_FAILED", errors
    assert errors.get(f"http://127.0.0.1:{port}/probe") == "net::ERR_PROXY_CONNECTION_FAILED", errors
    assert errors.get(f"ws://127.0.0.1:{port}/ws", "").startswith("net::"), errors
    assert hits == []
    # And open() puts the emulation back.
    report = chromium.open(path, ready="window.atlasReady === true")
    assert {r.error for r in report.failed_requests} == {"net::ERR_INTERNET_DISCONNECTED"}


@pytest.mark.browser
def test_browser_runs_with_the_required_flags(chromium):
    command_line = chromium.driver.execute_cdp_cmd("Browser.getBrowserCommandLine", {})["arguments"]
    required = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--no-first-run", "--proxy-bypass-list=<-loopback>"]
    for flag in required:
        assert any(arg == flag or arg.startswith(flag + "=") for arg in command_line), (flag, command_line)
    assert any(arg.startswith("--proxy-server=http://127.0.0.1:") for arg in command_line)
    assert any(arg.startswith("--host-resolver-rules=MAP * ~NOTFOUND") for arg in command_line)
    assert any(arg.startswith("--user-data-dir=") for arg in command_line)


# ---- (3) console errors ------------------------------------------------------------------------------------

@pytest.mark.browser
def test_console_error_is_reported(chromium, tmp_path):
    report = chromium.open(page(tmp_path, "<script>console.warn('careful'); console.error('boom');</script>"))
    assert [m.source for m in report.console_errors] == ["console-api"]
    assert '"boom"' in report.console_errors[0].text
    assert ['"careful"' in m.text for m in report.console_warnings] == [True]
    with pytest.raises(AssertionError, match="boom"):
        report.assert_no_console_errors()


@pytest.mark.browser
def test_uncaught_exceptions_and_rejections_are_console_errors(chromium, tmp_path):
    report = chromium.open(page(tmp_path, """<script>
        Promise.reject(new Error('rejected'));
        throw new Error('bad');
      </script>"""))
    texts = [m.text for m in report.console_errors]
    assert any("Uncaught Error: bad" in t for t in texts), texts
    assert any("Error: rejected" in t for t in texts), texts
    assert {m.source for m in report.console_errors} == {"javascript"}


# ---- (4) real mouse ----------------------------------------------------------------------------------------

HOVER_PAGE = """
<style>body { margin: 0 } #box { position: absolute; left: 300px; top: 200px; width: 120px; height: 80px;
  background: teal }</style>
<div id="box">idle</div><div id="log"></div>
<script>
  const box = document.getElementById('box');
  box.addEventListener('mouseover', e => { box.textContent = 'hovered ' + e.isTrusted; });
  box.addEventListener('mouseout', () => { box.textContent = 'left'; });
  box.addEventListener('click', e => {
    document.getElementById('log').textContent = `click ${e.isTrusted} ${e.clientX},${e.clientY}`;
    throw new Error('click handler failed');
  });
</script>
"""


@pytest.mark.browser
def test_hover_and_click_are_real_mouse_events(chromium, tmp_path):
    chromium.open(page(tmp_path, HOVER_PAGE))
    chromium.hover_at(5, 5)  # start away from the box (the pointer persists between pages)
    assert chromium.find("#box").text == "idle"

    chromium.hover("#box")
    assert chromium.find("#box").text == "hovered true"  # isTrusted: a real pointer event, not dispatchEvent
    chromium.hover_at(10, 10)
    assert chromium.find("#box").text == "left"

    chromium.click("#box", offset=(-50, 0))
    assert chromium.find("#log").text == "click true 310,240"
    # An error thrown after the page was ready lands in the same report.
    assert any("click handler failed" in m.text for m in chromium.report.console_errors)


# ---- (5) screenshots ---------------------------------------------------------------------------------------

@pytest.mark.browser
def test_screenshot_writes_the_rendered_viewport_as_png(chromium, tmp_path):
    rasterio = pytest.importorskip("rasterio")
    chromium.open(page(tmp_path, "<style>html, body { margin: 0; height: 100%; background: rgb(255, 0, 0) }"
                                 "</style><div style='position:absolute;left:0;top:0;width:100px;height:100px;"
                                 "background:rgb(0,0,255)'></div>"))
    out = chromium.screenshot(tmp_path / "shots" / "red.png")
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 100
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # not georeferenced
        with rasterio.open(out) as png:
            assert (png.width, png.height) == chromium.window_size
            rgb = png.read()[:3]
    assert rgb[:, 50, 50].tolist() == [0, 0, 255]
    assert rgb[:, 450, 640].tolist() == [255, 0, 0]


# ---- without a browser -------------------------------------------------------------------------------------

def test_selenium_manager_is_never_consulted(monkeypatch):
    pytest.importorskip("selenium")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.driver_finder import DriverFinder
    from selenium.webdriver.common.selenium_manager import SeleniumManager

    def forbidden(*args, **kwargs):
        raise AssertionError("Selenium Manager was called")

    monkeypatch.setattr(SeleniumManager, "binary_paths", forbidden)
    monkeypatch.setattr(harness.Path, "is_file", lambda self: True)  # works even where the driver is absent
    options = webdriver.ChromeOptions()
    options.binary_location = str(harness.CHROMIUM)
    finder = DriverFinder(Service(executable_path=str(harness.CHROMEDRIVER)), options)
    assert finder.get_driver_path() == str(harness.CHROMEDRIVER)


@pytest.mark.parametrize("ci, outcome", [("", pytest.skip.Exception), ("true", pytest.fail.Exception),
                                         ("false", pytest.skip.Exception)])
def test_missing_browser_skips_locally_but_fails_under_ci(monkeypatch, tmp_path, ci, outcome):
    monkeypatch.setattr(harness, "CHROMIUM", tmp_path / "no-chromium")
    monkeypatch.setenv("CI", ci)
    with pytest.raises(outcome, match="no-chromium"):
        harness.require_browser()


@pytest.mark.parametrize("url, local", [("file:///tmp/a.html", True), ("data:text/plain,x", True),
                                        ("blob:file:///1234", True), ("about:blank", True),
                                        ("https://example.com/", False), ("ws://localhost:1/", False),
                                        ("chrome://version", False)])
def test_is_local_url(url, local):
    assert harness.is_local_url(url) is local
