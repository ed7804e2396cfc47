"""`WebSocket.prepare` and `send(prepared)`: a message framed (and compressed) before its write,
its wire size known first, and the rule of compression order (issue 17: per-frame sizes of sent
messages).

The raw peer reads the exact frames the client wrote; `websockets` is a real compressing server.
"""

from __future__ import annotations

import struct
import threading
import zlib

import pytest

from runner.client import BusinessError, ErrorCode, PreparedMessage, WebSocket, create_websocket
from tests.integration.client.recorder import QUIET, Recorder, outcome
from tests.integration.client.test_compression import inflate, open_deflate
from tests.rawpeer import OP_BINARY, OP_TEXT, PeerConnection, RawPeer
from tests.support import echo, timeout, url_of, websockets_server

RSV1 = 4  # `Frame.rsv` holds RSV1..RSV3 as bits 2..0
TEXT = "compress me, " * 40


def open_plain(ws: WebSocket, peer: RawPeer) -> PeerConnection:
    future = ws.connect(peer.url, QUIET)
    conn = peer.accept(handshake=False)
    conn.read_request(timeout())
    conn.respond()
    assert outcome(future, None) == (None, True)
    return conn


def unmasked_payload(frame: bytes) -> bytes:
    """The payload of one formatted client frame (header, mask key, masked payload)."""
    size, at = frame[1] & 0x7F, 2
    if size == 126:
        size, at = struct.unpack("!H", frame[2:4])[0], 4
    elif size == 127:
        size, at = struct.unpack("!Q", frame[2:10])[0], 10
    key, payload = frame[at : at + 4], frame[at + 4 :]
    assert len(payload) == size
    return bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def refusal(future: object) -> BusinessError:
    error, value = outcome(future, None)  # type: ignore[arg-type]
    assert isinstance(error, BusinessError), f"expected a refusal, got {value!r}"
    return error


def test_a_compressed_message_is_written_as_prepared(ws: WebSocket, peer: RawPeer) -> None:
    _, conn = open_deflate(ws, peer)
    prepared = ws.prepare(TEXT)
    assert isinstance(prepared, PreparedMessage) and prepared.compressed
    assert prepared.size == len(TEXT.encode()) and 0 < prepared.wire_size < prepared.size // 4
    assert outcome(ws.send(prepared), None) == (None, True)
    frame = conn.recv_frame()
    assert (frame.opcode, frame.rsv, frame.fin) == (OP_TEXT, RSV1, True)
    assert len(frame.payload) == prepared.wire_size  # the wire size is that of the write
    assert frame.payload == unmasked_payload(prepared.frame)  # those exact bytes
    assert inflate(frame.payload) == TEXT.encode()
    assert ws.wire_sizes[0] == prepared.wire_size
    conn.close_handshake()


def test_an_uncompressed_message_keeps_its_size(ws: WebSocket, peer: RawPeer) -> None:
    conn = open_plain(ws, peer)
    prepared = ws.prepare(bytearray(b"\x01\x02" * 100))
    assert (prepared.size, prepared.wire_size, prepared.compressed) == (200, 200, False)
    ws.send(prepared)
    frame = conn.recv_frame()
    assert (frame.opcode, frame.rsv, frame.payload) == (OP_BINARY, 0, b"\x01\x02" * 100)
    conn.close_handshake()


def test_a_prepared_message_goes_once_and_on_its_own_connection(
    ws: WebSocket, peer: RawPeer
) -> None:
    conn = open_plain(ws, peer)
    prepared = ws.prepare("once")
    ws.send(prepared)
    assert conn.recv_frame().payload == b"once"
    again = refusal(ws.send(prepared))
    assert (again.code, again.message) == (
        ErrorCode.PARAMETER,
        "Parameter error: message sent already",
    )
    other = create_websocket()
    future = other.connect(peer.url, QUIET)
    conn2 = peer.accept(handshake=False)
    conn2.read_request(timeout())
    conn2.respond()
    assert outcome(future, None) == (None, True)
    wrong = refusal(other.send(ws.prepare("elsewhere")))
    assert wrong.message == "Parameter error: message prepared for another connection"
    assert (conn2.close_handshake().close_code, conn.close_handshake().close_code) == (1000, 1000)
    assert other.wait_closed(timeout())


def test_prepare_needs_an_open_connection_and_good_data(ws: WebSocket, peer: RawPeer) -> None:
    with pytest.raises(BusinessError) as closed:
        ws.prepare("too early")
    assert closed.value.code == ErrorCode.OTHER
    conn = open_plain(ws, peer)
    for bad in (42, "lone \udc80"):
        with pytest.raises(BusinessError) as error:
            ws.prepare(bad)  # type: ignore[arg-type]
        assert error.value.code == ErrorCode.PARAMETER
    conn.close_handshake()


# -- the rule of compression order -----------------------------------------------------------


def test_with_context_takeover_messages_go_in_prepared_order(ws: WebSocket, peer: RawPeer) -> None:
    _, conn = open_deflate(ws, peer)
    first, second = ws.prepare(TEXT), ws.prepare(TEXT)
    assert second.wire_size < first.wire_size  # the second reuses the first's context
    error = refusal(ws.send(second))  # before the first one, on the same thread: refused
    assert error.code == ErrorCode.PARAMETER and "compression order" in error.message
    ws.send(first)
    ws.send(second)
    decoder = zlib.decompressobj(wbits=-15)  # one context for the whole connection
    assert [inflate(conn.recv_frame().payload, decoder) for _ in range(2)] == [TEXT.encode()] * 2
    conn.close_handshake()


def test_a_send_waits_for_a_message_another_thread_prepared(ws: WebSocket, peer: RawPeer) -> None:
    _, conn = open_deflate(ws, peer)
    first = ws.prepare("first " * 30)
    later = threading.Thread(target=lambda: ws.send("second " * 30), daemon=True)
    later.start()
    later.join(0.3)
    assert later.is_alive()  # waiting for `first`: written now, it would corrupt the context
    with pytest.raises(TimeoutError):
        conn.recv_frame(0.1)
    ws.send(first)
    later.join(timeout())
    assert not later.is_alive()
    decoder = zlib.decompressobj(wbits=-15)
    payloads = [inflate(conn.recv_frame().payload, decoder) for _ in range(2)]
    assert payloads == [b"first " * 30, b"second " * 30]
    conn.close_handshake()


def test_closing_releases_a_send_waiting_for_its_turn(ws: WebSocket, peer: RawPeer) -> None:
    _, conn = open_deflate(ws, peer)
    ws.prepare("never sent")
    results: list[tuple[object, object]] = []
    later = threading.Thread(target=lambda: results.append(outcome(ws.send("x"), None)))
    later.start()
    later.join(0.2)
    assert later.is_alive()
    ws.close()
    later.join(timeout())
    assert not later.is_alive()
    error = results[0][0]
    assert isinstance(error, BusinessError) and error.code == ErrorCode.OTHER
    assert "closing" in error.message
    assert conn.recv_frame().close_code == 1000  # no data frame went out
    conn.send_close(1000)
    conn.close()


def test_dropping_the_connection_releases_a_waiting_send(ws: WebSocket, peer: RawPeer) -> None:
    _, conn = open_deflate(ws, peer)
    ws.prepare("never sent")
    results: list[tuple[object, object]] = []
    later = threading.Thread(target=lambda: results.append(outcome(ws.send("x"), None)))
    later.start()
    later.join(0.2)
    assert later.is_alive()
    ws.abort()
    later.join(timeout())
    assert not later.is_alive()
    error = results[0][0]
    assert isinstance(error, BusinessError) and error.code == ErrorCode.OTHER
    assert ws.wait_closed(timeout())
    with pytest.raises((EOFError, OSError)):  # dropped, with nothing written out of order
        conn.recv_frame()
    conn.close()


def test_without_context_takeover_the_order_is_free(ws: WebSocket, peer: RawPeer) -> None:
    answer = "permessage-deflate; client_no_context_takeover"
    _, conn = open_deflate(ws, peer, answer, compression={"client_no_context_takeover": True})
    first, second = ws.prepare("one " * 30), ws.prepare("two " * 30)
    assert outcome(ws.send(second), None) == (None, True)
    assert outcome(ws.send(first), None) == (None, True)
    assert [inflate(conn.recv_frame().payload) for _ in range(2)] == [b"two " * 30, b"one " * 30]
    conn.close_handshake()


def test_prepared_sends_through_a_compressing_websockets_server(ws: WebSocket) -> None:
    with websockets_server(echo, compression="deflate") as server:
        recorder = Recorder(ws)
        assert ws.connect(url_of(server), {"compression": "deflate"}).result(timeout()) is True
        messages: list[str | bytes] = [TEXT, b"\x00" * 70_000, "", "é" * 1000]
        sizes = []
        for message in messages:
            prepared = ws.prepare(message)
            sizes.append((prepared.size, prepared.wire_size))
            assert ws.send(prepared).result(timeout()) is True  # type: ignore[union-attr]
        assert recorder.messages(4) == messages
        assert sizes[1][0] == 70_000 and sizes[1][1] < 1000
        ws.close()
        assert recorder.closed().code == 1000
