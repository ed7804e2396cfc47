"""A headless Chromium for the tests, driven over the DevTools protocol (websocket-client).

`Chromium` starts the Debian `chromium` with a throwaway profile and no network services of its
own, opens one page, and offers what the HTML report's tests need: load a file and collect
what the console said (errors included: CSP violations, failed loads, exceptions), every
request the page made, the page's own load timing, a value computed in the page, and a
screenshot. `close()` ends the browser (and is called even when a test fails).
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import websocket

from tests.support import timeout

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

FLAGS = (
    "--headless",
    "--no-sandbox",  # root in a container: the sandbox needs user namespaces
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    "--no-default-browser-check",
    "--remote-debugging-port=0",
    "--remote-debugging-address=127.0.0.1",
)


@dataclass
class Load:
    """What loading a page showed: console messages by level, requests, and timings (ms)."""

    console: list[tuple[str, str]] = field(default_factory=list)  # (level, text)
    requests: list[str] = field(default_factory=list)
    wall_ms: float = 0.0  # from the navigation command to the load event, seen from outside
    timing: dict[str, float] = field(default_factory=dict)  # the page's navigation timing

    @property
    def errors(self) -> list[str]:
        return [text for level, text in self.console if level in ("error", "assert")]


class Chromium:
    """One headless browser with one page; use it as a context manager."""

    def __init__(self, profile: Path, width: int = 1100, height: int = 800) -> None:
        assert CHROMIUM, "chromium is not installed (apt-get install chromium)"
        self._proc = subprocess.Popen(
            [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}",
             "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            port = _devtools_port(profile / "DevToolsActivePort", self._proc)
            self._ws = websocket.create_connection(
                _page_url(port), timeout=timeout(10), suppress_origin=True
            )
        except BaseException:
            self._stop()
            raise
        self._next_id = 0
        self._events: list[dict[str, Any]] = []
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.send(f"{domain}.enable")
        self.send(
            "Emulation.setDeviceMetricsOverride",
            width=width, height=height, deviceScaleFactor=1, mobile=False,
        )  # fmt: skip

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        """Call a DevTools method and return its result; events that come meanwhile are kept."""
        self._next_id += 1
        ident = self._next_id
        self._ws.send(json.dumps({"id": ident, "method": method, "params": params}))
        while True:
            message = json.loads(self._ws.recv())
            if message.get("id") == ident:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})  # type: ignore[no-any-return]
            self._events.append(message)

    def _wait_for(self, method: str, within: float) -> None:
        deadline = time.monotonic() + within
        while not any(e.get("method") == method for e in self._events):
            self._ws.settimeout(max(0.01, deadline - time.monotonic()))
            self._events.append(json.loads(self._ws.recv()))
        self._ws.settimeout(timeout(10))

    def load(self, path: Path) -> Load:
        """Open `path` (file://) and wait for its load event; return what happened."""
        self._events.clear()
        started = time.perf_counter()
        self.send("Page.navigate", url=path.resolve().as_uri())
        self._wait_for("Page.loadEventFired", timeout(20))
        wall_ms = (time.perf_counter() - started) * 1000
        self.evaluate("1")  # lets messages sent during the load arrive first
        load = Load(wall_ms=wall_ms, timing=self.evaluate(_TIMING))
        for event in self._events:
            _note(event, load)
        return load

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (DevTools runs it, not the page)."""
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def screenshot(
        self, path: Path, full_page: bool = False, clip: dict[str, float] | None = None
    ) -> Path:
        """Save a PNG of the viewport, the whole page, or `clip` (x, y, width, height, scale)."""
        params: dict[str, Any] = {"format": "png", "captureBeyondViewport": full_page or bool(clip)}
        if clip:
            params["clip"] = clip
        data = self.send("Page.captureScreenshot", **params)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data["data"]))
        return path

    def close(self) -> None:
        try:
            self._ws.close()
        finally:
            self._stop()

    def _stop(self) -> None:
        self._proc.terminate()
        try:
            self._proc.wait(timeout(10))
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait(timeout(10))


_TIMING = """(() => {
  const n = performance.getEntriesByType('navigation')[0];
  const paint = Object.fromEntries(performance.getEntriesByType('paint')
    .map(p => [p.name, p.startTime]));
  return {domContentLoaded: n.domContentLoadedEventEnd, load: n.loadEventEnd,
          firstContentfulPaint: paint['first-contentful-paint'] ?? -1,
          bytes: n.decodedBodySize};
})()"""


def _note(event: dict[str, Any], load: Load) -> None:
    method, params = event.get("method"), event.get("params", {})
    if method == "Runtime.consoleAPICalled":
        text = " ".join(str(arg.get("value", arg.get("description"))) for arg in params["args"])
        load.console.append((params["type"], text))
    elif method == "Runtime.exceptionThrown":
        load.console.append(("error", json.dumps(params["exceptionDetails"])))
    elif method == "Log.entryAdded":
        load.console.append((params["entry"]["level"], params["entry"]["text"]))
    elif method == "Network.requestWillBeSent":
        load.requests.append(params["request"]["url"])
    elif method == "Network.loadingFailed":
        load.console.append(("error", f"loading failed: {params.get('errorText')}"))


def _devtools_port(active_port: Path, proc: subprocess.Popen[bytes]) -> int:
    """The port Chromium chose: the first line of DevToolsActivePort in its profile."""
    deadline = time.monotonic() + timeout(20)
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"chromium exited with {proc.returncode} before it listened")
        try:
            first = active_port.read_text().splitlines()[0]
            return int(first)
        except (OSError, IndexError, ValueError):
            time.sleep(0.05)
    raise TimeoutError("chromium did not open its DevTools port")


def _page_url(port: int) -> str:
    """The DevTools websocket URL of the browser's page."""
    deadline = time.monotonic() + timeout(10)
    while True:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=5) as reply:
            pages = [t for t in json.load(reply) if t.get("type") == "page"]
        if pages:
            return str(pages[0]["webSocketDebuggerUrl"])
        if time.monotonic() > deadline:
            raise TimeoutError("chromium has no page")
        time.sleep(0.05)
