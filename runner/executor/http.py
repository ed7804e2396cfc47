"""The runner of `http` (one request over httpx) and the scenario's cookie jar.

Each scenario has one cookie jar (`http.cookiejar`, the rules of RFC 6265 as the standard
library keeps them), shared by `http` and `connect`: a cookie an HTTP response sets is sent on
a later WebSocket handshake to that host (`cookie_header`), and a `Set-Cookie` on a handshake's
response is kept (`keep_cookies`). httpx is imported when the first `http` step runs: a suite
with none never pays for it.
"""

from __future__ import annotations

import functools
import json
import ssl
import threading
from typing import TYPE_CHECKING, Any

from runner.errors import ExecutionError
from runner.events import HttpExchanged
from runner.executor.clock import POLL, check_stop
from runner.executor.context import ScenarioContext
from runner.executor.failures import StepFailed
from runner.executor.step_registry import Outcome, runs
from runner.matching import Matcher, compare_json, extract_saves
from runner.scenario.steps import ProxyServer, TlsOptions
from runner.scenario.steps_http import HttpExpect, HttpStep

if TYPE_CHECKING:  # imported where used: a run with no http step and no cookie needs none
    import email.message
    import http.cookiejar

    import httpx

__all__ = ["BODY_SHOWN", "MAX_BODY", "cookie_header", "cookie_jar", "keep_cookies", "run_http"]

#: How much of a response's body a failure shows (characters).
BODY_SHOWN = 300
#: The largest response body read, in bytes (the client core's largest message, 64 MiB).
MAX_BODY = 64 * 1024 * 1024

#: The expectation of a step that writes none: a 2xx status.
_ANY_2XX = HttpExpect.model_validate({})


# -- the scenario's cookie jar -------------------------------------------------------------


def cookie_jar(ctx: ScenarioContext) -> http.cookiejar.CookieJar:
    """The cookie jar of `ctx`'s scenario (made on first use, gone with the scenario)."""
    if ctx.cookies is None:
        import http.cookiejar

        ctx.cookies = http.cookiejar.CookieJar()
    return ctx.cookies


def _as_http(url: str) -> str:
    scheme, _, rest = url.partition(":")
    return {"ws": "http", "wss": "https"}.get(scheme.lower(), scheme) + ":" + rest


def cookie_header(ctx: ScenarioContext, url: str) -> str | None:
    """The `Cookie` header the scenario's jar sends to a ws:// or wss:// URL, None if none."""
    jar = ctx.cookies
    if jar is None or not len(jar):
        return None
    import urllib.request

    request = urllib.request.Request(_as_http(url))
    jar.add_cookie_header(request)
    return request.get_header("Cookie")


class _Response:
    """What `CookieJar.extract_cookies` reads of a response: its headers."""

    def __init__(self, set_cookies: list[str]) -> None:
        import email.message

        self._headers = email.message.Message()
        for line in set_cookies:
            self._headers["Set-Cookie"] = line

    def info(self) -> email.message.Message:
        return self._headers


def keep_cookies(ctx: ScenarioContext, url: str, headers: dict[str, str]) -> None:
    """Keep the cookies a handshake's response (to `url`) set in the scenario's jar.

    websocket-client joins several `Set-Cookie` headers with ``; ``; `http.cookies` splits
    them again (a name that is no attribute starts the next cookie).
    """
    joined = headers.get("set-cookie")
    if not joined:
        return
    import http.cookies
    import urllib.request

    parsed = http.cookies.SimpleCookie()
    try:
        parsed.load(joined)
    except http.cookies.CookieError:
        return  # a malformed Set-Cookie is ignored, as a browser ignores it (RFC 6265 5.2)
    lines = [morsel.OutputString() for morsel in parsed.values()]
    request = urllib.request.Request(_as_http(url))
    cookie_jar(ctx).extract_cookies(_Response(lines), request)  # type: ignore[arg-type]


# -- the http step -------------------------------------------------------------------------


@runs(HttpStep)
def run_http(ctx: ScenarioContext, step: HttpStep) -> Outcome:
    """Send the request, emit it as an event, check the response, save from its body."""
    import httpx

    spec = ctx.rendered(step)
    deadline = ctx.deadline(float(spec.timeout) if spec.timeout is not None else None)
    exchange = _Exchange(ctx, spec, max(0.001, deadline.remaining()))
    try:
        response, content = exchange.wait()
    except httpx.HTTPError as error:
        latency = exchange.end - exchange.start
        why = _why(error)
        ctx.emit(_event(ctx, spec, None, latency, why))
        message = f"{spec.method} {spec.url}: {why}"
        raise ExecutionError(message, step.location) from None
    latency = exchange.end - exchange.start
    ctx.emit(_event(ctx, spec, response.status_code, latency, None))
    if content is None:
        message = f"{spec.method} {spec.url}: the response's body is over {MAX_BODY:,} bytes"
        raise StepFailed(message, step.location, expected=f"a body of {MAX_BODY:,} bytes at most")
    body = _body_data(content)
    expect = spec.expect if spec.expect is not None else _ANY_2XX
    _check_status(spec, expect, response, body)
    _check_headers(spec, expect, response, body)
    captures: dict[str, object] = {}
    if step.expect is not None and spec.expect is not None and spec.expect.matchers():
        matcher = ctx.matcher(step.expect, spec.expect)
        result = matcher.match(body)
        if not result.ok:
            raise _failed(spec, response, body, "the response's body did not match", matcher)
        captures = result.captures
    ctx.variables.update(captures)
    if spec.save:
        ctx.variables.update(extract_saves(spec.save, body, captures, spec.location))
    return Outcome(note=f"HTTP {response.status_code}")


class _Exchange:
    """The request, sent on a thread of its own so that a Ctrl-C ends the step's wait within
    `POLL` (httpx blocks until its timeout); the request itself then ends by its timeout."""

    def __init__(self, ctx: ScenarioContext, spec: HttpStep, timeout: float) -> None:
        self.ctx, self.spec, self.timeout = ctx, spec, timeout
        self.start = self.end = ctx.clock.now()
        self._done = threading.Event()
        self._result: tuple[httpx.Response, bytes | None] | None = None
        self._error: BaseException | None = None
        threading.Thread(target=self._run, name="wsrun-http", daemon=True).start()

    def _run(self) -> None:
        try:
            with _client(self.ctx, self.spec, self.timeout) as client:
                request = client.build_request(self.spec.method, self.spec.url, **_body(self.spec))
                self.start = self.ctx.clock.now()  # the request's latency, not the set-up's
                response = client.send(request, stream=True)
                try:
                    self._result = response, _read_bounded(response)
                finally:
                    response.close()
        except BaseException as error:  # handed to the scenario's thread, raised there
            self._error = error
        finally:
            self.end = self.ctx.clock.now()
            self._done.set()

    def wait(self) -> tuple[httpx.Response, bytes | None]:
        """The response and its body (None: over MAX_BODY); raises what the request raised, or
        `Interrupted` as soon as the run stops."""
        while not self._done.wait(POLL):
            check_stop(self.ctx.stop)
        if self._error is not None:
            raise self._error
        assert self._result is not None
        return self._result


def _read_bounded(response: httpx.Response) -> bytes | None:
    """The response's body; None once it grows past MAX_BODY (the rest is not read)."""
    chunks, size = [], 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > MAX_BODY:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _event(
    ctx: ScenarioContext, spec: HttpStep, status: int | None, latency: float, error: str | None
) -> HttpExchanged:
    return HttpExchanged(
        at=ctx.clock.now(),
        scenario=ctx.index,
        method=spec.method,
        url=spec.url,
        status=status,
        latency=latency,
        error=error,
    )


def _why(error: Exception) -> str:
    import httpx

    if isinstance(error, httpx.TimeoutException):
        return f"no answer in time ({type(error).__name__})"
    text = str(error) or type(error).__name__
    return f"no answer: {text}"


def _client(ctx: ScenarioContext, spec: HttpStep, timeout: float) -> httpx.Client:
    import httpx

    proxy, trust_env, mounts = _proxy(spec.proxy)
    return httpx.Client(
        verify=_verify(spec.tls),
        timeout=timeout,
        follow_redirects=spec.follow_redirects is True,
        cookies=cookie_jar(ctx),  # the jar itself: what responses set stays in it
        proxy=proxy,
        mounts=mounts,
        trust_env=trust_env,
        headers={"User-Agent": "wsrun"},
    )


def _proxy(
    proxy: str | ProxyServer,
) -> tuple[str | None, bool, dict[str, Any] | None]:
    """httpx's proxy, trust_env and mounts for `proxy` (the same setting as connect's)."""
    if proxy == "system":
        return None, True, None
    if proxy == "no-proxy" or not isinstance(proxy, ProxyServer):
        return None, False, None
    mounts: dict[str, Any] = {f"all://{host}": None for host in proxy.exclude}
    return f"http://{proxy.host}:{int(proxy.port)}", False, mounts or None


def _verify(tls: TlsOptions | None) -> ssl.SSLContext | bool:
    if tls is None:
        return _context(None, None, None, None, None)
    if tls.verify is False:
        return False
    return _context(tls.ca, tls.cert, tls.key, tls.password, tls.min_version)


@functools.cache
def _context(
    ca: str | None,
    cert: str | None,
    key: str | None,
    password: str | None,
    min_version: str | None,
) -> ssl.SSLContext:
    """The SSL context of these settings, made once per run: loading the system's CA
    certificates takes tens of milliseconds, which every request would pay otherwise."""
    context = ssl.create_default_context(cafile=ca)
    if cert is not None:
        context.load_cert_chain(cert, key, password)
    if min_version is not None:
        context.minimum_version = _TLS_VERSIONS[min_version]
    return context


_TLS_VERSIONS = {
    "1.0": ssl.TLSVersion.TLSv1,
    "1.1": ssl.TLSVersion.TLSv1_1,
    "1.2": ssl.TLSVersion.TLSv1_2,
    "1.3": ssl.TLSVersion.TLSv1_3,
}


def _body(spec: HttpStep) -> dict[str, Any]:
    """httpx's arguments of the request's headers and body."""
    arguments: dict[str, Any] = {"headers": dict(spec.headers)}
    kind = spec.body_kind()
    if kind == "json":
        arguments["json"] = spec.json_
    elif kind == "text" and spec.text is not None:
        arguments["content"] = spec.text.encode("utf-8")
        _default_type(arguments["headers"], "text/plain; charset=utf-8")
    elif kind == "form":
        arguments["data"] = dict(spec.form or {})
    elif kind == "binary" and spec.binary is not None:
        arguments["content"] = spec.binary.to_bytes()
        _default_type(arguments["headers"], "application/octet-stream")
    return arguments


def _default_type(headers: dict[str, str], value: str) -> None:
    if not any(name.lower() == "content-type" for name in headers):
        headers["Content-Type"] = value


def _body_data(content: bytes) -> str | bytes:
    """The body as the matchers see a message: text when it is UTF-8, else bytes."""
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError:
        return content


def _check_status(
    spec: HttpStep, expect: HttpExpect, response: httpx.Response, body: str | bytes
) -> None:
    allowed = expect.allowed()
    status = response.status_code
    if allowed is None and 200 <= status <= 299:
        return
    if allowed is not None and status in allowed:
        return
    wanted = "a 2xx status" if allowed is None else " or ".join(map(str, allowed))
    raise _failed(spec, response, body, f"expected HTTP {wanted}, found {status}", None)


def _check_headers(
    spec: HttpStep, expect: HttpExpect, response: httpx.Response, body: str | bytes
) -> None:
    for written, expected in expect.headers.items():
        name = written.lower()
        found = response.headers.get(name)
        result = compare_json(expected, found) if found is not None else None
        if result is None or not result.ok:
            why = "is missing" if found is None else f"is {found!r}"
            shown = expected if isinstance(expected, str) else json.dumps(expected)
            raise _failed(
                spec,
                response,
                body,
                f"the response's header {name} {why}",
                None,
                expected=f"{name}: {shown}",
                reason=result.reason if result is not None else None,
            )


def _failed(
    spec: HttpStep,
    response: httpx.Response,
    body: str | bytes,
    why: str,
    matcher: Matcher | None,
    *,
    expected: str | None = None,
    reason: str | None = None,
) -> StepFailed:
    """A failure that shows the response: its status, its headers and its body (cut)."""
    if matcher is not None:
        expected = matcher.description
        reason = matcher.match(body).reason
    elif expected is None:
        allowed = (spec.expect or _ANY_2XX).allowed()
        expected = "HTTP 2xx" if allowed is None else f"HTTP {' or '.join(map(str, allowed))}"
    return StepFailed(
        f"{spec.method} {spec.url}: {why}",
        spec.location,
        expected=expected,
        closest=_shown(response, body),
        reason=reason,
        diff=matcher.diff(body) if matcher is not None else None,
    )


def _shown(response: httpx.Response, body: str | bytes) -> str:
    """``HTTP 401 Unauthorized | content-type: ...; ... | body: ...`` (the body cut)."""
    headers = "; ".join(f"{name}: {value}" for name, value in response.headers.multi_items())
    if isinstance(body, bytes):
        text = f"({len(body)} bytes, binary) {body[: BODY_SHOWN // 3].hex(' ')}"
    else:
        text = " ".join(body.split())
        if len(text) > BODY_SHOWN:
            text = f"{text[:BODY_SHOWN]}… ({len(body)} characters)"
    return f"HTTP {response.status_code} {response.reason_phrase} | {headers} | body: {text}"
