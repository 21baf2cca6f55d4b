"""Headless Chromium for the browser tests: Debian's ``/usr/bin/chromium`` driven by Playwright, network cut.

Fixtures (exposed by ``tests/conftest.py``; mark browser tests ``@pytest.mark.browser``)
-----------------------------------------------------------------------------------------
browser_page
    A fresh :class:`BrowserPage` for each test: its own browser context (a 1280×900 viewport, no shared
    cookies or storage) in the one Chromium that the session launches. ``browser_page.page`` is the
    Playwright ``Page``; ``requests`` lists the URL of every request the page attempted (allowed or cut,
    in order); ``failures`` maps a URL to why it failed; ``console_errors`` holds ``console.error`` calls,
    uncaught exceptions and rejections, and failed loads. Helpers: ``open(path_or_url, ready=JS)``,
    ``js(expression, arg)``, ``wait_for(JS)``, ``count(css)``, ``hover_at(x, y)``, ``hover(css)``,
    ``click(css)``, ``screenshot(path)``, ``allow(origin)``, ``external_requests``, ``assert_offline()``,
    ``assert_no_console_errors()``. Logs accumulate over the test (every page it opened).
built_site (in ``tests/conftest.py``)
    Path to the default site, built once per run by ``atlas.workflow.defaults.build`` (``atlas build``),
    shared by every test and xdist worker: read it, never write into it (copy it to ``tmp_path`` first).

The network cut: the context is offline (``context.set_offline(True)``) and routes every request and
WebSocket through a handler that aborts all but ``file:``, ``data:``, ``blob:`` and ``about:`` URLs and the
origins a test allowed with :meth:`BrowserPage.allow` (its own loopback server; allowing one lifts the
offline switch, which would block loopback too). Each attempt is recorded before it is routed.

Without Playwright or the browser the tests skip with the reason, or fail when ``CI`` is set. The browser
is never downloaded: do not run ``playwright install``.

Usage::

    @pytest.mark.browser
    def test_map(browser_page, built_site):
        browser_page.open(built_site / "national.html", ready="window.atlasReady === true")
        assert browser_page.count("path.atlas-pilot") == 87
        browser_page.assert_offline(), browser_page.assert_no_console_errors()
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

CHROMIUM = Path("/usr/bin/chromium")
#: The launch flags the project requires.
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run")
LOCAL_SCHEMES = frozenset({"file", "data", "blob", "about"})
VIEWPORT = {"width": 1280, "height": 900}


def origin(url: str) -> str:
    """``scheme://host:port`` of a URL."""
    return "{0.scheme}://{0.netloc}".format(urlsplit(url))


class BrowserPage:
    """One page in its own offline browser context, with its request and console logs.

    Parameters
    ----------
    browser : playwright.sync_api.Browser
        A running Chromium (see :func:`offline_browser`).
    """

    def __init__(self, browser: Any) -> None:
        self.requests: list[str] = []
        self.failures: dict[str, str] = {}
        self.console_errors: list[str] = []
        self.allowed: set[str] = set()
        self.context = browser.new_context(viewport=VIEWPORT)
        self.context.set_offline(True)
        self.context.on("request", lambda request: self.requests.append(request.url))
        self.context.on("requestfailed", lambda request: self.failures.setdefault(request.url, request.failure))
        self.context.route("**/*", self._route)
        self.context.route_web_socket("**/*", self._route_socket)
        self.page = self.context.new_page()
        self.page.on("console", lambda msg: msg.type == "error" and self.console_errors.append(
            f"{msg.text} ({msg.location.get('url', '')}:{msg.location.get('lineNumber', '')})"))
        self.page.on("pageerror", lambda exc: self.console_errors.append(f"uncaught {exc}"))

    def local(self, url: str) -> bool:
        """Tell whether a URL may load: a local scheme or an allowed origin."""
        return urlsplit(url).scheme.lower() in LOCAL_SCHEMES or origin(url) in self.allowed

    def _route(self, route: Any) -> None:
        if self.local(route.request.url):
            route.continue_()
        else:
            route.abort("internetdisconnected")

    def _route_socket(self, socket: Any) -> None:
        self.requests.append(socket.url)
        if self.local(socket.url):
            socket.connect_to_server()
        else:  # never connected: the page sees the socket close
            self.failures[socket.url] = "net::ERR_INTERNET_DISCONNECTED"
            socket.close(code=1011, reason="network cut")

    def allow(self, url: str) -> None:
        """Let the page reach one origin (the test's own loopback server) and lift the offline switch."""
        assert urlsplit(url).hostname in ("127.0.0.1", "localhost", "::1"), f"{url} is not loopback"
        self.allowed.add(origin(url))
        self.context.set_offline(False)

    def open(self, target: str | os.PathLike[str], ready: str | None = None, timeout: float = 30) -> BrowserPage:
        """Go to a file (made a ``file://`` URL) or URL; wait for the JS expression ``ready`` if given."""
        if isinstance(target, str) and ("://" in target or target.startswith("about:")):
            url = target
        elif (path := Path(target).resolve()).is_file():
            url = path.as_uri()
        else:
            raise FileNotFoundError(f"no page to open at {path}")
        self.page.goto(url, timeout=timeout * 1000)
        if ready:
            self.wait_for(ready, timeout)
        return self

    def wait_for(self, expression: str, timeout: float = 10) -> None:
        """Wait until a JavaScript expression is truthy in the page."""
        self.page.wait_for_function(expression, timeout=timeout * 1000)

    def js(self, expression: str, arg: Any = None) -> Any:
        """Evaluate a JS expression or function (``"(a) => ..."``, called with ``arg``) in the page."""
        return self.page.evaluate(expression, arg)

    def count(self, css: str) -> int:
        """Number of elements matching a CSS selector."""
        return self.page.locator(css).count()

    def hover_at(self, x: float, y: float) -> None:
        """Move the real mouse pointer to viewport coordinates (CSS pixels)."""
        self.page.mouse.move(x, y)

    def hover(self, css: str) -> None:
        """Move the real mouse over the first element matching ``css`` (trusted events)."""
        self.page.locator(css).first.hover()

    def click(self, css: str) -> None:
        """Click the first element matching ``css`` with the real mouse (trusted events)."""
        self.page.locator(css).first.click()

    def screenshot(self, path: str | os.PathLike[str]) -> Path:
        """Save the viewport as a PNG (parent folders created)."""
        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(out))
        return out

    @property
    def external_requests(self) -> list[str]:
        """Attempted requests that would have needed the network."""
        return [url for url in self.requests if not self.local(url)]

    def assert_offline(self) -> None:
        """Fail when the page attempted any request beyond local URLs and allowed origins."""
        assert not self.external_requests, f"requests beyond file://: {self.external_requests}"

    def assert_no_console_errors(self) -> None:
        """Fail when the console saw any error."""
        assert not self.console_errors, "console errors:\n" + "\n".join(self.console_errors)

    def close(self) -> None:
        """Close the page's browser context."""
        self.context.close()


def unavailable_reason() -> str:
    """Why the browser tests cannot run here ('' when they can)."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return 'playwright is not installed (python3 -m pip install -e ".[test]")'
    if not CHROMIUM.is_file():
        return f"{CHROMIUM} is missing (apt-get install chromium)"
    return ""


def require_browser() -> None:
    """Skip the calling test when the browser cannot run here; fail it instead when ``CI`` is set (to
    anything but empty, ``0``, ``false`` or ``no``)."""
    reason = unavailable_reason()
    if reason and os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no"):
        pytest.fail(f"browser tests cannot run under CI: {reason}", pytrace=False)
    if reason:
        pytest.skip(reason)


@contextlib.contextmanager
def offline_browser() -> Iterator[Any]:
    """Launch the system Chromium through Playwright (also for scripts); yields the ``Browser``."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=list(FLAGS))
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="session")
def chromium_browser() -> Iterator[Any]:
    """One headless Chromium for the session (skips, or fails under CI, when it cannot run)."""
    require_browser()
    from playwright.sync_api import Error

    try:
        with offline_browser() as browser:
            yield browser
    except Error as exc:
        pytest.fail(f"headless Chromium did not start: {exc}", pytrace=False)


@pytest.fixture
def browser_page(chromium_browser: Any) -> Iterator[BrowserPage]:
    """A fresh offline page for one test (see the module docstring)."""
    page = BrowserPage(chromium_browser)
    try:
        yield page
    finally:
        page.close()
