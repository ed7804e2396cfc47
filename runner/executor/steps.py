"""The runners of connect, send, close, expect_close and sleep, each through `runner.client`.

Each runner takes the scenario's context and a validated step, fills in templates at step time,
and returns an `Outcome`. A step that does not hold raises `StepFailed`; one that cannot use its
connection raises `ConnectionFailed`. (`expect` is in `expect.py`.)
"""

from __future__ import annotations

import dataclasses
import functools
import json
from typing import Literal

from runner.client import (
    BusinessError,
    ClientCert,
    ConnectOptions,
    DeflateOptions,
    HandshakeRefused,
    ProxyOptions,
    TlsProtocol,
)
from runner.errors import WsrunError
from runner.executor.clock import sleep
from runner.executor.connection import Connection
from runner.executor.context import ScenarioContext
from runner.executor.failures import ConnectionFailed, StepFailed
from runner.executor.http import cookie_header, keep_cookies
from runner.executor.replies import compile_replies
from runner.executor.step_registry import Outcome, runs
from runner.matching import compare_json, compile_matcher
from runner.scenario.steps import (
    DEFAULT_CONN,
    CloseStep,
    Compression,
    ConnectStep,
    ExpectCloseStep,
    ProxyServer,
    SendStep,
    SleepStep,
    TlsOptions,
)

__all__ = [
    "closed_note",
    "passed_on",
    "run_close",
    "run_connect",
    "run_expect_close",
    "run_send",
    "run_sleep",
]


# -- connect -------------------------------------------------------------------------------


@runs(ConnectStep)
def run_connect(ctx: ScenarioContext, step: ConnectStep) -> Outcome:
    """Open a connection (RFC 6455 4.1); with `expect_status`, expect the server to refuse it.

    The handshake's response is then checked (`expect_headers`, `expect_subprotocol`,
    `expect_body`) and its headers saved; the connection's reply rules are set before it opens.
    """
    name = step.conn or DEFAULT_CONN
    if name in ctx.connections and ctx.connections[name].is_open:
        raise ConnectionFailed(f"connection {name!r} is already open", name, step.location)
    rules = [*step.reply, *ctx.replies]  # the step's rules, not rendered with it
    step = ctx.rendered(step)
    if name in ctx.connections:  # reconnecting: its verdict (an abnormal end) still counts
        ctx.retired.append(ctx.connections[name])
    conn = Connection(name, ctx.index, ctx.clock, ctx.emit, ctx.stop, ctx.during)
    conn.replies = compile_replies(rules, ctx.variables, step.location)
    refusal = step.expect_status not in (None, 101)
    conn.expected_refusal = int(step.expect_status) if refusal and step.expect_status else None
    ctx.connections[name] = conn
    options = _with_cookies(_connect_options(step), cookie_header(ctx, step.url))
    url = step.url
    if step.protocol is not None:
        from runner.executor.call import start_protocol

        url, options = start_protocol(conn, step, options)
    try:
        conn.connect(url, options, ctx.deadline(options.timeout))
    except BusinessError as error:
        return _refused(ctx, conn, step, error)
    except TimeoutError:
        message = f"no handshake answer from {step.url} in time"
        raise ConnectionFailed(message, name, step.location) from None
    except WsrunError as error:  # the protocol's handshake failed (ProtocolFailure)
        message = f"the {step.protocol} handshake on {name!r} failed: {error}"
        raise ConnectionFailed(message, name, step.location) from None
    if refusal:
        conn.shut(1.0)
        message = f"expected the handshake to be refused with HTTP {step.expect_status}, but it "
        raise StepFailed(
            f"{message}was accepted (101)",
            step.location,
            conn=name,
            expected=f"HTTP {step.expect_status}",
        )
    opened = conn.opened
    headers = dict(opened.headers) if opened is not None else {}
    keep_cookies(ctx, opened.url if opened is not None and opened.url else step.url, headers)
    _check_accepted(conn, step, opened.protocol if opened is not None else None, headers)
    _check_extensions(conn, step, opened.extensions if opened is not None else ())
    _check_response(ctx, conn, step, headers)
    return Outcome(conn=name)


def _refused(
    ctx: ScenarioContext, conn: Connection, step: ConnectStep, error: BusinessError
) -> Outcome:
    status, expected = error.data or "0", step.expect_status
    if expected not in (None, 101) and status == str(expected):
        headers = error.headers if isinstance(error, HandshakeRefused) else {}
        keep_cookies(ctx, step.url, dict(headers))
        _check_body(conn, step, error.body if isinstance(error, HandshakeRefused) else b"")
        _check_response(ctx, conn, step, headers)
        return Outcome(conn=conn.name)
    found = f"HTTP {status}" if status != "0" else "no HTTP answer"
    body = _body_text(error.body) if isinstance(error, HandshakeRefused) else ""
    if expected not in (None, 101):
        message = f"expected the handshake to be refused with HTTP {expected}, found {found}"
        raise StepFailed(
            message,
            step.location,
            conn=conn.name,
            expected=f"HTTP {expected}",
            closest=f"HTTP {status} {body}".rstrip() if body else None,
        )
    said = f"; the response's body: {body}" if body else ""
    message = f"cannot connect to {step.url}: {error.message} ({found}){said}"
    raise ConnectionFailed(message, conn.name, step.location)


#: How much of a refused handshake's response body a failure shows (characters).
REFUSAL_BODY_SHOWN = 200


def _body_text(body: bytes) -> str:
    """A refusal's response body for a failure: one line, cut to REFUSAL_BODY_SHOWN."""
    text = body[: REFUSAL_BODY_SHOWN * 4].decode("utf-8", errors="replace").strip()
    text = " ".join(text.split())
    if len(text) > REFUSAL_BODY_SHOWN or len(body) > REFUSAL_BODY_SHOWN * 4:
        return f"{text[:REFUSAL_BODY_SHOWN]}… ({len(body)} bytes)"
    return text


def _check_accepted(
    conn: Connection, step: ConnectStep, protocol: str | None, headers: dict[str, str]
) -> None:
    expected = step.expect_subprotocol
    if expected is None or protocol == expected:
        return
    chosen = repr(protocol) if protocol else "none"
    raise StepFailed(
        f"expected the server to choose the subprotocol {expected!r}, it chose {chosen}",
        step.location,
        conn=conn.name,
        expected=f"Sec-WebSocket-Protocol: {expected}",
        closest=_header_lines(headers),
    )


def _check_extensions(conn: Connection, step: ConnectStep, agreed: tuple[str, ...]) -> None:
    expected = step.expect_extensions
    if expected is None or sorted(agreed) == sorted(expected):
        return
    found = ", ".join(agreed) or "none"
    raise StepFailed(
        f"expected the server to agree to the extensions {', '.join(expected) or 'none'}, it "
        f"agreed to {found}",
        step.location,
        conn=conn.name,
        expected=f"Sec-WebSocket-Extensions: {', '.join(expected) or '(none)'}",
    )


def _check_response(
    ctx: ScenarioContext, conn: Connection, step: ConnectStep, headers: dict[str, str]
) -> None:
    """Check `expect_headers` (names in any case, values like `json`), then save headers."""
    for written, expected in step.expect_headers.items():
        name = written.lower()
        found = headers.get(name)
        result = compare_json(expected, found) if found is not None else None
        if result is None or not result.ok:
            why = "is missing" if found is None else f"is {found!r}"
            raise StepFailed(
                f"the handshake's response header {name} {why}",
                step.location,
                conn=conn.name,
                expected=f"{name}: {_show(expected)}",
                closest=_header_lines(headers),
                reason=result.reason if result is not None else None,
            )
    for variable, written in step.save.items():
        value = headers.get(written.lower())
        if value is None:
            raise StepFailed(
                f"save {variable}: the handshake's response has no header {written.lower()}",
                step.location,
                conn=conn.name,
                expected=f"a header {written.lower()}",
                closest=_header_lines(headers),
            )
        ctx.variables[variable] = value


def _check_body(conn: Connection, step: ConnectStep, body: bytes) -> None:
    if step.expect_body is None:
        return
    matcher = compile_matcher(step.expect_body)
    text = body.decode("utf-8", errors="replace")
    result = matcher.match(text)
    if not result.ok:
        raise StepFailed(
            f"the body of the refusal (HTTP {step.expect_status}) did not match",
            step.location,
            conn=conn.name,
            expected=matcher.description,
            closest=text,
            reason=result.reason,
        )


def _header_lines(headers: dict[str, str]) -> str:
    return "; ".join(f"{name}: {value}" for name, value in sorted(headers.items())) or "(none)"


def _show(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _with_cookies(options: ConnectOptions, cookies: str | None) -> ConnectOptions:
    """`options` with the scenario's cookies for the URL added to any `Cookie` written."""
    if cookies is None:
        return options
    header = dict(options.header)
    written = next((name for name in header if name.lower() == "cookie"), None)
    if written is None:
        header["Cookie"] = cookies
    else:
        header[written] = f"{header[written]}; {cookies}"
    return dataclasses.replace(options, header=header)


def _connect_options(step: ConnectStep) -> ConnectOptions:
    tls, keepalive = step.tls, step.keepalive
    return ConnectOptions(
        header=dict(step.headers),
        protocol=", ".join(step.subprotocols) or None,
        ca_path=tls.ca if tls is not None else None,
        client_cert=_client_cert(tls),
        skip_server_cert_verification=tls is not None and tls.verify is False,
        proxy=_proxy(step.proxy),
        timeout=float(step.timeout) if step.timeout is not None else ConnectOptions.timeout,
        ping_interval=float(keepalive.interval) if keepalive else ConnectOptions.ping_interval,
        pong_timeout=float(keepalive.timeout) if keepalive else ConnectOptions.pong_timeout,
        compression=_compression(step.compression),
        follow_redirects=step.follow_redirects is True,
        min_support_tls_protocol=_TLS_VERSIONS[tls.min_version]
        if tls and tls.min_version
        else None,
    )


_TLS_VERSIONS = {
    "1.0": TlsProtocol.TLS_V_1_0,
    "1.1": TlsProtocol.TLS_V_1_1,
    "1.2": TlsProtocol.TLS_V_1_2,
    "1.3": TlsProtocol.TLS_V_1_3,
}


def _compression(
    written: Literal["deflate"] | Compression | None,
) -> DeflateOptions | Literal["deflate"] | None:
    if written is None or isinstance(written, str):
        return written
    return DeflateOptions(**written.model_dump())


def _client_cert(tls: TlsOptions | None) -> ClientCert | None:
    if tls is None or tls.cert is None or tls.key is None:
        return None
    return ClientCert(cert_path=tls.cert, key_path=tls.key, key_password=tls.password or "")


def _proxy(
    proxy: Literal["system", "no-proxy"] | ProxyServer,
) -> Literal["system", "no-proxy"] | ProxyOptions:
    if isinstance(proxy, str):
        return proxy
    return ProxyOptions(host=proxy.host, port=int(proxy.port), exclusion_list=tuple(proxy.exclude))


# -- send ----------------------------------------------------------------------------------


@runs(SendStep, inline=True)
def run_send(ctx: ScenarioContext, step: SendStep) -> Outcome:
    """Send one text or binary message.

    The hot path of every pair: a step without templates is sent as written (no rendering, its
    plan says so), a text on a raw connection goes to `Connection.send` directly, and the
    connection the step names is looked up inline (`ctx.connection` only for what fails)."""
    named = step.conn
    conn = ctx.connections.get(named) if named else None
    if conn is None:
        conn = ctx.connection(step)
    plan = ctx.plan
    spec = step if plan is not None and plan.step is step and plan.plain else ctx.rendered(step)
    try:
        if conn.protocol is None and spec.text is not None:  # `send_outgoing`, inline
            conn.send(spec.text)
        else:
            conn.send_outgoing(spec)
    except ValueError as error:  # the protocol cannot encode the envelope
        name = conn.protocol.name if conn.protocol is not None else "?"
        message = f"cannot send on {conn.name!r}: {name}: {error}"
        raise StepFailed(message, spec.location, conn=conn.name) from None
    except BusinessError as error:
        raise ConnectionFailed(
            f"cannot send on {conn.name!r}: {error.message}{closed_note(conn)}",
            conn.name,
            step.location,
        ) from None
    return passed_on(conn.name)


@functools.lru_cache(maxsize=1024)
def passed_on(conn: str) -> Outcome:
    """The outcome of a step that passed on `conn` with nothing more to say: one object per
    name (outcomes are frozen), not one per send."""
    return Outcome(conn=conn)


def closed_note(conn: Connection) -> str:
    """`` (the connection closed: CODE REASON)`` once it has, else empty."""
    closed = conn.inbox.closed
    if closed is None:
        return ""
    return f" (the connection closed: {closed.code} {closed.reason})".replace(" )", ")")


# -- close, expect_close, sleep ------------------------------------------------------------


@runs(CloseStep)
def run_close(ctx: ScenarioContext, step: CloseStep) -> Outcome:
    """Start the closing handshake and wait for it to end (RFC 6455 7.1.2)."""
    conn = ctx.connection(step)
    step = ctx.rendered(step)
    try:
        closed = conn.close(int(step.code), step.reason, ctx.deadline(None))
    except BusinessError as error:
        message = f"cannot close {conn.name!r}: {error.message}{closed_note(conn)}"
        raise ConnectionFailed(message, conn.name, step.location) from None
    if closed is None:
        conn.abort()  # RFC 6455 7.1.1: the peer did not complete the closing handshake
        message = f"the server did not complete the closing handshake on {conn.name!r} in time"
        raise ConnectionFailed(message, conn.name, step.location)
    if not closed.was_clean:  # the server went away instead of answering our Close
        detail = f": {closed.reason}" if closed.reason else ""
        message = (
            f"the connection {conn.name!r} was lost during its closing handshake, with no Close "
            f"frame from the server ({closed.code}{detail})"
        )
        raise ConnectionFailed(message, conn.name, step.location)
    return Outcome(conn=conn.name)


@runs(ExpectCloseStep)
def run_expect_close(ctx: ScenarioContext, step: ExpectCloseStep) -> Outcome:
    """Wait for the connection to close; check the close code and reason (RFC 6455 7.1.5)."""
    conn = ctx.connection(step)
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
    if not closed.was_clean:
        if step.code is None:  # a crash is not a close: only `code: 1006` expects one
            message = (
                f"the connection {conn.name!r} ended with no closing handshake ({closed.code}); "
                f"write 'code: {closed.code}' to expect that"
            )
            raise StepFailed(message, step.location, conn=conn.name, expected=expected)
        conn.abnormal_expected = True
    return Outcome(conn=conn.name)


def _close_expected(code: int | None, reason: str | None) -> str:
    parts = [f"code {code}" if code is not None else "", f"reason {reason!r}" if reason else ""]
    return " and ".join(p for p in parts if p) or "a close"


@runs(SleepStep)
def run_sleep(ctx: ScenarioContext, step: SleepStep) -> Outcome:
    """Wait; Ctrl-C interrupts the wait, and a sleep the scenario's --timeout cuts short fails
    (it did not wait as long as it says)."""
    seconds = float(ctx.rendered(step).duration)
    left = ctx.limit.remaining()
    sleep(min(seconds, left), ctx.stop)
    if seconds > left:
        message = f"the scenario's --timeout cut sleep short after {left:.3f}s of its {seconds:g}s"
        raise StepFailed(message, step.location)
    return Outcome()


# The runner of `call` is in a module of its own (registered as it is imported).
from runner.executor import call as _call  # noqa: E402, F401
