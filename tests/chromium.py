"""A real headless Chromium for the browser tests, with the network cut.

The pages under test are opened from ``file://`` and the browser is kept from reaching any other host by
three independent layers:

1. DevTools network emulation: ``Network.enable`` + ``Network.emulateNetworkConditions(offline=True)`` on
   the page's DevTools session, re-applied before every :meth:`OfflineChromium.open`. Every http(s)/ws(s)
   request the page makes fails inside the browser with ``net::ERR_INTERNET_DISCONNECTED``.
2. A dead proxy: ``--proxy-server`` points to a loopback port that is bound but never listens (so a connect
   is refused at once) and ``--proxy-bypass-list=<-loopback>`` sends even ``localhost`` through it. This also
   covers the browser's own traffic, which the per-page emulation does not see.
3. ``--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost``: no host name resolves.

Every request the page attempts is still *recorded* (ChromeDriver's performance log:
``Network.requestWillBeSent``, ``Network.responseReceived``, ``Network.loadingFailed``), and every console
message (``console.*`` calls, uncaught exceptions and rejections, failed resource loads) is collected from the
``browser`` log, which ChromeDriver fills from ``Runtime.consoleAPICalled``, ``Runtime.exceptionThrown`` and
``Log.entryAdded``. Tests assert on the :class:`PageReport` that :meth:`OfflineChromium.open` returns.

The browser is Debian's ``chromium`` + ``chromium-driver`` (``/usr/bin/chromium``, ``/usr/bin/chromedriver``),
driven by Selenium 4 with an explicit ``Service`` path, so Selenium Manager is never run and nothing is ever
downloaded.

Usage in a test (the ``chromium`` fixture is session-scoped and exposed by ``tests/conftest.py``)::

    @pytest.mark.browser
    def test_map_renders(chromium, tmp_path):
        report = chromium.open(tmp_path / "index.html", ready="window.atlasReady === true",
                               ready_js="window.atlasReadyAt")
        report.assert_offline()
        report.assert_no_console_errors()
        assert report.ready_value < 2000
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self
from urllib.parse import urlsplit

import pytest

try:  # selenium is a test extra: without it the browser tests skip (or fail under CI), the rest still run
    from selenium import webdriver
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.actions.action_builder import ActionBuilder
    from selenium.webdriver.common.by import By
except ImportError:  # pragma: no cover - exercised only where selenium is absent
    webdriver = None  # type: ignore[assignment]

if TYPE_CHECKING:
    from selenium.webdriver.remote.webelement import WebElement

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")

#: URL schemes a page may use without touching the network.
LOCAL_SCHEMES: frozenset[str] = frozenset({"file", "data", "blob", "about"})

#: The launch flags required by the project (plus a fresh ``--user-data-dir`` and the window size).
BASE_FLAGS: tuple[str, ...] = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
)

__all__ = [
    "BASE_FLAGS",
    "CHROMEDRIVER",
    "CHROMIUM",
    "LOCAL_SCHEMES",
    "ConsoleMessage",
    "OfflineChromium",
    "PageNotReady",
    "PageReport",
    "RequestRecord",
    "browser_unavailable_reason",
    "chromium",
    "in_ci",
    "is_local_url",
    "require_browser",
]


def is_local_url(url: str) -> bool:
    """Tell whether a URL can be loaded without any network.

    Parameters
    ----------
    url : str
        Any URL.

    Returns
    -------
    bool
        True for ``file:``, ``data:``, ``blob:`` and ``about:`` URLs.
    """
    return urlsplit(url).scheme.lower() in LOCAL_SCHEMES


@dataclass
class RequestRecord:
    """One request the page attempted, from the DevTools ``Network`` events.

    Attributes
    ----------
    request_id : str
        DevTools request id.
    url : str
        The requested URL (``data:`` URLs are kept whole).
    method : str
        HTTP method (``GET`` for file and data URLs).
    resource_type : str
        DevTools resource type (``Document``, ``Image``, ``Fetch``, ``Script``, ...); empty if unknown.
    status : int or None
        Response status, if a response was received (file URLs report 200).
    error : str or None
        ``errorText`` of ``Network.loadingFailed`` (e.g. ``net::ERR_INTERNET_DISCONNECTED``), if it failed.
    blocked_reason : str or None
        ``blockedReason`` of ``Network.loadingFailed``, if the browser blocked it.
    """

    request_id: str
    url: str
    method: str = "GET"
    resource_type: str = ""
    status: int | None = None
    error: str | None = None
    blocked_reason: str | None = None

    @property
    def failed(self) -> bool:
        """bool: True when ``Network.loadingFailed`` was seen for this request."""
        return self.error is not None

    @property
    def local(self) -> bool:
        """bool: True when the URL needs no network (see :func:`is_local_url`)."""
        return is_local_url(self.url)


@dataclass
class ConsoleMessage:
    """One entry of the browser console.

    Attributes
    ----------
    level : str
        ``"error"``, ``"warning"``, ``"info"`` or ``"debug"``.
    source : str
        Where it came from: ``"console-api"`` (``console.*``), ``"javascript"`` (uncaught exception or
        rejection), ``"network"`` (failed resource load), ...
    text : str
        The message as ChromeDriver reports it, prefixed with the script location, e.g.
        ``file:///tmp/p.html 4:8 "boom"`` or ``file:///tmp/p.html 6:25 Uncaught Error: bad``.
    timestamp : float
        Milliseconds since the Unix epoch.
    """

    level: str
    source: str
    text: str
    timestamp: float = 0.0

    def __str__(self) -> str:
        return f"[{self.level}/{self.source}] {self.text}"


_LEVELS = {"SEVERE": "error", "WARNING": "warning", "INFO": "info", "DEBUG": "debug", "FINE": "debug"}


@dataclass
class PageReport:
    """What one page did: its requests, its console, and when it was ready.

    The report of the current page keeps growing: :meth:`OfflineChromium.hover`, :meth:`~OfflineChromium.click`,
    :meth:`~OfflineChromium.run_js`, :meth:`~OfflineChromium.wait_for` and :meth:`~OfflineChromium.collect`
    add what happened since.

    Attributes
    ----------
    url : str
        The URL that was opened.
    ready_ms : float
        ``performance.now()`` (milliseconds since navigation start) at the moment the harness saw the ready
        condition true (polled every few milliseconds inside the page); with no condition, when the document
        was complete.
    ready_value : Any
        The value of the ``ready_js`` expression evaluated right after the page was ready (e.g.
        ``window.atlasReadyAt``); None when no expression was given.
    request_log : list of RequestRecord
        Every request the page attempted, in order.
    console_messages : list of ConsoleMessage
        Every console entry, in order.
    """

    url: str
    ready_ms: float = float("nan")
    ready_value: Any = None
    request_log: list[RequestRecord] = field(default_factory=list)
    console_messages: list[ConsoleMessage] = field(default_factory=list)

    @property
    def requests(self) -> list[str]:
        """list of str: the URL of every attempted request, in order (the page itself first)."""
        return [r.url for r in self.request_log]

    @property
    def failed_requests(self) -> list[RequestRecord]:
        """list of RequestRecord: the requests that failed (``Network.loadingFailed``)."""
        return [r for r in self.request_log if r.failed]

    @property
    def external_requests(self) -> list[str]:
        """list of str: attempted URLs whose scheme is not ``file``, ``data``, ``blob`` or ``about``."""
        return [r.url for r in self.request_log if not r.local]

    @property
    def console_errors(self) -> list[ConsoleMessage]:
        """list of ConsoleMessage: console errors, uncaught exceptions and failed resource loads."""
        return [m for m in self.console_messages if m.level == "error"]

    @property
    def console_warnings(self) -> list[ConsoleMessage]:
        """list of ConsoleMessage: console warnings."""
        return [m for m in self.console_messages if m.level == "warning"]

    def assert_offline(self) -> None:
        """Fail unless every attempted URL is ``file:``, ``data:``, ``blob:`` or ``about:``.

        Raises
        ------
        AssertionError
            Listing the offending URLs.
        """
        bad = self.external_requests
        assert not bad, f"{self.url} attempted {len(bad)} non-local request(s): {bad}"

    def assert_no_console_errors(self) -> None:
        """Fail if the console holds any error (including uncaught exceptions and failed loads).

        Raises
        ------
        AssertionError
            Listing the errors.
        """
        errs = self.console_errors
        assert not errs, f"{self.url} logged {len(errs)} console error(s):\n" + "\n".join(map(str, errs))

    def summary(self) -> str:
        """Return a few lines for failure messages: failed requests and console errors/warnings.

        Returns
        -------
        str
        """
        lines = [f"page {self.url} (ready at {self.ready_ms:.0f} ms)"]
        lines += [f"  request failed: {r.url} {r.error}" for r in self.failed_requests]
        lines += [f"  console: {m}" for m in self.console_messages if m.level in ("error", "warning")]
        return "\n".join(lines)


class PageNotReady(TimeoutError):
    """The ready condition did not turn true in time; the message carries the page's report."""

    def __init__(self, message: str, report: PageReport) -> None:
        super().__init__(f"{message}\n{report.summary()}")
        self.report = report


# Polls a condition inside the page; resolves [ok, performance.now(), lastError]. The condition is pasted
# into the script text (not eval'd), so it works under a Content-Security-Policy without 'unsafe-eval'.
_WAIT_JS = """
const done = arguments[arguments.length - 1];
const deadline = performance.now() + arguments[0];
let lastError = null;
const check = () => { try { return Boolean(%s); } catch (e) { lastError = String(e); return false; } };
(function poll() {
  if (document.readyState === 'complete' && check()) { done([true, performance.now(), null]); return; }
  if (performance.now() > deadline) { done([false, performance.now(), lastError]); return; }
  setTimeout(poll, 5);
})();
"""


class OfflineChromium:
    """Headless Chromium with the network cut, recording requests and console messages.

    Parameters
    ----------
    chromium : str or Path
        The browser executable (Debian's launcher script).
    chromedriver : str or Path
        The matching ChromeDriver.
    window_size : tuple of int
        Viewport width and height in CSS pixels (the window is sized so that the viewport, and so every
        screenshot, has exactly this size).
    page_load_timeout : float
        Seconds allowed for a navigation (``driver.get``) to finish.
    pointer_move_ms : int
        Duration of each pointer move of :meth:`hover`, :meth:`hover_at` and :meth:`click` (0: one jump, which
        still fires ``mousemove``/``mouseover``; larger values add intermediate ``mousemove`` events).

    Attributes
    ----------
    driver : selenium.webdriver.Chrome or None
        The WebDriver session while running (for anything the helpers do not cover).
    report : PageReport or None
        The report of the page opened last.
    startup_seconds : float
        How long starting ChromeDriver and the browser took.

    Examples
    --------
    >>> with OfflineChromium() as browser:                        # doctest: +SKIP
    ...     report = browser.open("site/index.html", ready="window.atlasReady === true",
    ...                           ready_js="window.atlasReadyAt")
    ...     browser.hover("path.pilot")
    ...     report.assert_offline(); report.assert_no_console_errors()
    """

    def __init__(self, chromium: str | Path = CHROMIUM, chromedriver: str | Path = CHROMEDRIVER,
                 window_size: tuple[int, int] = (1280, 900), page_load_timeout: float = 30.0,
                 pointer_move_ms: int = 0) -> None:
        self.chromium = Path(chromium)
        self.chromedriver = Path(chromedriver)
        self.window_size = window_size
        self.page_load_timeout = page_load_timeout
        self.pointer_move_ms = pointer_move_ms
        self.driver: Any = None
        self.report: PageReport | None = None
        self._profile: str | None = None
        self._dead_port: socket.socket | None = None
        self._records: dict[str, RequestRecord] = {}
        self.startup_seconds = float("nan")

    # ---- lifecycle -------------------------------------------------------------------------------------
    def launch_flags(self) -> list[str]:
        """Return the command-line flags the browser is started with (after :meth:`start`).

        Returns
        -------
        list of str
        """
        if self._profile is None or self._dead_port is None:
            raise RuntimeError("flags are known only after start()")
        port = self._dead_port.getsockname()[1]
        width, height = self.window_size
        return [
            *BASE_FLAGS,
            f"--user-data-dir={self._profile}",
            f"--window-size={width},{height}",
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost",
            f"--proxy-server=http://127.0.0.1:{port}",
            "--proxy-bypass-list=<-loopback>",
        ]

    def start(self) -> Self:
        """Start ChromeDriver and the browser.

        Returns
        -------
        OfflineChromium
            self.

        Raises
        ------
        RuntimeError
            When selenium is not installed or the executables are missing.
        """
        reason = browser_unavailable_reason(self.chromium, self.chromedriver)
        if reason:
            raise RuntimeError(reason)
        # The dead proxy: bound, never listening, so every connect to it is refused at once; kept open so
        # no other process can take the port while the browser runs.
        self._dead_port = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._dead_port.bind(("127.0.0.1", 0))
        self._profile = tempfile.mkdtemp(prefix="atlas-chromium-")
        options = webdriver.ChromeOptions()
        options.binary_location = str(self.chromium)
        for flag in self.launch_flags():
            options.add_argument(flag)
        options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
        options.add_experimental_option("perfLoggingPrefs", {"enableNetwork": True, "enablePage": False})
        # An explicit driver path: Selenium Manager is skipped entirely (nothing is looked up or downloaded).
        service = Service(executable_path=str(self.chromedriver))
        started = time.perf_counter()
        try:
            self.driver = webdriver.Chrome(service=service, options=options)
        except Exception:
            self.close()
            raise
        self.startup_seconds = time.perf_counter() - started
        self.driver.set_page_load_timeout(self.page_load_timeout)
        self.cut_network()
        self._fit_viewport()
        return self

    def _fit_viewport(self) -> None:
        """Grow the window by the browser UI's size so that the viewport is exactly ``window_size``."""
        drv = self._driver
        width, height = self.window_size
        for _ in range(3):
            inner = drv.execute_script("return [window.innerWidth, window.innerHeight];")
            if list(inner) == [width, height]:
                return
            size = drv.get_window_size()
            drv.set_window_size(size["width"] + width - inner[0], size["height"] + height - inner[1])

    def close(self) -> None:
        """Quit the browser and remove its temporary profile. Safe to call twice."""
        if self.driver is not None:
            try:
                self.driver.quit()
            finally:
                self.driver = None
        if self._dead_port is not None:
            self._dead_port.close()
            self._dead_port = None
        if self._profile is not None:
            shutil.rmtree(self._profile, ignore_errors=True)
            self._profile = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def versions(self) -> dict[str, str]:
        """dict: ``browser``, ``chromedriver`` and ``selenium`` versions of the running session."""
        import selenium

        caps = self._driver.capabilities
        return {"browser": caps.get("browserVersion", "?"),
                "chromedriver": caps.get("chrome", {}).get("chromedriverVersion", "?").split(" ")[0],
                "selenium": selenium.__version__}

    @property
    def _driver(self) -> Any:
        if self.driver is None:
            raise RuntimeError("the browser is not running: call start() or use the `chromium` fixture")
        return self.driver

    # ---- the network cut -------------------------------------------------------------------------------
    def cut_network(self, offline: bool = True) -> None:
        """Switch the DevTools offline emulation of the current tab (on by default, re-applied by :meth:`open`).

        Parameters
        ----------
        offline : bool
            False lifts only this layer (the dead proxy and the resolver rules stay); for tests of the cut.
        """
        drv = self._driver
        drv.execute_cdp_cmd("Network.enable", {})
        drv.execute_cdp_cmd("Network.emulateNetworkConditions", {
            "offline": offline, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1})

    # ---- pages -----------------------------------------------------------------------------------------
    def open(self, target: str | os.PathLike[str], ready: str | None = None, ready_js: str | None = None,
             timeout: float = 30.0) -> PageReport:
        """Open a page and wait until it is ready.

        The tab first goes to ``about:blank`` and the logs are drained, so the report holds only this page.

        Parameters
        ----------
        target : str or path-like
            A local file (made absolute and turned into a ``file://`` URL) or a URL.
        ready : str, optional
            A JavaScript expression that is true once the page is ready, e.g. ``"window.atlasReady === true"``.
            Without it the page is ready when ``document.readyState`` is ``"complete"``.
        ready_js : str, optional
            A JavaScript expression evaluated once ready, returned as ``report.ready_value``, e.g.
            ``"window.atlasReadyAt"``.
        timeout : float
            Seconds to wait for ``ready``.

        Returns
        -------
        PageReport

        Raises
        ------
        FileNotFoundError
            When ``target`` is a path and no file is there.
        PageNotReady
            When ``ready`` is not true within ``timeout``; the exception's report has the console and requests.
        """
        url = _to_url(target)
        drv = self._driver
        drv.get("about:blank")
        self.cut_network()  # always re-cut: a test may have lifted the emulation
        self._drain(None)
        self._records = {}
        self.report = PageReport(url=url)
        drv.get(url)
        self.report.ready_ms = self.wait_for(ready or "true", timeout=timeout)
        if ready_js is not None:
            self.report.ready_value = drv.execute_script(f"return ({ready_js});")
        self.collect()
        return self.report

    def wait_for(self, condition: str, timeout: float = 10.0) -> float:
        """Wait (polling inside the page every ~5 ms) until a JavaScript expression is true.

        Parameters
        ----------
        condition : str
            A JavaScript expression; an exception while evaluating it counts as false.
        timeout : float
            Seconds.

        Returns
        -------
        float
            ``performance.now()`` (ms since navigation start) when the expression was seen true.

        Raises
        ------
        PageNotReady
            On timeout.
        """
        drv = self._driver
        drv.set_script_timeout(timeout + 10)
        ok, now, last_error = drv.execute_async_script(_WAIT_JS % condition, timeout * 1000)
        report = self.collect()
        if not ok:
            extra = f" (last error: {last_error})" if last_error else ""
            raise PageNotReady(f"`{condition}` not true after {timeout:g} s{extra}", report)
        return float(now)

    def collect(self) -> PageReport:
        """Add the requests and console messages seen since the last call to the current report.

        Returns
        -------
        PageReport
            The current page's report.
        """
        if self.report is None:
            raise RuntimeError("no page is open: call open() first")
        self._drain(self.report)
        return self.report

    def _drain(self, report: PageReport | None) -> None:
        drv = self._driver
        perf = drv.get_log("performance")
        console = drv.get_log("browser")
        if report is None:
            return
        for entry in perf:
            message = json.loads(entry["message"])["message"]
            method, params = message.get("method", ""), message.get("params", {})
            if method == "Network.requestWillBeSent":
                req = params["request"]
                url = req["url"] + req.get("urlFragment", "")
                record = RequestRecord(request_id=params["requestId"], url=url, method=req.get("method", "GET"),
                                       resource_type=params.get("type", ""))
                if params["requestId"] in self._records and params.get("redirectResponse"):
                    self._records[params["requestId"]].status = params["redirectResponse"].get("status")
                self._records[params["requestId"]] = record  # a redirect reuses the id: keep the last hop
                report.request_log.append(record)
            elif method == "Network.webSocketCreated":
                record = RequestRecord(request_id=params["requestId"], url=params["url"], resource_type="WebSocket")
                self._records[params["requestId"]] = record
                report.request_log.append(record)
            elif method == "Network.webSocketHandshakeResponseReceived":
                if (record := self._records.get(params["requestId"])) is not None:
                    record.status = params["response"].get("status")
            elif method == "Network.webSocketFrameError":
                record = self._records.get(params["requestId"])
                if record is not None and record.status is None:  # the connection itself failed
                    message = params.get("errorMessage", "")
                    record.error = next((w for w in message.split() if w.startswith("net::")), message or "failed")
            elif method == "Network.responseReceived":
                if (record := self._records.get(params["requestId"])) is not None:
                    record.status = params["response"].get("status")
            elif method == "Network.loadingFailed" and (record := self._records.get(params["requestId"])):
                record.error = params.get("errorText") or "failed"
                record.blocked_reason = params.get("blockedReason")
        for entry in console:
            report.console_messages.append(ConsoleMessage(
                level=_LEVELS.get(entry.get("level", ""), str(entry.get("level", "")).lower()),
                source=entry.get("source", ""), text=entry.get("message", ""),
                timestamp=float(entry.get("timestamp", 0))))

    # ---- interaction -----------------------------------------------------------------------------------
    def run_js(self, script: str, *args: Any) -> Any:
        """Run JavaScript in the page (a function body: use ``return``; ``arguments[i]`` are ``args``).

        Parameters
        ----------
        script : str
            E.g. ``"return document.querySelectorAll(arguments[0]).length"``.
        *args
            JSON-able values or WebElements.

        Returns
        -------
        Any
            The script's return value, converted by WebDriver.
        """
        result = self._driver.execute_script(script, *args)
        if self.report is not None:
            self.collect()
        return result

    def find(self, css_selector: str) -> WebElement:
        """Return the first element matching a CSS selector.

        Parameters
        ----------
        css_selector : str

        Returns
        -------
        WebElement

        Raises
        ------
        selenium.common.exceptions.NoSuchElementException
        """
        return self._driver.find_element(By.CSS_SELECTOR, css_selector)

    def hover(self, css_selector: str, offset: tuple[int, int] | None = None) -> None:
        """Move the real mouse pointer over an element (trusted ``mousemove``/``mouseover`` events).

        Parameters
        ----------
        css_selector : str
            The element; it is scrolled into view if needed.
        offset : tuple of int, optional
            Pixels (x, y) from the element's centre, e.g. to land on the filled part of an SVG path whose
            bounding-box centre lies outside it.
        """
        self._pointer_to(css_selector, offset).perform()
        self.collect_if_open()

    def hover_at(self, x: int, y: int) -> None:
        """Move the real mouse pointer to viewport coordinates (CSS pixels from the top-left corner).

        Parameters
        ----------
        x, y : int
        """
        builder = ActionBuilder(self._driver, duration=self.pointer_move_ms)
        builder.pointer_action.move_to_location(int(x), int(y))
        builder.perform()
        self.collect_if_open()

    def click(self, css_selector: str, offset: tuple[int, int] | None = None) -> None:
        """Click an element with the real mouse (move, press, release at its centre or centre + offset).

        Parameters
        ----------
        css_selector : str
        offset : tuple of int, optional
            Pixels (x, y) from the element's centre.
        """
        self._pointer_to(css_selector, offset).click().perform()
        self.collect_if_open()

    def _pointer_to(self, css_selector: str, offset: tuple[int, int] | None) -> ActionChains:
        """Actions that move the real mouse to an element's centre (+ offset), to be performed."""
        element = self._in_view(css_selector)
        chain = ActionChains(self._driver, duration=self.pointer_move_ms)
        if offset is None:
            return chain.move_to_element(element)
        return chain.move_to_element_with_offset(element, *offset)

    def screenshot(self, path: str | os.PathLike[str]) -> Path:
        """Save a PNG of the viewport.

        Parameters
        ----------
        path : str or path-like
            Where to write; parent folders are created.

        Returns
        -------
        Path
            The written file.
        """
        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(self._driver.get_screenshot_as_png())
        return out

    def collect_if_open(self) -> None:
        """Call :meth:`collect` when a page is open; do nothing otherwise."""
        if self.report is not None:
            self.collect()

    def _in_view(self, css_selector: str) -> WebElement:
        element = self.find(css_selector)
        self._driver.execute_script(
            "arguments[0].scrollIntoView({block: 'nearest', inline: 'nearest'});", element)
        return element


def _to_url(target: str | os.PathLike[str]) -> str:
    if isinstance(target, str) and len(urlsplit(target).scheme) > 1:  # a URL (not a Windows drive letter)
        return target
    path = Path(target).resolve()
    if not path.is_file():
        raise FileNotFoundError(f"no page to open at {path}")
    return path.as_uri()


def browser_unavailable_reason(chromium: str | Path | None = None, chromedriver: str | Path | None = None) -> str:
    """Say why the browser tests cannot run here, or return an empty string when they can.

    Parameters
    ----------
    chromium, chromedriver : str or Path, optional
        Default: :data:`CHROMIUM` and :data:`CHROMEDRIVER`.

    Returns
    -------
    str
    """
    if webdriver is None:
        return 'selenium is not installed (python3 -m pip install -e ".[test]")'
    paths = (Path(chromium or CHROMIUM), Path(chromedriver or CHROMEDRIVER))
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        return f"{' and '.join(missing)} missing (apt-get install chromium chromium-driver)"
    return ""


def in_ci() -> bool:
    """Tell whether the environment variable ``CI`` is set (to anything but empty, ``0``, ``false`` or ``no``).

    Returns
    -------
    bool
    """
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def require_browser() -> None:
    """Skip the calling test when the browser cannot run here, or fail it under CI.

    Raises
    ------
    pytest.skip.Exception
        Locally, when selenium, ``/usr/bin/chromium`` or ``/usr/bin/chromedriver`` is missing.
    pytest.fail.Exception
        The same, when ``CI`` is set: CI must never skip the browser tests silently.
    """
    reason = browser_unavailable_reason()
    if not reason:
        return
    if in_ci():
        pytest.fail(f"browser tests cannot run under CI: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def chromium() -> Iterator[OfflineChromium]:
    """One offline headless Chromium for the whole test session.

    Skips when the browser, its driver or selenium is missing, except under CI (``CI`` set), where it fails
    so the browser tests can never be skipped silently. Mark the tests that use it ``@pytest.mark.browser``.

    Yields
    ------
    OfflineChromium
    """
    require_browser()
    browser = OfflineChromium()
    try:
        browser.start()
    except WebDriverException as exc:
        pytest.fail(f"headless Chromium did not start: {exc}", pytrace=False)
    try:
        yield browser
    finally:
        browser.close()
