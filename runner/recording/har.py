"""A HAR file -> a recorded session, in the format Chrome's DevTools export writes.

A WebSocket is an entry with ``_resourceType: "websocket"`` whose ``_webSocketMessages`` are
``{type: send|receive, time: <Unix seconds>, opcode: 1|2, data}`` (binary data in base64);
mitmproxy's ``savehar``, HTTP Toolkit and Proxyman write the same. Other entries (HTTP) become
`http` steps (requests the page's code made) or notes (page resources).
"""

from __future__ import annotations

import base64
import binascii
import fnmatch
import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from runner.recording.session import Exchange, Frame, Session

__all__ = ["HarError", "HarImport", "read_har"]

# RFC 6455 5.2: the opcodes of data frames.
_TEXT, _BINARY = 1, 2


class HarError(Exception):
    """A file that is not a HAR wsrun can read; the message says why."""


@dataclass
class HarImport:
    """The session read from a HAR, and what the HAR lacks (warnings)."""

    session: Session
    warnings: list[str] = field(default_factory=list)
    websockets: int = 0
    skipped: int = 0  # WebSocket entries that --only left out


def read_har(path: Path, only: str | None = None) -> HarImport:
    """The WebSocket entries of the HAR at `path` (those whose URL matches the glob `only`)."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        entries = document["log"]["entries"]
    except (OSError, UnicodeDecodeError) as exc:
        raise HarError(f"cannot read {path}: {exc}") from exc
    except (ValueError, KeyError, TypeError) as exc:
        raise HarError(f"{path} is not a HAR file (JSON with log.entries)") from exc
    if not isinstance(entries, list):
        raise HarError(f"{path} is not a HAR file: log.entries is not a list")
    result = HarImport(Session())
    for number, entry in enumerate(entries):
        if not isinstance(entry, dict):
            continue
        if _is_websocket(entry):
            if only and not fnmatch.fnmatchcase(_url(entry), only):
                result.skipped += 1
                continue
            _add_websocket(result, entry, number)
        else:
            _add_http(result, entry)
    result.warnings += _sanitized(entries)
    return result


def _is_websocket(entry: dict[str, Any]) -> bool:
    return entry.get("_resourceType") == "websocket" or "_webSocketMessages" in entry


def _url(entry: dict[str, Any]) -> str:
    url = str(entry.get("request", {}).get("url", ""))
    # Some exporters write the upgrade's http(s):// URL.
    for http, ws in (("http://", "ws://"), ("https://", "wss://")):
        if url.startswith(http):
            return ws + url[len(http) :]
    return url


def _headers(block: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (str(h["name"]), str(h.get("value", "")))
        for h in block.get("headers", [])
        if isinstance(h, dict) and "name" in h and not str(h["name"]).startswith(":")
    ]


def _started(entry: dict[str, Any]) -> float | None:
    try:
        return datetime.fromisoformat(str(entry["startedDateTime"])).timestamp()
    except (KeyError, ValueError):
        return None


def _add_websocket(result: HarImport, entry: dict[str, Any], number: int) -> None:
    request, response = entry.get("request", {}), entry.get("response", {})
    headers = _headers(request)
    protocols = [
        p.strip()
        for name, value in headers
        if name.lower() == "sec-websocket-protocol"
        for p in value.split(",")
        if p.strip()
    ]
    messages = entry.get("_webSocketMessages")
    times = [float(m["time"]) for m in messages or [] if isinstance(m, dict) and "time" in m]
    started = _started(entry) or (min(times) if times else 0.0)
    status = response.get("status") or 101
    connection = result.session.add_connection(
        _url(entry), started, headers=headers, subprotocols=protocols,
        status=101 if status in (0, 101) else int(status),
    )  # fmt: skip
    result.websockets += 1
    if messages is None:
        result.warnings.append(
            f"entry {number} ({connection.url}) has no _webSocketMessages: its frames are missing "
            "(export the HAR from the browser with its content)"
        )
        return
    for message in messages:
        frame = _frame(connection.name, message)
        if frame is None:
            result.warnings.append(
                f"entry {number}: a message that is not a data frame was left out"
            )
        else:
            result.session.frames.append(frame)


def _frame(conn: str, message: Any) -> Frame | None:
    if not isinstance(message, dict) or message.get("type") not in ("send", "receive"):
        return None
    opcode, data = message.get("opcode", _TEXT), str(message.get("data", ""))
    time = float(message.get("time", 0.0))
    if opcode == _TEXT:
        return Frame(conn, message["type"], time, data)
    if opcode == _BINARY:
        try:
            return Frame(conn, message["type"], time, base64.b64decode(data, validate=True))
        except binascii.Error:
            return None
    return None


def _add_http(result: HarImport, entry: dict[str, Any]) -> None:
    """A request the page's code made (fetch, XHR; with no type: not a GET or a JSON answer)
    becomes an `http` step; a page resource (HTML, scripts, images) only a note."""
    request, response = entry.get("request", {}), entry.get("response", {})
    method, url = str(request.get("method", "GET")), str(request.get("url", "?"))
    content = response.get("content", {}) if isinstance(response.get("content"), dict) else {}
    kind = entry.get("_resourceType")
    mime = str(content.get("mimeType", ""))
    if kind not in ("xhr", "fetch") and (
        kind is not None or (method == "GET" and "json" not in mime)
    ):
        result.session.notes.append(
            f"HTTP {method} {url} -> {response.get('status', '?')} (a page resource: not replayed)"
        )
        return
    post = request.get("postData", {}) if isinstance(request.get("postData"), dict) else {}
    text = content.get("text")
    if isinstance(text, str) and content.get("encoding") == "base64":
        text = None  # a binary answer: only its status is checked
    result.session.exchanges.append(
        Exchange(
            time=_started(entry) or 0.0, method=method, url=url, headers=_headers(request),
            body=post.get("text"), mime=str(post.get("mimeType", "")),
            status=int(response.get("status") or 0), response=text,
            sets_cookies=_set_cookies(response),
        )
    )  # fmt: skip


def _set_cookies(response: dict[str, Any]) -> list[str]:
    names = [
        str(c["name"]) for c in response.get("cookies", []) if isinstance(c, dict) and "name" in c
    ]
    names += [
        v.split("=", 1)[0].strip() for n, v in _headers(response) if n.lower() == "set-cookie"
    ]
    return sorted(set(names))


def _sanitized(entries: list[Any]) -> list[str]:
    """What a sanitised export (Chrome's default, for one) left out, as warnings."""
    warnings = []
    stripped: set[str] = set()
    bodies = 0
    for entry in (e for e in entries if isinstance(e, dict)):
        request, response = entry.get("request", {}), entry.get("response", {})
        names = {n.lower() for n, _ in _headers(request)}
        if request.get("cookies") and "cookie" not in names:
            stripped.add("Cookie")
        if response.get("cookies") and "set-cookie" not in {
            n.lower() for n, _ in _headers(response)
        }:
            stripped.add("Set-Cookie")
        for name, value in [*_headers(request), *_headers(response)]:
            if name.lower() in ("cookie", "set-cookie", "authorization") and not value.strip():
                stripped.add(name)
        content = response.get("content", {})
        if not _is_websocket(entry) and content.get("size", 0) > 0 and "text" not in content:
            bodies += 1
    if stripped:
        warnings.append(
            f"the HAR looks sanitized: {', '.join(sorted(stripped))} headers were stripped; "
            "the scenario connects without them (add them as ${env.NAME} headers if the "
            "service needs them)"
        )
    if bodies:
        warnings.append(
            f"the HAR looks sanitized: {bodies} HTTP response bodies are missing "
            "(response.content has no text)"
        )
    return warnings
