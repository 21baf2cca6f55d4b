"""The browser fixture (tests/browser.py) is not a toy: it records and cuts requests (a live loopback
server proves nothing got through), sees console errors, drives a real mouse, runs with the required flags,
and fails instead of skipping under CI. Every page is a tiny file written to tmp_path."""

from __future__ import annotations

import struct
import threading
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import browser
import pytest


def page(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "page.html"
    path.write_text(f"<!doctype html><html><head><meta charset='utf-8'></head><body>{body}</body></html>",
                    encoding="utf-8")
    return path


@pytest.fixture
def probe() -> Iterator[tuple[str, list[str]]]:
    """A live HTTP server on 127.0.0.1 that counts what reaches it: (origin, paths hit)."""
    hits: list[str] = []

    class Probe(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            self.send_response(200)
            self.send_header("Access-Control-Allow-Origin", "*")
            self.end_headers()
            self.wfile.write(b"reached")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Probe)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
    where = f"http://127.0.0.1:{server.server_address[1]}"
    with urllib.request.urlopen(where + "/control", timeout=5) as resp:  # positive control: it is reachable
        assert resp.read() == b"reached"
    hits.clear()
    try:
        yield where, hits
    finally:
        server.shutdown()
        server.server_close()


NETWORK_PAGE = """
<img src="https://example.com/x.png">
<script>
  const img = new Promise(res => {{ const i = document.images[0]; i.onload = () => res('loaded');
    i.onerror = () => res('error'); if (i.complete) res(i.naturalWidth ? 'loaded' : 'error'); }});
  const fetches = ['http://example.org/', '{probe}/probe']
    .map(u => fetch(u).then(r => r.text()).then(t => 'fetched ' + t, e => 'rejected'));
  const socket = new Promise(res => {{ const ws = new WebSocket('{ws}/ws');
    ws.onopen = () => res('open'); ws.onerror = ws.onclose = () => res('closed'); }});
  Promise.all([img, ...fetches, socket]).then(out => {{ window.outcome = out; }});
</script>
"""


@pytest.mark.browser
def test_requests_are_recorded_and_cut(browser_page, tmp_path, probe):
    where, hits = probe
    ws = where.replace("http:", "ws:")
    browser_page.open(page(tmp_path, NETWORK_PAGE.format(probe=where, ws=ws)), ready="window.outcome")
    assert browser_page.js("window.outcome") == ["error", "rejected", "rejected", "closed"]
    assert hits == []  # the live loopback server saw nothing
    wanted = ["https://example.com/x.png", "http://example.org/", f"{where}/probe", f"{ws}/ws"]
    assert sorted(browser_page.external_requests) == sorted(wanted)
    assert set(browser_page.failures) == set(wanted)
    assert browser_page.requests[0].startswith("file://")
    with pytest.raises(AssertionError, match="example.com"):
        browser_page.assert_offline()
    assert any("example.com/x.png" in e or "ERR_INTERNET_DISCONNECTED" in e for e in browser_page.console_errors)


@pytest.mark.browser
def test_route_cuts_alone_and_an_allowed_loopback_origin_is_reached(browser_page, tmp_path, probe):
    where, hits = probe
    path = page(tmp_path, NETWORK_PAGE.format(probe=where, ws="ws://127.0.0.2:9"))
    browser_page.allow("http://127.0.0.1:9")  # lifts the offline switch: only the route cuts now
    browser_page.open(path, ready="window.outcome")
    assert browser_page.js("window.outcome") == ["error", "rejected", "rejected", "closed"]
    assert hits == []
    browser_page.allow(where)
    browser_page.open(path, ready="window.outcome")
    assert browser_page.js("window.outcome") == ["error", "rejected", "fetched reached", "closed"]
    assert hits == ["/probe"]
    assert f"{where}/probe" not in browser_page.external_requests
    assert {"http://example.org/", "https://example.com/x.png"} <= set(browser_page.external_requests)
    with pytest.raises(AssertionError, match="not loopback"):
        browser_page.allow("http://example.org")


@pytest.mark.browser
def test_console_errors_uncaught_exceptions_and_rejections(browser_page, tmp_path):
    browser_page.open(page(tmp_path, "<script>console.warn('careful'); console.error('boom');"
                                     "Promise.reject(new Error('rejected')); throw new Error('bad');</script>"))
    browser_page.page.wait_for_timeout(100)  # the rejection is reported after the script ends
    errors = browser_page.console_errors
    assert len(errors) == 3 and "boom" in errors[0], errors
    assert any("bad" in e for e in errors) and any("rejected" in e for e in errors)
    with pytest.raises(AssertionError, match="boom"):
        browser_page.assert_no_console_errors()
    with pytest.raises(FileNotFoundError):
        browser_page.open(tmp_path / "missing.html")


@pytest.mark.browser
def test_hover_click_and_screenshot_are_real(browser_page, tmp_path):
    browser_page.open(page(tmp_path, """
      <style>body { margin: 0; background: rgb(255, 0, 0) } #box { position: absolute; left: 300px; top: 200px;
        width: 120px; height: 80px; background: rgb(0, 0, 255) }</style><div id="box">idle</div><p id="log"></p>
      <script>const box = document.getElementById('box');
        box.onmouseover = e => { box.textContent = 'hovered ' + e.isTrusted; };
        box.onmouseout = () => { box.textContent = 'left'; };
        box.onclick = e => {
          document.getElementById('log').textContent = `click ${e.isTrusted} ${e.clientX},${e.clientY}`; };
      </script>"""))
    box = browser_page.page.locator("#box")
    browser_page.hover("#box")
    assert box.text_content() == "hovered true"  # isTrusted: a real pointer event, not dispatchEvent
    browser_page.hover_at(10, 10)
    assert box.text_content() == "left"
    browser_page.click("#box")
    assert browser_page.page.locator("#log").text_content() == "click true 360,240"
    png = browser_page.screenshot(tmp_path / "shots" / "shot.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", png[16:24]) == (1280, 900)  # IHDR width, height: the viewport


@pytest.mark.browser
def test_browser_is_debians_chromium_with_the_required_flags(chromium_browser):
    page = chromium_browser.new_page()
    try:
        page.goto("chrome://version")
        arguments = page.locator("#command_line").text_content().split()
    finally:
        page.close()
    assert arguments[0] == "/usr/lib/chromium/chromium"  # what Debian's /usr/bin/chromium starts
    assert set(browser.FLAGS) <= set(arguments), arguments


@pytest.mark.parametrize("ci, outcome", [("", pytest.skip.Exception), ("true", pytest.fail.Exception),
                                         ("0", pytest.skip.Exception)])
def test_missing_browser_skips_locally_but_fails_under_ci(monkeypatch, tmp_path, ci, outcome):
    monkeypatch.setattr(browser, "CHROMIUM", tmp_path / "no-chromium")
    monkeypatch.setenv("CI", ci)
    with pytest.raises(outcome, match="no-chromium"):
        browser.require_browser()
