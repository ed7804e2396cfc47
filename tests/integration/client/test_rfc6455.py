"""RFC 6455 conformance against a raw peer: masking, fragmentation, pings, UTF-8, violations."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from runner.client import WebSocket
from tests.integration.client.recorder import QUIET, Recorder, open_raw
from tests.rawpeer import (
    OP_BINARY,
    OP_CLOSE,
    OP_CONT,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    PeerConnection,
    RawPeer,
    close_payload,
)
from tests.support import timeout

# -- what the client sends -------------------------------------------------------------------


def test_the_upgrade_request(ws: WebSocket, peer: RawPeer) -> None:
    ws.connect(peer.url, {"header": {"X-Token": "t"}, "protocol": "a, b"})
    conn = peer.accept()
    assert conn.request_line == "GET /raw HTTP/1.1"
    headers = conn.request_headers
    assert headers["upgrade"].lower() == "websocket"
    assert "upgrade" in headers["connection"].lower()
    assert headers["sec-websocket-version"] == "13"
    assert len(headers["sec-websocket-key"]) == 24
    assert headers["sec-websocket-protocol"] == "a, b"
    assert headers["x-token"] == "t"
    assert "sec-websocket-extensions" not in headers  # no compression (issue 2: for later)
    conn.close_handshake()


def test_client_frames_are_masked_and_whole(ws: WebSocket, peer: RawPeer) -> None:
    _, conn = open_raw(ws, peer, QUIET)
    big = bytes(range(256)) * 400  # 102400 bytes: a 64-bit length
    ws.send("hello ✓")
    ws.send(b"\x00\xff")
    ws.send(big)
    ws.send("")
    frames = [conn.recv_frame() for _ in range(4)]
    assert [(f.opcode, f.payload) for f in frames] == [
        (OP_TEXT, "hello ✓".encode()),
        (OP_BINARY, b"\x00\xff"),
        (OP_BINARY, big),
        (OP_TEXT, b""),
    ]
    assert all(f.masked and f.fin and f.rsv == 0 for f in frames)  # RFC 6455 §5.1, §5.2
    conn.close_handshake()


@pytest.mark.parametrize("opcode", [OP_TEXT, OP_BINARY])
def test_fragmented_message_with_a_ping_inside_is_one_message(
    opcode: int, ws: WebSocket, peer: RawPeer
) -> None:
    recorder, conn = open_raw(ws, peer, QUIET)
    conn.send_frame(opcode, b"Hel", fin=False)
    conn.send_frame(OP_PING, b"inside")  # §5.4: control frames may be injected
    conn.send_frame(OP_CONT, b"", fin=False)
    conn.send_frame(OP_CONT, b"lo, ", fin=False)
    conn.send_frame(OP_CONT, "wörld".encode(), fin=True)
    pong = conn.recv_frame()
    assert (pong.opcode, pong.payload, pong.masked) == (OP_PONG, b"inside", True)
    expected = "Hello, wörld" if opcode == OP_TEXT else "Hello, wörld".encode()
    assert recorder.messages(1) == [expected]
    assert recorder.names()[2:] == ["message", "dataEnd"]
    conn.close_handshake()


def test_many_fragments_and_a_multibyte_character_across_them(ws: WebSocket, peer: RawPeer) -> None:
    recorder, conn = open_raw(ws, peer, QUIET)
    text = "€𝄞" * 100
    data = text.encode()
    conn.send_frame(OP_TEXT, data[:1], fin=False)
    for index in range(1, len(data) - 1):  # one byte per frame: every split point
        conn.send_frame(OP_CONT, data[index : index + 1], fin=False)
    conn.send_frame(OP_CONT, data[-1:], fin=True)
    assert recorder.messages(1) == [text]
    conn.close_handshake()


@pytest.mark.parametrize("payload", [b"", b"x", bytes(range(125))])
def test_ping_is_answered_with_the_same_payload(
    payload: bytes, ws: WebSocket, peer: RawPeer
) -> None:
    recorder, conn = open_raw(ws, peer, QUIET)
    conn.send_frame(OP_PING, payload)
    pong = conn.recv_frame()
    assert (pong.opcode, pong.payload, pong.fin, pong.masked) == (OP_PONG, payload, True, True)
    conn.send_frame(OP_PONG, b"unsolicited")  # §5.5.3: ignored
    conn.send_frame(OP_TEXT, b"after")
    assert recorder.messages(1) == ["after"]
    assert recorder.of("error") == []
    conn.close_handshake()


def test_empty_and_large_messages_are_received(ws: WebSocket, peer: RawPeer) -> None:
    recorder, conn = open_raw(ws, peer, QUIET)
    big = bytes(range(256)) * 4096  # 1 MiB
    conn.send_frame(OP_TEXT, b"")
    conn.send_frame(OP_BINARY, b"")
    conn.send_frame(OP_BINARY, big)
    assert recorder.messages(3) == ["", b"", big]
    conn.close_handshake()


# -- failing the connection (RFC 6455 §7.1.7) ------------------------------------------------


def fails_with(
    ws: WebSocket,
    peer: RawPeer,
    send: Callable[[PeerConnection], None],
    code: int,
    options: Any = None,
) -> Recorder:
    """Run `send` on a fresh connection; check the client fails it with `code`."""
    recorder, conn = open_raw(ws, peer, {**QUIET, **(options or {})})
    send(conn)
    close = conn.recv_close()
    assert close.close_code == code
    assert close.masked
    conn.send_close(code)
    conn.close()
    closed = recorder.closed()
    assert (closed.code, closed.was_clean) == (code, False)
    error = recorder.error()
    assert error.code == 200
    assert recorder.names()[-2:] == ["error", "close"]
    return recorder


def frames(*specs: tuple[int, bytes, dict[str, Any]]) -> Callable[[PeerConnection], None]:
    def send(conn: PeerConnection) -> None:
        for opcode, payload, flags in specs:
            conn.send_frame(opcode, payload, **flags)

    return send


PROTOCOL_ERRORS: dict[str, Callable[[PeerConnection], None]] = {
    "masked server frame": frames((OP_TEXT, b"masked", {"mask": True})),
    "masked ping": frames((OP_PING, b"p", {"mask": True})),
    "reserved opcode 3": frames((0x3, b"", {})),
    "reserved opcode 7": frames((0x7, b"x", {})),
    "reserved control opcode 11": frames((0xB, b"", {})),
    "reserved control opcode 15": frames((0xF, b"", {})),
    "RSV1": frames((OP_TEXT, b"x", {"rsv": 4})),
    "RSV2": frames((OP_BINARY, b"x", {"rsv": 2})),
    "RSV3": frames((OP_PING, b"", {"rsv": 1})),
    "fragmented ping": frames((OP_PING, b"a", {"fin": False}), (OP_CONT, b"b", {})),
    "fragmented pong": frames((OP_PONG, b"a", {"fin": False}), (OP_CONT, b"b", {})),
    "fragmented close": frames((OP_CLOSE, close_payload(1000), {"fin": False})),
    "ping over 125 bytes": frames((OP_PING, b"x" * 126, {})),
    "pong over 125 bytes": frames((OP_PONG, b"x" * 126, {})),
    "close over 125 bytes": frames((OP_CLOSE, close_payload(1000, b"x" * 124), {})),
    "continuation without a start": frames((OP_CONT, b"x", {})),
    "final continuation without a start": frames((OP_CONT, b"x", {"fin": True})),
    "text inside a fragmented message": frames(
        (OP_TEXT, b"a", {"fin": False}), (OP_TEXT, b"b", {})
    ),
    "binary inside a fragmented message": frames(
        (OP_BINARY, b"a", {"fin": False}), (OP_BINARY, b"b", {})
    ),
    "close with a one-byte payload": frames((OP_CLOSE, b"\x03", {})),
}


@pytest.mark.parametrize("case", PROTOCOL_ERRORS)
def test_protocol_violation_fails_with_1002(case: str, ws: WebSocket, peer: RawPeer) -> None:
    recorder = fails_with(ws, peer, PROTOCOL_ERRORS[case], 1002)
    assert recorder.of("message") == []


@pytest.mark.parametrize("code", [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000])
def test_close_frame_with_an_invalid_code_fails_with_1002(
    code: int, ws: WebSocket, peer: RawPeer
) -> None:
    fails_with(ws, peer, frames((OP_CLOSE, close_payload(code), {})), 1002)


@pytest.mark.parametrize("code", [1000, 1001, 1002, 1003, 1007, 1011, 1012, 1013, 1014, 3000, 4999])
def test_close_frame_with_a_valid_code_is_reported(code: int, ws: WebSocket, peer: RawPeer) -> None:
    recorder, conn = open_raw(ws, peer, QUIET)
    assert conn.close_handshake(code, b"why").close_code == code
    closed = recorder.closed()
    assert (closed.code, closed.reason, closed.was_clean) == (code, "why", True)


INVALID_UTF8: dict[str, Callable[[PeerConnection], None]] = {
    "one frame": frames((OP_TEXT, b"hello \xff", {})),
    "surrogate": frames((OP_TEXT, b"\xed\xa0\x80", {})),
    "overlong": frames((OP_TEXT, b"\xc0\xaf", {})),
    "truncated at the end": frames((OP_TEXT, b"\xe2\x82", {})),
    "truncated at the end of fragments": frames(
        (OP_TEXT, b"ok", {"fin": False}), (OP_CONT, b"\xe2\x82", {})
    ),
    "invalid in a later fragment": frames(
        (OP_TEXT, b"ok", {"fin": False}), (OP_CONT, b"\xce\xba\xff", {})
    ),
    "close reason": frames((OP_CLOSE, close_payload(1000, b"bad \xff"), {})),
}


@pytest.mark.parametrize("case", INVALID_UTF8)
def test_invalid_utf8_fails_with_1007(case: str, ws: WebSocket, peer: RawPeer) -> None:
    recorder = fails_with(ws, peer, INVALID_UTF8[case], 1007)
    assert recorder.of("message") == []


@pytest.mark.parametrize(
    "first",
    [
        b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xf4\x90\x80\x80",  # past U+10FFFF
        b"ok \xff",
        b"ok \xed\xa0\x80 more",  # a surrogate
    ],
)
def test_invalid_utf8_split_across_fragments_fails_fast(
    first: bytes, ws: WebSocket, peer: RawPeer
) -> None:
    recorder, conn = open_raw(ws, peer, QUIET)
    conn.send_frame(OP_TEXT, first, fin=False)
    # RFC 6455 §8.1: fail as soon as the bytes are invalid, before the final fragment.
    close = conn.recv_close(timeout(2))
    assert close.close_code == 1007
    conn.send_frame(OP_CONT, b"end", fin=True)  # too late: dropped
    conn.send_close(1007)
    conn.close()
    assert recorder.closed().code == 1007
    assert recorder.of("message") == []


def test_message_over_max_message_size_fails_with_1009(ws: WebSocket, peer: RawPeer) -> None:
    options = {"maxMessageSize": 100}
    recorder = fails_with(ws, peer, frames((OP_BINARY, b"x" * 101, {})), 1009, options)
    assert recorder.of("message") == []


def test_fragmented_message_over_max_message_size_fails_with_1009(
    ws: WebSocket, peer: RawPeer
) -> None:
    recorder, conn = open_raw(ws, peer, {**QUIET, "maxMessageSize": 100})
    conn.send_frame(OP_TEXT, b"x" * 100)  # exactly the limit: accepted
    for _ in range(3):
        conn.send_frame(OP_TEXT if _ == 0 else OP_CONT, b"y" * 40, fin=False)
    close = conn.recv_close()  # 120 bytes so far: fails before the final fragment
    assert close.close_code == 1009
    conn.send_close(1009)
    conn.close()
    assert recorder.closed().code == 1009
    assert recorder.messages(1) == ["x" * 100]
    assert len(recorder.of("message")) == 1


def test_max_message_size_zero_means_no_limit(ws: WebSocket, peer: RawPeer) -> None:
    recorder, conn = open_raw(ws, peer, {**QUIET, "maxMessageSize": 0})
    big = b"z" * (2 * 1024 * 1024)
    conn.send_frame(OP_BINARY, big)
    assert recorder.messages(1) == [big]
    conn.close_handshake()


def test_frames_after_the_failure_are_dropped_until_the_peers_close(
    ws: WebSocket, peer: RawPeer
) -> None:
    recorder, conn = open_raw(ws, peer, QUIET)
    conn.send_frame(OP_TEXT, b"\xff")
    assert conn.recv_close().close_code == 1007
    conn.send_frame(OP_TEXT, b"dropped")
    conn.send_frame(OP_PING, b"not answered")
    conn.send_close(1000)
    conn.close()
    assert recorder.closed().code == 1007
    assert recorder.of("message") == []


def test_failure_when_the_peer_never_answers_the_close(ws: WebSocket, peer: RawPeer) -> None:
    recorder, conn = open_raw(ws, peer, {**QUIET, "closeTimeout": 0.3})
    started = time.monotonic()
    conn.send_frame(0x3, b"")
    assert conn.recv_close().close_code == 1002
    closed = recorder.closed(timeout(2))
    assert closed.code == 1002 and not closed.was_clean
    assert time.monotonic() - started < 0.3 + timeout(1)
    assert conn.wait_eof()
