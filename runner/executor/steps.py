"""The steps: connect, send, expect, close, expect_close, sleep, each through `runner.client`.

Each step function takes the scenario's context and a validated step model, fills in templates
at step time, and returns an `Outcome` (its connection and, for expect, its latency). A step that
does not hold raises `StepFailed`; one that cannot use its connection raises `ConnectionFailed`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from runner.client import BusinessError, ClientCert, ConnectOptions, ProxyOptions
from runner.executor.clock import sleep
from runner.executor.connection import Connection
from runner.executor.context import DEFAULT_CONN, ScenarioContext
from runner.executor.failures import ConnectionFailed, StepFailed, json_diff
from runner.executor.inbox import Message, NoMatch, Verdict, Waiter
from runner.matching import extract_saves

__all__ = [
    "STEPS",
    "ExpectState",
    "Outcome",
    "expect_failed",
    "finish_expect",
    "make_waiter",
    "run_step",
    "take_or_wait",
]


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a step reports besides passing: its connection and, for expect, latencies."""

    conn: str | None = None
    latency: float | None = None
    latency_from_send: float | None = None


# -- connect -------------------------------------------------------------------------------


def run_connect(ctx: ScenarioContext, step: Any) -> Outcome:
    """Open a connection (RFC 6455 4.1); with `expect_status`, expect the server to refuse it."""
    name = step.conn or DEFAULT_CONN
    if name in ctx.connections and ctx.connections[name].is_open:
        raise ConnectionFailed(f"connection {name!r} is already open", name, step.location)
    step = ctx.rendered(step)
    conn = Connection(name, ctx.index, ctx.clock, ctx.emit, ctx.stop)
    ctx.connections[name] = conn
    options = _connect_options(step)
    try:
        conn.connect(step.url, options, ctx.deadline(options.timeout))
    except BusinessError as error:
        return _refused(conn, step, error)
    except TimeoutError:
        message = f"no handshake answer from {step.url} in time"
        raise ConnectionFailed(message, name, step.location) from None
    if step.expect_status not in (None, 101):
        conn.shut(1.0)
        message = f"expected the handshake to be refused with HTTP {step.expect_status}, but it "
        raise StepFailed(
            f"{message}was accepted (101)",
            step.location,
            conn=name,
            expected=f"HTTP {step.expect_status}",
        )
    return Outcome(conn=name)


def _refused(conn: Connection, step: Any, error: BusinessError) -> Outcome:
    status, expected = error.data or "0", step.expect_status
    if expected not in (None, 101) and status == str(expected):
        return Outcome(conn=conn.name)
    found = f"HTTP {status}" if status != "0" else "no HTTP answer"
    if expected not in (None, 101):
        message = f"expected the handshake to be refused with HTTP {expected}, found {found}"
        raise StepFailed(message, step.location, conn=conn.name, expected=f"HTTP {expected}")
    message = f"cannot connect to {step.url}: {error.message} ({found})"
    raise ConnectionFailed(message, conn.name, step.location)


def _connect_options(step: Any) -> ConnectOptions:
    tls = step.tls
    return ConnectOptions(
        header=dict(step.headers),
        protocol=", ".join(step.subprotocols) or None,
        ca_path=tls.ca if tls is not None else None,
        client_cert=_client_cert(tls),
        skip_server_cert_verification=tls is not None and tls.verify is False,
        proxy=_proxy(step.proxy),
        timeout=step.timeout if step.timeout is not None else ConnectOptions.timeout,
    )


def _client_cert(tls: Any) -> ClientCert | None:
    if tls is None or tls.cert is None or tls.key is None:
        return None
    return ClientCert(cert_path=tls.cert, key_path=tls.key, key_password=tls.password or "")


def _proxy(proxy: Any) -> Any:
    if isinstance(proxy, str):
        return proxy
    return ProxyOptions(host=proxy.host, port=int(proxy.port), exclusion_list=tuple(proxy.exclude))


# -- send ----------------------------------------------------------------------------------


def run_send(ctx: ScenarioContext, step: Any) -> Outcome:
    """Send one text or binary message."""
    conn = ctx.connection(ctx.conn_name(step), step)
    data = _payload(ctx.rendered(step))
    try:
        conn.send(data)
    except BusinessError as error:
        raise ConnectionFailed(
            f"cannot send on {conn.name!r}: {error.message}{_closed_note(conn)}",
            conn.name,
            step.location,
        ) from None
    return Outcome(conn=conn.name)


def _payload(step: Any) -> str | bytes:
    if step.text is not None:
        return str(step.text)
    if step.binary is not None:
        return bytes(step.binary.to_bytes())
    return json.dumps(step.json_, ensure_ascii=False, separators=(",", ":"))


def _closed_note(conn: Connection) -> str:
    closed = conn.inbox.closed
    if closed is None:
        return ""
    return f" (the connection closed: {closed.code} {closed.reason})".replace(" )", ")")


# -- expect --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ExpectState:
    """What an expect step needs to finish, kept in its `Waiter`."""

    conn: Connection
    spec: Any
    matcher: Any
    start: float
    taken: list[Any]  # the MatchResult of the message taken


def make_waiter(ctx: ScenarioContext, step: Any, on_settle: Any = None) -> Waiter:
    """The waiter of an expect step: its rendered matchers, noise rules and deadline."""
    conn = ctx.connection(ctx.conn_name(step), step)
    start = ctx.clock.now()
    spec = ctx.rendered(step)
    matcher = ctx.matcher(step, spec)
    extra = ctx.compile_ignore(spec.ignore, step) if spec.ignore else []
    taken: list[Any] = []

    def judge(message: Message) -> Verdict:
        result = matcher.match(message.data)
        if result.ok:
            taken.append(result)
            return Verdict(True)
        if ctx.is_noise(message.data, extra):
            return Verdict(False, ignore=True)
        return Verdict(False, score=result.score, reason=result.reason)

    state = ExpectState(conn, spec, matcher, start, taken)
    deadline = ctx.deadline(spec.timeout)
    return Waiter(judge, deadline, first_only=spec.next, on_settle=on_settle, context=state)


def take_or_wait(ctx: ScenarioContext, waiter: Waiter) -> Message | None:
    """Take a waiting message that matches, or leave `waiter` waiting in the inbox (None)."""
    state: ExpectState = waiter.context
    try:
        return state.conn.inbox.take_or_wait(waiter)
    except NoMatch as miss:
        raise expect_failed(ctx, waiter, miss) from None


def finish_expect(ctx: ScenarioContext, waiter: Waiter, message: Message) -> Outcome:
    """Save the variables of the matched message; return the step's latencies."""
    state: ExpectState = waiter.context
    _save(ctx, state.spec, message, state.taken[-1].captures)
    return _latencies(state.conn, state.start, message)


def _save(ctx: ScenarioContext, step: Any, message: Message, captures: dict[str, Any]) -> None:
    ctx.variables.update(captures)  # named groups of `regex` become variables
    if step.save:
        ctx.variables.update(extract_saves(step.save, message.data, captures, step.location))


def _latencies(conn: Connection, start: float, message: Message) -> Outcome:
    latency = max(0.0, message.at - start)
    sent = conn.last_send_at
    from_send = message.at - sent if sent is not None and message.at >= sent else None
    return Outcome(conn=conn.name, latency=latency, latency_from_send=from_send)


def expect_failed(ctx: ScenarioContext, waiter: Waiter, miss: NoMatch) -> StepFailed:
    """The failure of an expect step: why, what it expected, the closest message, a diff."""
    state: ExpectState = waiter.context
    conn, spec, closest = state.conn, state.spec, miss.closest
    waited = ctx.clock.now() - state.start
    why = {
        "timeout": f"no message on {conn.name!r} matched within {waited:.3f}s",
        "closed": f"the connection {conn.name!r} closed before a matching message"
        f"{_close_detail(conn)}",
        "not-next": f"the next message on {conn.name!r} did not match (next: true)",
    }[miss.why]
    has_json = closest is not None and "json" in spec.matchers()
    return StepFailed(
        why,
        spec.location,
        conn=conn.name,
        expected=str(state.matcher.description),
        closest=closest.message.data if closest else None,
        reason=closest.reason if closest else None,
        diff=json_diff(spec.json_, closest.message.data) if has_json and closest else None,
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
    conn = ctx.connection(ctx.conn_name(step), step)
    step = ctx.rendered(step)
    try:
        closed = conn.close(int(step.code), step.reason, ctx.deadline(None))
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
    conn = ctx.connection(ctx.conn_name(step), step)
    step = ctx.rendered(step)
    expected = _close_expected(step.code, step.reason)
    closed = conn.inbox.wait_closed(ctx.deadline(step.timeout))
    if closed is None:
        message = f"the connection {conn.name!r} did not close in time"
        raise StepFailed(message, step.location, conn=conn.name, expected=expected)
    wrong_code = step.code is not None and closed.code != step.code
    if wrong_code or (step.reason is not None and closed.reason != step.reason):
        found = f"{closed.code} {closed.reason!r}"
        message = f"the connection {conn.name!r} closed with {found}, expected {expected}"
        raise StepFailed(message, step.location, conn=conn.name, expected=expected)
    return Outcome(conn=conn.name)


def _close_expected(code: int | None, reason: str | None) -> str:
    parts = [f"code {code}" if code is not None else "", f"reason {reason!r}" if reason else ""]
    return " and ".join(p for p in parts if p) or "a close"


def run_sleep(ctx: ScenarioContext, step: Any) -> Outcome:
    """Wait; Ctrl-C interrupts the wait."""
    seconds = float(ctx.rendered(step).duration)
    sleep(min(seconds, ctx.limit.remaining()), ctx.stop)
    return Outcome()


STEPS: dict[str, Callable[[ScenarioContext, Any], Outcome]] = {
    "connect": run_connect,
    "send": run_send,
    "close": run_close,
    "expect_close": run_expect_close,
    "sleep": run_sleep,
}


def run_step(ctx: ScenarioContext, step: Any) -> Outcome:
    """Run one step by its kind (expect steps go through `make_waiter` and `take_or_wait`)."""
    return STEPS[step.kind](ctx, step)
