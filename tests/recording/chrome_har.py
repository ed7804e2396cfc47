"""A HAR recorded by a real headless Chromium, as Chrome's DevTools "Save all as HAR" writes it.

The page runs a script (`Runtime.evaluate`, awaited) that opens WebSockets; the DevTools
Network events of those sockets become HAR entries with `_resourceType: "websocket"` and
`_webSocketMessages` (devtools-frontend `front_end/models/har/Log.ts`): `time` is the frame's
wall-clock time in Unix seconds (the handshake's `wallTime` plus the monotonic offset), `opcode`
1 or 2, and `data` the payload (base64 for binary, as CDP's `payloadData` carries it).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.browser.chromium import Chromium


def record_har(profile: Path, script: str) -> dict[str, Any]:
    """Run `script` (a JavaScript promise) in Chromium; return the HAR of its sockets."""
    with Chromium(profile) as browser:
        browser._events.clear()  # the launcher keeps the events it saw
        result = browser.send(
            "Runtime.evaluate", expression=script, awaitPromise=True, returnByValue=True
        )
        if "exceptionDetails" in result:
            raise RuntimeError(f"the page's script failed: {result['exceptionDetails']}")
        events = list(browser._events)
    return har_of(events)


def har_of(events: list[dict[str, Any]]) -> dict[str, Any]:
    sockets: dict[str, dict[str, Any]] = {}
    for event in events:
        method, params = event.get("method", ""), event.get("params", {})
        if not method.startswith("Network.webSocket"):
            continue
        socket = sockets.setdefault(params["requestId"], {"messages": []})
        if method == "Network.webSocketCreated":
            socket["url"] = params["url"]
        elif method == "Network.webSocketWillSendHandshakeRequest":
            socket["wall"] = params["wallTime"] - params["timestamp"]
            socket["started"] = params["wallTime"]
            socket["request_headers"] = params["request"]["headers"]
        elif method == "Network.webSocketHandshakeResponseReceived":
            response = params["response"]
            socket["status"] = response["status"]
            socket["response_headers"] = response["headers"]
            socket["request_headers"] = response.get("requestHeaders") or socket.get(
                "request_headers", {}
            )
        elif method in ("Network.webSocketFrameSent", "Network.webSocketFrameReceived"):
            frame = params["response"]
            socket["messages"].append(
                {
                    "type": "send" if method.endswith("Sent") else "receive",
                    "time": socket["wall"] + params["timestamp"],
                    "opcode": frame["opcode"],
                    "data": frame["payloadData"],
                }
            )
    return {"log": {"version": "1.2", "creator": {"name": "WebInspector", "version": "537.36"},
                    "pages": [], "entries": [_entry(s) for s in sockets.values()]}}  # fmt: skip


def _headers(mapping: dict[str, str]) -> list[dict[str, str]]:
    return [
        {"name": name, "value": line}
        for name, value in mapping.items()
        for line in str(value).split("\n")
    ]


def _entry(socket: dict[str, Any]) -> dict[str, Any]:
    started = datetime.fromtimestamp(socket["started"], UTC).isoformat().replace("+00:00", "Z")
    return {
        "startedDateTime": started,
        "time": 0,
        "request": {"method": "GET", "url": socket["url"], "httpVersion": "HTTP/1.1",
                    "headers": _headers(socket.get("request_headers", {})), "queryString": [],
                    "cookies": [], "headersSize": -1, "bodySize": 0},
        "response": {"status": socket.get("status", 101), "statusText": "Switching Protocols",
                     "httpVersion": "HTTP/1.1",
                     "headers": _headers(socket.get("response_headers", {})),
                     "cookies": [], "content": {"size": 0, "mimeType": "x-unknown"},
                     "redirectURL": "", "headersSize": -1, "bodySize": -1},
        "cache": {}, "timings": {"blocked": -1, "dns": -1, "connect": -1, "send": 0, "wait": 0,
                                 "receive": 0, "ssl": -1},
        "_resourceType": "websocket",
        "_webSocketMessages": socket["messages"],
    }  # fmt: skip


def write_har(har: dict[str, Any], path: Path) -> Path:
    path.write_text(json.dumps(har, indent=2), encoding="utf-8")
    return path
