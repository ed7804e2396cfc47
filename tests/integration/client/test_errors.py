"""Error codes of issue 2: 401, 2302001-2302003, 2302999, and code 200 for network failures."""

from __future__ import annotations

import http
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from websockets.http11 import Request, Response
from websockets.sync.server import Server, ServerConnection

from runner.client import BusinessError, ClientCert, ConnectOptions, WebSocket, create_websocket
from tests.integration.client.recorder import Recorder, Settled, free_port, outcome
from tests.rawpeer import RawPeer
from tests.support import echo, timeout, url_of, websockets_server


def failure(result: Any, callback: Settled | None = None) -> BusinessError:
    """The BusinessError a call settled with, in either form."""
    error, value = outcome(result, callback)
    assert isinstance(error, BusinessError), f"expected a BusinessError, got {error!r}/{value!r}"
    assert value is None
    return error


def open_ws(ws: WebSocket, url: str, options: Any = None) -> Recorder:
    recorder = Recorder(ws)
    future = ws.connect(url, options)
    assert future is not None and future.result(timeout()) is True
    return recorder


# -- 401: bad arguments come back through the callback or the future, never raised ----------

BAD_CONNECT_ARGUMENTS: list[tuple[Any, Any]] = [
    (b"ws://127.0.0.1/", None),
    (None, None),
    (80, None),
    ("ws://127.0.0.1/", "header"),
    ("ws://127.0.0.1/", ["header"]),
    ("ws://127.0.0.1/", {"headers": {}}),  # unknown key: a typo is not ignored
    ("ws://127.0.0.1/", {"pinginterval": 1}),
    ("ws://127.0.0.1/", {"header": "X-A: b"}),
    ("ws://127.0.0.1/", {"header": {"X-A": 1}}),
    ("ws://127.0.0.1/", {"header": {"X-A": "a\r\nX-Injected: 1"}}),
    ("ws://127.0.0.1/", {"protocol": ["chat"]}),
    ("ws://127.0.0.1/", {"caPath": 1}),
    ("ws://127.0.0.1/", {"clientCert": {"certPath": "c.pem"}}),
    ("ws://127.0.0.1/", {"skipServerCertVerification": "yes"}),
    ("ws://127.0.0.1/", {"pingInterval": "30"}),
    ("ws://127.0.0.1/", {"pingInterval": -1}),
    ("ws://127.0.0.1/", {"pongTimeout": 30001}),
    ("ws://127.0.0.1/", {"timeout": 0}),
    ("ws://127.0.0.1/", {"closeTimeout": True}),
    ("ws://127.0.0.1/", {"maxMessageSize": -1}),
    ("ws://127.0.0.1/", {"proxy": "direct"}),
    ("ws://127.0.0.1/", {"proxy": 8080}),
    ("ws://127.0.0.1/", {"proxy": {"host": "127.0.0.1"}}),
    ("ws://127.0.0.1/", {"proxy": {"host": "127.0.0.1", "port": 70000}}),
    ("ws://127.0.0.1/", {"proxy": {"host": "127.0.0.1", "port": "8080"}}),
    ("ws://127.0.0.1/", {"proxy": {"host": 1, "port": 8080}}),
    ("ws://127.0.0.1/", {"proxy": {"host": "h", "port": 1, "exclusionList": "h"}}),
]


@pytest.mark.parametrize(("url", "options"), BAD_CONNECT_ARGUMENTS)
@pytest.mark.parametrize("form", ["future", "callback"])
def test_connect_with_bad_arguments_settles_with_401(url: Any, options: Any, form: str) -> None:
    ws = create_websocket()
    recorder = Recorder(ws)
    settled = Settled() if form == "callback" else None
    result = ws.connect(url, options, settled) if settled else ws.connect(url, options)
    error = failure(result, settled)
    assert error.code == 401
    assert error.message.startswith("Parameter error")
    assert recorder.names() == []  # an argument error is no `error` event
    assert ws.ready_state == "CLOSED"


def test_connect_with_a_non_callable_callback_fails_the_future() -> None:
    ws = create_websocket()
    error = failure(ws.connect("ws://127.0.0.1:1/", {}, "not callable"))
    assert error.code == 401


BAD_SEND_DATA: list[Any] = [None, 1, 1.5, ["a"], {"a": 1}, True, "lone \ud800 surrogate"]


@pytest.mark.parametrize("data", BAD_SEND_DATA)
def test_send_with_bad_data_settles_with_401(data: Any, echo_server: Server, ws: WebSocket) -> None:
    recorder = open_ws(ws, url_of(echo_server))
    assert failure(ws.send(data)).code == 401
    settled = Settled()
    assert ws.send(data, settled) is None
    assert failure(None, settled).code == 401
    ws.send("still open")
    assert recorder.messages(1) == ["still open"]


def test_send_with_a_non_callable_callback_is_401(echo_server: Server, ws: WebSocket) -> None:
    open_ws(ws, url_of(echo_server))
    assert failure(ws.send("x", 5)).code == 401


BAD_CLOSE_OPTIONS: list[Any] = [
    {"code": 999},
    {"code": 1004},
    {"code": 1005},
    {"code": 1006},
    {"code": 1015},
    {"code": 1016},
    {"code": 2999},
    {"code": 5000},
    {"code": -1},
    {"code": 1000.0},
    {"code": "1000"},
    {"code": True},
    {"reason": "x" * 124},
    {"reason": "é" * 62},  # 124 UTF-8 bytes
    {"reason": 5},
    {"reason": "lone \udc00 surrogate"},
    {"why": "typo"},
    "bye",
    1000,
]


@pytest.mark.parametrize("options", BAD_CLOSE_OPTIONS)
def test_close_with_bad_options_settles_with_401_and_stays_open(
    options: Any, echo_server: Server, ws: WebSocket
) -> None:
    recorder = open_ws(ws, url_of(echo_server))
    assert failure(ws.close(options)).code == 401
    settled = Settled()
    ws.close(options, settled)
    assert failure(None, settled).code == 401
    assert ws.ready_state == "OPEN"
    ws.send("still open")
    assert recorder.messages(1) == ["still open"]


@pytest.mark.parametrize("reason", ["x" * 123, "é" * 61 + "x"])
def test_close_reason_of_123_bytes_is_accepted(
    reason: str, echo_server: Server, ws: WebSocket
) -> None:
    recorder = open_ws(ws, url_of(echo_server))
    assert outcome(ws.close({"code": 1000, "reason": reason}), None) == (None, True)
    assert recorder.closed().reason == reason


def test_close_with_a_non_callable_callback_is_401(echo_server: Server, ws: WebSocket) -> None:
    open_ws(ws, url_of(echo_server))
    assert failure(ws.close({"code": 1000}, "nope")).code == 401
    assert ws.ready_state == "OPEN"


# -- 2302001: URL ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/",
        "WS://127.0.0.1/",
        "wss//127.0.0.1/",
        "127.0.0.1:80",
        "",
        "ws:///path",
        "ws://:8080/",
        "ws://127.0.0.1:0/",
        "ws://127.0.0.1:99999/",
        "ws://127.0.0.1:port/",
    ],
)
def test_bad_url_is_2302001(url: str) -> None:
    ws = create_websocket()
    recorder = Recorder(ws)
    error = failure(ws.connect(url))
    assert error.code == 2302001
    assert error.message.startswith("Websocket url error")
    assert recorder.names() == []


# -- 2302002: certificate files --------------------------------------------------------------


def test_missing_certificate_files_are_2302002(tmp_path: Path) -> None:
    present = tmp_path / "present.pem"
    present.write_text("not used")
    missing = str(tmp_path / "missing.pem")
    cases: list[dict[str, Any]] = [
        {"caPath": missing},
        {"clientCert": {"certPath": missing, "keyPath": str(present)}},
        {"clientCert": {"certPath": str(present), "keyPath": missing}},
        {"caPath": str(tmp_path)},  # a directory is not a CA file
    ]
    for options in cases:
        ws = create_websocket()
        # Checked for ws:// too, before the URL (OpenHarmony's order).
        error = failure(ws.connect("ftp://nowhere", options))
        assert error.code == 2302002, options
        assert missing in error.message or str(tmp_path) in error.message
    typed = ConnectOptions(client_cert=ClientCert(missing, missing))
    assert failure(create_websocket().connect("ws://127.0.0.1:1/", typed)).code == 2302002


# -- 2302003: already connected --------------------------------------------------------------


def test_connect_while_connecting_is_2302003() -> None:
    with RawPeer() as peer:
        ws = create_websocket()
        recorder = Recorder(ws)
        first = ws.connect(peer.url)
        assert ws.ready_state == "CONNECTING"
        error = failure(ws.connect(peer.url))
        assert error.code == 2302003
        # Checked before the URL, as OpenHarmony does.
        assert failure(ws.connect("http://bad")).code == 2302003
        conn = peer.accept()
        assert first is not None and first.result(timeout()) is True
        assert conn.close_handshake(1000).close_code == 1000
        assert recorder.closed().code == 1000
        assert recorder.of("error") == []


def test_connect_while_open_is_2302003_and_leaves_the_connection(
    echo_server: Server, ws: WebSocket
) -> None:
    recorder = open_ws(ws, url_of(echo_server))
    settled = Settled()
    ws.connect(url_of(echo_server), settled)
    assert failure(None, settled).code == 2302003
    ws.send("alive")
    assert recorder.messages(1) == ["alive"]


# -- 2302999: send/close without a connection ------------------------------------------------


def test_send_and_close_when_never_connected_are_2302999() -> None:
    ws = create_websocket()
    assert failure(ws.send("x")).code == 2302999
    settled = Settled()
    ws.send(b"x", settled)
    assert failure(None, settled).code == 2302999
    assert failure(ws.close()).code == 2302999
    assert failure(ws.close({"code": 1000})).code == 2302999


def test_send_while_connecting_is_2302999() -> None:
    with RawPeer() as peer:
        ws = create_websocket()
        ws.connect(peer.url)
        assert failure(ws.send("too early")).code == 2302999
        peer.accept().close()
        assert ws.wait_closed(timeout())


def test_send_and_close_after_close_are_2302999(echo_server: Server, ws: WebSocket) -> None:
    recorder = open_ws(ws, url_of(echo_server))
    ws.close()
    second = failure(ws.close())  # while closing
    assert second.code == 2302999
    assert failure(ws.send("late")).code == 2302999
    recorder.closed()
    assert failure(ws.close()).code == 2302999  # after the close event
    assert failure(ws.send("later")).code == 2302999
    assert len(recorder.of("close")) == 1


def test_send_after_the_peer_closed_is_2302999(ws: WebSocket) -> None:
    def close_at_once(conn: ServerConnection) -> None:
        conn.close(1001, "going away")

    with websockets_server(close_at_once) as server:
        recorder = open_ws(ws, url_of(server))
        assert recorder.closed().code == 1001
    assert failure(ws.send("late")).code == 2302999
    assert failure(ws.close()).code == 2302999


# -- code 200: network and handshake failures ------------------------------------------------


@pytest.mark.parametrize("form", ["future", "callback"])
def test_connection_refused_is_error_200_data_0_and_no_close(form: str) -> None:
    ws = create_websocket()
    recorder = Recorder(ws)
    settled = Settled() if form == "callback" else None
    url = f"ws://127.0.0.1:{free_port()}/"
    result = ws.connect(url, settled) if settled else ws.connect(url)
    error = failure(result, settled)
    assert (error.code, error.data) == (200, "0")
    assert "refused" in error.message
    assert recorder.names() == ["error"]
    assert recorder.error() is error  # the same error on the event and the call
    assert ws.wait_closed(timeout())
    assert recorder.names() == ["error"]
    assert ws.ready_state == "CLOSED"


def test_unresolvable_host_is_error_200_data_0() -> None:
    ws = create_websocket()
    recorder = Recorder(ws)
    error = failure(ws.connect("ws://no-such-host.invalid/", {"timeout": timeout(2)}))
    assert (error.code, error.data) == (200, "0")
    assert recorder.names() == ["error"]


def reject(status: http.HTTPStatus) -> Callable[[ServerConnection, Request], Response]:
    def process_request(conn: ServerConnection, request: Request) -> Response:
        return conn.respond(status, "no\n")

    return process_request


@pytest.mark.parametrize("status", [http.HTTPStatus.UNAUTHORIZED, http.HTTPStatus.OK])
def test_non_101_answer_is_error_200_with_the_status(status: http.HTTPStatus) -> None:
    with websockets_server(echo, process_request=reject(status)) as server:
        ws = create_websocket()
        recorder = Recorder(ws)
        error = failure(ws.connect(url_of(server)))
        assert ws.wait_closed(timeout())
    assert (error.code, error.data) == (200, str(int(status)))
    assert recorder.names() == ["error"]


def test_handshake_timeout_is_error_200() -> None:
    with RawPeer() as peer:
        ws = create_websocket()
        recorder = Recorder(ws)
        future = ws.connect(peer.url, {"timeout": 0.3})
        peer.accept(handshake=False)  # accept TCP, never answer the upgrade
        error = failure(future)
    assert (error.code, error.data) == (200, "0")
    assert "timed out" in error.message
    assert recorder.names() == ["error"]


def test_bad_accept_key_is_error_200() -> None:
    with RawPeer() as peer:
        ws = create_websocket()
        recorder = Recorder(ws)
        future = ws.connect(peer.url)
        conn = peer.accept(handshake=False)
        conn.read_request(timeout())
        conn.sock.sendall(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Accept: d3Jvbmc=\r\n\r\n"
        )
        error = failure(future)
    assert error.code == 200
    assert recorder.names() == ["error"]


# -- subprotocols ----------------------------------------------------------------------------


def test_subprotocol_offered_and_chosen(ws: WebSocket) -> None:
    offers: list[str | None] = []

    def record(conn: ServerConnection, request: Request) -> None:
        offers.append(request.headers.get("Sec-WebSocket-Protocol"))

    chat: Any = "chat"
    with websockets_server(echo, subprotocols=[chat], process_request=record) as server:
        recorder = open_ws(ws, url_of(server), {"protocol": "superchat, chat"})
        assert recorder.opened().protocol == "chat"
        assert ws.protocol == "chat"
        assert offers == ["superchat, chat"]
        ws.close()
        recorder.closed()


def test_no_subprotocol_chosen_is_fine(echo_server: Server, ws: WebSocket) -> None:
    recorder = open_ws(ws, url_of(echo_server), {"protocol": "chat"})
    assert recorder.opened().protocol is None
    assert ws.protocol is None


@pytest.mark.parametrize("offer", [None, "chat"])
def test_server_choosing_an_unoffered_subprotocol_fails(offer: str | None) -> None:
    with RawPeer() as peer:
        ws = create_websocket()
        recorder = Recorder(ws)
        future = ws.connect(peer.url, {"protocol": offer} if offer else None)
        conn = peer.accept(protocol="other")
        error = failure(future)
        assert conn.wait_eof(), "the client closes the connection"
    assert error.code == 200
    assert "other" in error.message
    assert recorder.names() == ["error"]
    assert ws.ready_state == "CLOSED"


@pytest.mark.parametrize("offer", [None, "permessage-deflate"])
def test_server_choosing_an_extension_fails(offer: str | None) -> None:
    # RFC 6455 §4.1: an extension the client cannot use fails the connection.
    with RawPeer() as peer:
        ws = create_websocket()
        recorder = Recorder(ws)
        header = {"Sec-WebSocket-Extensions": offer} if offer else {}
        future = ws.connect(peer.url, {"header": header})
        conn = peer.accept(handshake=False)
        conn.read_request(timeout())
        conn.respond(extra="Sec-WebSocket-Extensions: permessage-deflate\r\n")
        error = failure(future)
        assert conn.wait_eof(), "the client closes the connection"
    assert (error.code, error.data) == (200, "101")
    assert "permessage-deflate" in error.message
    assert recorder.names() == ["error"]


# -- reconnecting ----------------------------------------------------------------------------


def test_reconnect_the_same_object_after_close(echo_server: Server, ws: WebSocket) -> None:
    recorder = Recorder(ws)
    for round_ in range(3):
        assert ws.connect(url_of(echo_server)).result(timeout()) is True
        ws.send(f"round {round_}")
        recorder.wait_for("message", round_ + 1)
        ws.close()
        recorder.wait_for("close", round_ + 1)
        assert ws.wait_closed(timeout())
    assert recorder.names() == ["headerReceive", "open", "message", "dataEnd", "close"] * 3


def test_reconnect_after_a_failed_connect(echo_server: Server, ws: WebSocket) -> None:
    recorder = Recorder(ws)
    error = failure(ws.connect(f"ws://127.0.0.1:{free_port()}/"))
    assert error.code == 200
    assert ws.wait_closed(timeout())
    assert ws.connect(url_of(echo_server)).result(timeout()) is True
    assert recorder.names() == ["error", "headerReceive", "open"]


def test_reconnect_after_the_link_was_lost(ws: WebSocket) -> None:
    with RawPeer() as peer:
        recorder = Recorder(ws)
        ws.connect(peer.url)
        peer.accept().close()
        assert recorder.closed().code == 1006
        assert ws.wait_closed(timeout())
        second = ws.connect(peer.url)
        conn = peer.accept()
        assert second is not None and second.result(timeout()) is True
        conn.close_handshake(1000)
        assert [e.args[1].code for e in recorder.wait_for("close", 2)] == [1006, 1000]


def test_connect_races_from_many_threads_open_exactly_one(echo_server: Server) -> None:
    ws = create_websocket()
    results: list[Any] = []
    lock = threading.Lock()

    def try_connect() -> None:
        error, value = outcome(ws.connect(url_of(echo_server)), None)
        with lock:
            results.append(error.code if error is not None else value)

    threads = [threading.Thread(target=try_connect) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout())
    assert sorted(results, key=str) == sorted([True] + [2302003] * 7, key=str)
    ws.close().result(timeout())
    assert ws.wait_closed(timeout())


def test_reconnect_from_the_failed_connects_callback(echo_server: Server, ws: WebSocket) -> None:
    second = Settled()

    def retry(error: BusinessError | None, value: Any) -> None:
        assert error is not None and error.code == 200
        ws.connect(url_of(echo_server), second)

    ws.connect(f"ws://127.0.0.1:{free_port()}/", retry)
    assert outcome(None, second.wait()) == (None, True)
    assert ws.ready_state == "OPEN"


def test_reconnect_at_once_after_the_connect_future_failed(echo_server: Server) -> None:
    for _ in range(20):
        ws = create_websocket()
        assert failure(ws.connect(f"ws://127.0.0.1:{free_port()}/")).code == 200
        assert ws.connect(url_of(echo_server)).result(timeout()) is True
        ws.close()
        assert ws.wait_closed(timeout())
