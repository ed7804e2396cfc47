"""Redirects on the upgrade request: not followed unless `followRedirects`; when followed, never
from wss:// to ws://, and no credentials to another origin (issue 9, "Redirects leak credentials").

Every server is real: `websockets` servers whose `process_request` answers 301/302/307 with a
`Location`, and record the headers of every request they get.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

import pytest
import trustme
from websockets.datastructures import Headers
from websockets.http11 import Request, Response
from websockets.sync.server import Server, ServerConnection

from runner.client import BusinessError, ConnectOptions, HandshakeRefused, create_websocket
from runner.client.transport import MAX_REDIRECTS, Redirected
from tests.integration.client.recorder import Recorder, outcome
from tests.support import echo, timeout, url_of, websockets_server

SECRET_HEADERS = {"Authorization": "Bearer s3cr3t-token", "Cookie": "session=abc123"}


@dataclass
class Seen:
    """The request headers a server got, one `Headers` per request."""

    requests: list[Headers] = field(default_factory=list)

    def header(self, name: str) -> list[str | None]:
        return [headers.get(name) for headers in self.requests]


def redirecting(
    seen: Seen, location: str, status: HTTPStatus = HTTPStatus.FOUND, **extra: str
) -> Any:
    """A `process_request` that records the request and answers `status` to `location`."""

    def process_request(connection: ServerConnection, request: Request) -> Response:
        seen.requests.append(request.headers)
        response = connection.respond(status, "moved\n")
        response.headers["Location"] = location
        for name, value in extra.items():
            response.headers[name.replace("_", "-")] = value
        return response

    return process_request


def recording(seen: Seen) -> Any:
    """A `process_request` that records the request and lets the handshake go on."""

    def process_request(connection: ServerConnection, request: Request) -> None:
        seen.requests.append(request.headers)

    return process_request


@contextmanager
def target_server(**kwargs: Any) -> Iterator[tuple[Server, Seen]]:
    seen = Seen()
    with websockets_server(echo, process_request=recording(seen), **kwargs) as server:
        yield server, seen


@contextmanager
def redirect_server(location: str, **kwargs: Any) -> Iterator[tuple[Server, Seen]]:
    seen = Seen()
    status = kwargs.pop("status", HTTPStatus.FOUND)
    process = redirecting(seen, location, status, **kwargs.pop("extra", {}))
    with websockets_server(echo, process_request=process, **kwargs) as server:
        yield server, seen


def connect(url: str, options: Any) -> tuple[Any, Any, Recorder]:
    """Connect; when open, exchange one message and close. Returns (error, open result, ws)."""
    ws = create_websocket()
    recorder = Recorder(ws)
    opened: list[Any] = []
    ws.on("open", lambda _err, value: opened.append(value))
    error, _ = outcome(ws.connect(url, options), None)
    if error is None:
        ws.send("after the redirect")
        assert recorder.messages(1) == ["after the redirect"]
        ws.close()
    assert ws.wait_closed(timeout())
    return error, (opened[0] if opened else None), recorder


def test_a_redirect_is_not_followed_by_default_and_fails_with_status_and_location() -> None:
    with target_server() as (target, target_seen):
        final = url_of(target, "/there")
        with redirect_server(final) as (server, seen):
            error, opened, recorder = connect(url_of(server, "/here"), {"header": SECRET_HEADERS})
    assert opened is None and recorder.names() == ["error"]
    assert isinstance(error, Redirected) and isinstance(error, HandshakeRefused)
    assert (error.code, error.data) == (200, "302")
    assert error.location == final
    assert f"HTTP 302 to {final!r}" in error.message and "follow_redirects is off" in error.message
    assert len(seen.requests) == 1
    assert target_seen.requests == []  # nothing was sent to the redirect's target


def test_follow_redirects_to_the_same_origin_keeps_the_headers_and_reports_the_final_url() -> None:
    # The same origin is the same server: it redirects one path to another (relative Location).
    seen = Seen()
    hops = {"n": 0}

    def process_request(connection: ServerConnection, request: Request) -> Response | None:
        seen.requests.append(request.headers)
        if request.path == "/old":
            hops["n"] += 1
            response = connection.respond(HTTPStatus.MOVED_PERMANENTLY, "")
            response.headers["Location"] = "/new?x=1"  # relative, resolved against the URL
            return response
        return None

    with websockets_server(echo, process_request=process_request) as server:
        start, final = url_of(server, "/old"), url_of(server, "/new?x=1")
        error, opened, _ = connect(start, {"header": SECRET_HEADERS, "followRedirects": True})
    assert error is None
    assert opened.url == final and opened.redirected_from == (start,)
    assert hops["n"] == 1
    assert seen.header("Authorization") == ["Bearer s3cr3t-token"] * 2
    assert seen.header("Cookie") == ["session=abc123"] * 2


def test_follow_redirects_to_another_origin_drops_authorization_and_cookies() -> None:
    with target_server() as (target, target_seen):
        final = url_of(target, "/there")
        host, port = target.socket.getsockname()[:2]
        with redirect_server(final, status=HTTPStatus.TEMPORARY_REDIRECT) as (server, seen):
            headers = {**SECRET_HEADERS, "X-Trace": "kept"}
            ws = create_websocket()
            recorder = Recorder(ws)
            options = {"header": headers, "followRedirects": True}
            error, _ = outcome(ws.connect(url_of(server), options), None)
            try:
                assert error is None
                assert ws.url == final  # the URL wsrun logs is where the handshake ended
            finally:
                ws.close()
                assert ws.wait_closed(timeout())
    assert "open" in recorder.names()
    assert seen.header("Authorization") == ["Bearer s3cr3t-token"]
    assert target_seen.header("Authorization") == [None]
    assert target_seen.header("Cookie") == [None]
    assert target_seen.header("X-Trace") == ["kept"]
    assert target_seen.header("Host") == [f"{host}:{port}"]


def test_a_cookie_a_redirect_sets_is_not_sent_on() -> None:
    with target_server() as (target, target_seen):
        cookie = {"Set_Cookie": "planted=1; Domain=127.0.0.1; Path=/"}
        with redirect_server(url_of(target), extra=cookie) as (server, _):
            error, _, _ = connect(url_of(server), {"followRedirects": True})
            assert error is None
            error, _, _ = connect(url_of(target), None)  # and no later connection gets it
            assert error is None
    assert target_seen.header("Cookie") == [None, None]


def test_an_http_location_is_followed_as_ws() -> None:
    with target_server() as (target, target_seen):
        final = url_of(target, "/x")
        with redirect_server(final.replace("ws://", "http://", 1)) as (server, _):
            error, opened, _ = connect(url_of(server), {"followRedirects": True})
    assert error is None and opened.url == final
    assert len(target_seen.requests) == 1


def test_a_redirect_without_location_fails() -> None:
    seen = Seen()

    def process_request(connection: ServerConnection, request: Request) -> Response:
        seen.requests.append(request.headers)
        return connection.respond(HTTPStatus.FOUND, "")

    with websockets_server(echo, process_request=process_request) as server:
        error, _, _ = connect(url_of(server), {"followRedirects": True})
    assert isinstance(error, Redirected) and error.data == "302"
    assert "no Location header" in error.message


def test_a_redirect_loop_stops_after_the_limit() -> None:
    seen = Seen()

    def process_request(connection: ServerConnection, request: Request) -> Response:
        seen.requests.append(request.headers)
        response = connection.respond(HTTPStatus.FOUND, "")
        response.headers["Location"] = "/again"
        return response

    with websockets_server(echo, process_request=process_request) as server:
        error, _, _ = connect(url_of(server), {"followRedirects": True})
    assert isinstance(error, BusinessError) and error.code == 200
    assert f"more than {MAX_REDIRECTS} times" in error.message
    assert len(seen.requests) == MAX_REDIRECTS + 1


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> tuple[trustme.CA, str]:
    authority = trustme.CA()
    path = tmp_path_factory.mktemp("redirect-pki") / "ca.pem"
    authority.cert_pem.write_to_path(str(path))
    return authority, str(path)


def test_a_redirect_from_wss_to_ws_is_refused(ca: tuple[trustme.CA, str]) -> None:
    authority, ca_path = ca
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    authority.issue_cert("127.0.0.1").configure_cert(context)
    with (
        target_server() as (target, target_seen),
        redirect_server(url_of(target), ssl=context) as (server, seen),
    ):
        start = url_of(server).replace("ws://", "wss://", 1)
        options = {"header": SECRET_HEADERS, "followRedirects": True, "caPath": ca_path}
        error, opened, _ = connect(start, options)
    assert opened is None and len(seen.requests) == 1
    assert isinstance(error, Redirected) and error.data == "302"
    assert "leaves TLS" in error.message
    assert target_seen.requests == []  # the bearer token never travelled in clear


def test_the_typed_option_is_checked() -> None:
    with pytest.raises(BusinessError) as caught:
        create_websocket().connect("ws://127.0.0.1:9/", {"followRedirects": "yes"}).result(
            timeout()
        )
    assert caught.value.code == 401 and "followRedirects must be a boolean" in caught.value.message
    assert ConnectOptions().follow_redirects is False
