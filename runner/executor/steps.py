"""The steps: connect, send, expect, close, expect_close, sleep, each through `runner.client`.

Each step function takes the scenario's context and a validated step model, fills in templates
at step time, and returns an `Outcome` (its connection and, for expect, its latency). A step that
does not hold raises `StepFailed`; one that cannot use its connection raises `ConnectionFailed`.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from runner.client import BusinessError, ClientCert, ConnectOptions, ProxyOptions
from runner.executor.clock import sleep
from runner.executor.connection import Connection
from runner.executor.context import ScenarioContext
from runner.executor.failures import ConnectionFailed, StepFailed, describe_spec, json_diff
from runner.executor.inbox import Message, NoMatch, Verdict
from runner.matching import compile_matcher, extract_saves

__all__ = ["STEPS", "Outcome", "run_step"]


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a step reports besides passing: its connection and, for expect, latencies."""

    conn: str | None = None
    latency: float | None = None
    latency_from_send: float | None = None


# -- connect -------------------------------------------------------------------------------


def run_connect(ctx: ScenarioContext, step: Any) -> Outcome:
    """Open a connection (RFC 6455 4.1); with `expect_status`, expect the server to refuse it."""
    name = step.conn
    if name in ctx.connections and ctx.connections[name].is_open:
        raise ConnectionFailed(f"connection {name!r} is already open", name, step.location)
    conn = Connection(name, ctx.index, ctx.clock, ctx.emit, ctx.stop)
    ctx.connections[name] = conn
    url = ctx.render(step.url, step)
    options = _connect_options(ctx, step)
    deadline = ctx.deadline(getattr(step, "timeout", None) or options.timeout)
    expected = getattr(step, "expect_status", None)
    try:
        conn.connect(url, options, deadline)
    except BusinessError as error:
        return _refused(conn, step, url, error, expected)
    except TimeoutError:
        message = f"no handshake answer from {url} in time"
        raise ConnectionFailed(message, name, step.location) from None
    if expected not in (None, 101):
        conn.shut(1.0)
        message = f"expected the handshake to be refused with HTTP {expected}, but it was accepted"
        raise StepFailed(f"{message} ({url})", step.location, conn=name, expected=str(expected))
    return Outcome(conn=name)


def _refused(
    conn: Connection, step: Any, url: str, error: BusinessError, expected: int | None
) -> Outcome:
    status = error.data or "0"
    if expected not in (None, 101) and status == str(expected):
        return Outcome(conn=conn.name)
    found = f"HTTP {status}" if status != "0" else "no HTTP answer"
    if expected not in (None, 101):
        message = f"expected the handshake to be refused with HTTP {expected}, found {found}"
        raise StepFailed(message, step.location, conn=conn.name, expected=f"HTTP {expected}")
    message = f"cannot connect to {url}: {error.message} ({found})"
    raise ConnectionFailed(message, conn.name, step.location)


def _connect_options(ctx: ScenarioContext, step: Any) -> ConnectOptions:
    headers = ctx.render(dict(getattr(step, "headers", None) or {}), step)
    protocols = ctx.render(list(getattr(step, "subprotocols", None) or []), step)
    tls = getattr(step, "tls", None)
    timeout = getattr(step, "timeout", None)
    return ConnectOptions(
        header={str(k): str(v) for k, v in headers.items()},
        protocol=", ".join(protocols) or None,
        ca_path=_tls_field(ctx, step, tls, "ca"),
        client_cert=_client_cert(ctx, step, tls),
        skip_server_cert_verification=tls is not None and getattr(tls, "verify", True) is False,
        proxy=_proxy(ctx, step),
        timeout=min(timeout or ctx.timeout, 3600.0),
    )


def _tls_field(ctx: ScenarioContext, step: Any, tls: Any, name: str) -> str | None:
    value = getattr(tls, name, None) if tls is not None else None
    return None if value is None else str(ctx.render(value, step))


def _client_cert(ctx: ScenarioContext, step: Any, tls: Any) -> ClientCert | None:
    cert, key = _tls_field(ctx, step, tls, "cert"), _tls_field(ctx, step, tls, "key")
    if cert is None or key is None:
        return None
    password = _tls_field(ctx, step, tls, "key_password") or ""
    return ClientCert(cert_path=cert, key_path=key, key_password=password)


def _proxy(ctx: ScenarioContext, step: Any) -> Any:
    proxy = getattr(step, "proxy", None)
    if proxy is None:
        return "system"
    if isinstance(proxy, str):
        return ctx.render(proxy, step)
    exclusions = tuple(getattr(proxy, "exclusion_list", None) or ())
    host = str(ctx.render(proxy.host, step))
    return ProxyOptions(host=host, port=int(proxy.port), exclusion_list=exclusions)


# -- send ----------------------------------------------------------------------------------


def run_send(ctx: ScenarioContext, step: Any) -> Outcome:
    """Send one text or binary message."""
    conn = ctx.connection(step.conn, step)
    data = _payload(ctx, step)
    try:
        conn.send(data)
    except BusinessError as error:
        raise ConnectionFailed(
            f"cannot send on {conn.name!r}: {error.message}{_closed_note(conn)}",
            conn.name,
            step.location,
        ) from None
    return Outcome(conn=conn.name)


def _payload(ctx: ScenarioContext, step: Any) -> str | bytes:
    if getattr(step, "text", None) is not None:
        return str(ctx.render(step.text, step))
    if getattr(step, "json", None) is not None or "json" in _set_fields(step):
        value = ctx.render(step.json, step)
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    binary = step.binary
    if getattr(binary, "hex", None) is not None:
        return bytes.fromhex(str(ctx.render(binary.hex, step)))
    return base64.b64decode(str(ctx.render(binary.base64, step)))


def _set_fields(step: Any) -> set[str]:
    return set(getattr(step, "model_fields_set", ()) or ())


def _closed_note(conn: Connection) -> str:
    closed = conn.inbox.closed
    if closed is None:
        return ""
    return f" (the connection closed: {closed.code} {closed.reason})".replace(" )", ")")


# -- expect --------------------------------------------------------------------------------


def run_expect(ctx: ScenarioContext, step: Any) -> Outcome:
    """Take the first waiting message that matches, waiting until the step's deadline."""
    conn = ctx.connection(step.conn, step)
    start = ctx.clock.now()
    spec = ctx.render(matcher_spec(step), step)
    matcher = compile_matcher(spec)
    extra = ctx.compile_ignore(list(getattr(step, "ignore", None) or []), step)
    captures: dict[str, Any] = {}

    def judge(message: Message) -> Verdict:
        result = matcher.match(message.data)
        if result.ok:
            captures.update(result.captures or {})
            return Verdict(True)
        if ctx.is_noise(message.data, extra):
            return Verdict(False, ignore=True)
        return Verdict(False, score=result.score, reason=result.reason or "")

    deadline = ctx.deadline(getattr(step, "timeout", None))
    try:
        message = conn.inbox.take(judge, deadline, first_only=bool(getattr(step, "next", False)))
    except NoMatch as miss:
        raise _expect_failed(ctx, conn, step, spec, miss, start) from None
    _save(ctx, step, message, captures)
    return _latencies(conn, start, message)


def matcher_spec(step: Any) -> dict[str, Any]:
    """The matcher part of an expect step, as the mapping `compile_matcher` takes."""
    keys = ("text", "regex", "json", "jsonpath", "binary")
    dumped = step.model_dump(include=set(keys), exclude_none=True, by_alias=True)
    return dict(dumped)


def _save(ctx: ScenarioContext, step: Any, message: Message, captures: dict[str, Any]) -> None:
    ctx.variables.update(captures)
    save = getattr(step, "save", None)
    if save:
        ctx.variables.update(extract_saves(save, message.data))


def _latencies(conn: Connection, start: float, message: Message) -> Outcome:
    latency = max(0.0, message.at - start)
    sent = conn.last_send_at
    from_send = message.at - sent if sent is not None and message.at >= sent else None
    return Outcome(conn=conn.name, latency=latency, latency_from_send=from_send)


def _expect_failed(
    ctx: ScenarioContext, conn: Connection, step: Any, spec: Any, miss: NoMatch, start: float
) -> StepFailed:
    waited = ctx.clock.now() - start
    closest = miss.closest
    expected = describe_spec(spec)
    why = {
        "timeout": f"no message on {conn.name!r} matched within {waited:.3f}s",
        "closed": f"the connection {conn.name!r} closed before a matching message"
        f"{_close_detail(conn)}",
        "not-next": f"the next message on {conn.name!r} did not match (next: true)",
    }[miss.why]
    diff = json_diff(spec["json"], closest.message.data) if closest and "json" in spec else None
    return StepFailed(
        why,
        step.location,
        conn=conn.name,
        expected=expected,
        closest=closest.message.data if closest else None,
        reason=closest.reason if closest else None,
        diff=diff,
    )


def _close_detail(conn: Connection) -> str:
    closed, error = conn.inbox.closed, conn.inbox.error
    parts = []
    if closed is not None:
        parts.append(f"close {closed.code} {closed.reason}".rstrip())
    if error is not None:
        parts.append(f"error {error.code} {error.message}")
    return f" ({'; '.join(parts)})" if parts else ""


# -- close, expect_close, sleep ------------------------------------------------------------


def run_close(ctx: ScenarioContext, step: Any) -> Outcome:
    """Start the closing handshake and wait for it to end (RFC 6455 7.1.2)."""
    conn = ctx.connection(step.conn, step)
    code = int(getattr(step, "code", None) or 1000)
    reason = str(ctx.render(getattr(step, "reason", None) or "", step))
    try:
        closed = conn.close(code, reason, ctx.deadline(getattr(step, "timeout", None)))
    except BusinessError as error:
        message = f"cannot close {conn.name!r}: {error.message}{_closed_note(conn)}"
        raise ConnectionFailed(message, conn.name, step.location) from None
    if closed is None:
        conn.ws.abort()  # RFC 6455 7.1.1: the peer did not complete the closing handshake
        message = f"the server did not complete the closing handshake on {conn.name!r} in time"
        raise ConnectionFailed(message, conn.name, step.location)
    return Outcome(conn=conn.name)


def run_expect_close(ctx: ScenarioContext, step: Any) -> Outcome:
    """Wait for the connection to close; check the close code and reason (RFC 6455 7.1.5)."""
    conn = ctx.connection(step.conn, step)
    code, reason = getattr(step, "code", None), getattr(step, "reason", None)
    reason = None if reason is None else str(ctx.render(reason, step))
    expected = _close_expected(code, reason)
    closed = conn.inbox.wait_closed(ctx.deadline(getattr(step, "timeout", None)))
    if closed is None:
        message = f"the connection {conn.name!r} did not close in time"
        raise StepFailed(message, step.location, conn=conn.name, expected=expected)
    if (code is not None and closed.code != code) or (
        reason is not None and closed.reason != reason
    ):
        found = f"{closed.code} {closed.reason!r}"
        message = f"the connection {conn.name!r} closed with {found}, expected {expected}"
        raise StepFailed(message, step.location, conn=conn.name, expected=expected)
    return Outcome(conn=conn.name)


def _close_expected(code: int | None, reason: str | None) -> str:
    parts = [f"code {code}" if code is not None else "", f"reason {reason!r}" if reason else ""]
    return " and ".join(p for p in parts if p) or "a close"


def run_sleep(ctx: ScenarioContext, step: Any) -> Outcome:
    """Wait; Ctrl-C interrupts the wait."""
    seconds = float(getattr(step, "duration", None) or getattr(step, "seconds", 0.0))
    sleep(min(seconds, ctx.limit.remaining()), ctx.stop)
    return Outcome()


STEPS: dict[str, Callable[[ScenarioContext, Any], Outcome]] = {
    "connect": run_connect,
    "send": run_send,
    "expect": run_expect,
    "close": run_close,
    "expect_close": run_expect_close,
    "sleep": run_sleep,
}


def run_step(ctx: ScenarioContext, step: Any) -> Outcome:
    """Run one step by its kind."""
    return STEPS[step.kind](ctx, step)
