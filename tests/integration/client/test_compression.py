"""permessage-deflate (RFC 7692) in the client core: the offer, the answer, RSV1, bombs (issue 17).

The raw peer answers the handshake by hand and compresses with zlib itself, so that what the
client must refuse can be sent; a `websockets` server shows the happy path with a real peer.
"""

from __future__ import annotations

import subprocess
import sys
import zlib
from typing import Any

import pytest

from runner.client import BusinessError, DeflateOptions, WebSocket, create_websocket
from runner.server import TestServer
from tests.integration.client.recorder import QUIET, Recorder, outcome
from tests.rawpeer import OP_BINARY, OP_CLOSE, OP_CONT, OP_PING, OP_TEXT, PeerConnection, RawPeer
from tests.support import echo, timeout, url_of, websockets_server

TAIL = b"\x00\x00\xff\xff"  # RFC 7692 §7.2.1: stripped by the sender, appended by the receiver


def deflate(data: bytes, wbits: int = 15) -> bytes:
    """One message compressed as §7.2.1 says: raw deflate, sync flush, tail removed."""
    encoder = zlib.compressobj(wbits=-wbits)
    out = encoder.compress(data) + encoder.flush(zlib.Z_SYNC_FLUSH)
    assert out.endswith(TAIL)
    return out[:-4]


def inflate(data: bytes, decoder: Any = None) -> bytes:
    decoder = decoder or zlib.decompressobj(wbits=-15)
    return bytes(decoder.decompress(data + TAIL))


def open_deflate(
    ws: WebSocket, peer: RawPeer, answer: str = "permessage-deflate", **options: Any
) -> tuple[Recorder, PeerConnection]:
    """Connect with compression on; the peer answers `answer` in Sec-WebSocket-Extensions."""
    recorder = Recorder(ws)
    future = ws.connect(peer.url, {**QUIET, "compression": "deflate", **options})
    conn = peer.accept(handshake=False)
    conn.read_request(timeout())
    conn.respond(extra=f"Sec-WebSocket-Extensions: {answer}\r\n" if answer else "")
    error, value = outcome(future, None)
    assert error is None and value is True, f"handshake failed: {error}"
    return recorder, conn


def refused(peer: RawPeer, answer: str, options: Any) -> tuple[BusinessError, PeerConnection]:
    """Connect, answer `answer`, and return the handshake's error and the peer's connection."""
    ws = create_websocket()
    future = ws.connect(peer.url, options)
    conn = peer.accept(handshake=False)
    conn.read_request(timeout())
    conn.respond(extra=f"Sec-WebSocket-Extensions: {answer}\r\n")
    error, _ = outcome(future, None)
    assert isinstance(error, BusinessError), f"expected a refusal of {answer!r}, got {error!r}"
    assert ws.wait_closed(timeout())
    return error, conn


def failed(conn: PeerConnection, recorder: Recorder) -> tuple[int | None, str]:
    """The code the client failed the connection with, and its `error` event's message."""
    code = conn.recv_close().close_code
    conn.send_close(code)
    conn.close()
    return code, recorder.error().message


# -- the offer -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("compression", "offer"),
    [
        ("deflate", "permessage-deflate; client_max_window_bits"),
        (
            {"client_max_window_bits": 10, "server_max_window_bits": 9},
            "permessage-deflate; server_max_window_bits=9; client_max_window_bits=10",
        ),
        (
            DeflateOptions(client_no_context_takeover=True, server_no_context_takeover=True),
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; "
            "client_max_window_bits",
        ),
    ],
)
def test_the_offer(ws: WebSocket, peer: RawPeer, compression: Any, offer: str) -> None:
    ws.connect(peer.url, {"compression": compression})
    conn = peer.accept()
    assert conn.request_headers["sec-websocket-extensions"] == offer
    conn.close_handshake()


def test_no_offer_by_default(ws: WebSocket, peer: RawPeer) -> None:
    ws.connect(peer.url)
    conn = peer.accept()
    assert "sec-websocket-extensions" not in conn.request_headers
    conn.close_handshake()


# -- the answer ------------------------------------------------------------------------------


def test_open_says_what_was_negotiated(ws: WebSocket, peer: RawPeer) -> None:
    recorder, conn = open_deflate(
        ws, peer, "permessage-deflate; server_no_context_takeover; client_max_window_bits=12"
    )
    opened = recorder.opened()
    assert opened.extensions == ("permessage-deflate",)
    assert opened.compression == DeflateOptions(12, 15, False, True)
    conn.close_handshake()


def test_a_server_that_declines_leaves_messages_uncompressed(ws: WebSocket, peer: RawPeer) -> None:
    recorder, conn = open_deflate(ws, peer, answer="")
    assert recorder.opened().extensions == ()
    ws.send("plain")
    frame = conn.recv_frame()
    assert (frame.rsv, frame.payload) == (0, b"plain")
    conn.send_frame(OP_TEXT, b"x", rsv=4)  # RSV1 without the extension: RFC 6455 §5.2
    code, message = failed(conn, recorder)
    assert code == 1002
    assert "RSV1" in message


@pytest.mark.parametrize(
    ("answer", "options", "why"),
    [
        ("permessage-deflate; x_unknown", {}, "x_unknown"),
        ("permessage-deflate; server_max_window_bits=16", {}, "server_max_window_bits"),
        ("permessage-deflate; server_max_window_bits", {}, "server_max_window_bits"),
        ("permessage-deflate; client_no_context_takeover=1", {}, "client_no_context_takeover"),
        ("permessage-deflate, permessage-deflate", {}, "only permessage-deflate offered once"),
        ("x-webkit-deflate-frame", {}, "x-webkit-deflate-frame"),
        ("permessage-deflate; ;", {}, "invalid Sec-WebSocket-Extensions"),
        # §7.1.1.1: asked for server_no_context_takeover, the answer must hold it
        ("permessage-deflate", {"server_no_context_takeover": True}, "server_no_context"),
        # §7.1.2.1: asked for a server window, the answer must hold one no larger
        ("permessage-deflate", {"server_max_window_bits": 10}, "server_max_window_bits"),
        (
            "permessage-deflate; server_max_window_bits=12",
            {"server_max_window_bits": 10},
            "server_max_window_bits",
        ),
        # §7.1.2.2: a client window larger than offered
        (
            "permessage-deflate; client_max_window_bits=12",
            {"client_max_window_bits": 10},
            "client_max_window_bits",
        ),
    ],
)
def test_a_bad_answer_fails_with_1010(
    peer: RawPeer, answer: str, options: dict[str, Any], why: str
) -> None:
    error, conn = refused(peer, answer, {**QUIET, "compression": options or "deflate"})
    assert (error.code, error.data) == (200, "101")
    assert why in error.message
    close = conn.recv_close()
    assert close.close_code == 1010  # RFC 6455 §7.4.1
    assert conn.wait_eof(), "the client closes the connection"


def test_an_answer_without_an_offer_fails_with_no_close_frame(peer: RawPeer) -> None:
    error, conn = refused(peer, "permessage-deflate", QUIET)
    assert (error.code, error.data) == (200, "101")
    assert "permessage-deflate" in error.message and "none supported" in error.message
    assert conn.wait_eof()
    with pytest.raises(EOFError):
        conn.recv_frame()


# -- receiving -------------------------------------------------------------------------------


def test_compressed_messages_are_inflated(ws: WebSocket, peer: RawPeer) -> None:
    recorder, conn = open_deflate(ws, peer)
    text = "héllo " * 100
    conn.send_frame(OP_TEXT, deflate(text.encode()), rsv=4)
    conn.send_frame(OP_BINARY, b"raw", rsv=0)  # §6: an uncompressed message is allowed too
    body = deflate(b"\x00\x01" * 500)
    conn.send_frame(OP_BINARY, body[:5], fin=False, rsv=4)
    conn.send_frame(OP_PING, b"p")  # a control frame between fragments
    conn.send_frame(OP_CONT, body[5:], rsv=0)
    assert recorder.messages(3) == [text, b"raw", b"\x00\x01" * 500]
    conn.close_handshake()


def test_context_is_kept_across_messages(ws: WebSocket, peer: RawPeer) -> None:
    recorder, conn = open_deflate(ws, peer)
    encoder = zlib.compressobj(wbits=-15)
    for text in ("same words same words", "same words same words"):
        data = encoder.compress(text.encode()) + encoder.flush(zlib.Z_SYNC_FLUSH)
        conn.send_frame(OP_TEXT, data[:-4], rsv=4)
    assert recorder.messages(2) == ["same words same words"] * 2
    conn.close_handshake()


def test_context_reset_when_the_server_takes_no_context(ws: WebSocket, peer: RawPeer) -> None:
    # Under server_no_context_takeover the client resets its inflater: a message that refers
    # back to the previous one cannot be inflated any more and fails the connection.
    recorder, conn = open_deflate(ws, peer, "permessage-deflate; server_no_context_takeover")
    encoder = zlib.compressobj(wbits=-15)
    for _ in range(2):
        data = encoder.compress(b"abcdefghij" * 20) + encoder.flush(zlib.Z_SYNC_FLUSH)
        conn.send_frame(OP_TEXT, data[:-4], rsv=4)
    assert recorder.messages(1) == ["abcdefghij" * 20]
    code, message = failed(conn, recorder)
    assert code == 1002
    assert "permessage-deflate" in message


@pytest.mark.parametrize(
    ("frames", "why"),
    [
        ([(OP_PING, b"", True, 4)], "control frame (opcode 9) with RSV1"),
        ([(OP_TEXT, deflate(b"ab")[:1], False, 4), (OP_CONT, b"", True, 4)], "continuation"),
        ([(OP_TEXT, b"x", False, 0), (OP_CONT, b"y", True, 4)], "continuation"),
        ([(OP_TEXT, b"x", True, 2)], "RSV2 or RSV3"),
        ([(OP_TEXT, b"\xff\xff\xff", True, 4)], "permessage-deflate"),
    ],
)
def test_rsv_misuse_and_bad_data_fail_with_1002(
    ws: WebSocket, peer: RawPeer, frames: list[tuple[int, bytes, bool, int]], why: str
) -> None:
    recorder, conn = open_deflate(ws, peer)
    for opcode, payload, fin, rsv in frames:
        conn.send_frame(opcode, payload, fin=fin, rsv=rsv)
    code, message = failed(conn, recorder)
    assert code == 1002
    assert why in message
    assert recorder.closed().code == 1002


def test_inflated_text_must_be_utf8(ws: WebSocket, peer: RawPeer) -> None:
    recorder, conn = open_deflate(ws, peer)
    conn.send_frame(OP_TEXT, deflate(b"\xc3\x28"), rsv=4)
    code, message = failed(conn, recorder)
    assert code == 1007
    assert "UTF-8" in message


@pytest.mark.parametrize("fragmented", [False, True])
def test_a_decompression_bomb_fails_with_1009(
    ws: WebSocket, peer: RawPeer, fragmented: bool
) -> None:
    bomb = deflate(b"\x00" * (64 << 20))  # 64 MiB of zeros: about 64 KiB on the wire
    assert len(bomb) < 100_000
    recorder, conn = open_deflate(ws, peer, maxMessageSize=1 << 20)
    if fragmented:  # the bound is the message's, not each frame's
        half = len(bomb) // 2
        conn.send_frame(OP_BINARY, bomb[:half], fin=False, rsv=4)
        conn.send_frame(OP_CONT, bomb[half:])
    else:
        conn.send_frame(OP_BINARY, bomb, rsv=4)
    code, message = failed(conn, recorder)
    assert code == 1009
    assert "inflates to over 1048576 bytes" in message
    assert recorder.names().count("message") == 0


def test_a_message_at_the_limit_passes(ws: WebSocket, peer: RawPeer) -> None:
    recorder, conn = open_deflate(ws, peer, maxMessageSize=1000)
    conn.send_frame(OP_BINARY, deflate(b"a" * 1000), rsv=4)
    conn.send_frame(OP_BINARY, deflate(b"a" * 1001), rsv=4)
    assert recorder.messages(1) == [b"a" * 1000]
    assert failed(conn, recorder)[0] == 1009


# -- sending ---------------------------------------------------------------------------------


def test_sent_messages_are_compressed_with_rsv1(ws: WebSocket, peer: RawPeer) -> None:
    _, conn = open_deflate(ws, peer)
    decoder = zlib.decompressobj(wbits=-15)
    for _ in range(2):
        ws.send("abc" * 100)
        frame = conn.recv_frame()
        assert (frame.opcode, frame.rsv, frame.fin, frame.masked) == (OP_TEXT, 4, True, True)
        assert not frame.payload.endswith(TAIL)  # §7.2.1: the tail is stripped
        assert inflate(frame.payload, decoder) == b"abc" * 100
    ws.send(b"")
    empty = conn.recv_frame()
    assert (empty.opcode, empty.rsv, inflate(empty.payload)) == (OP_BINARY, 4, b"")
    ws.close({"code": 1000, "reason": "bye"})
    close = conn.recv_frame()
    assert (close.opcode, close.rsv, close.close_code) == (OP_CLOSE, 0, 1000)  # never compressed


@pytest.mark.parametrize("answer_flag", [True, False])
def test_client_no_context_takeover(ws: WebSocket, peer: RawPeer, answer_flag: bool) -> None:
    # §7.1.1.2: offered, it holds whether or not the server's answer repeats it.
    answer = "permessage-deflate; client_no_context_takeover" if answer_flag else ""
    _, conn = open_deflate(
        ws,
        peer,
        answer or "permessage-deflate",
        compression={"client_no_context_takeover": True},
    )
    sizes = []
    for _ in range(2):
        ws.send("repeat me " * 20)
        payload = conn.recv_frame().payload
        assert inflate(payload) == b"repeat me " * 20  # each inflates with a fresh decoder
        sizes.append(len(payload))
    assert sizes[0] == sizes[1]
    conn.close_handshake()


def test_client_window_bits_as_negotiated(ws: WebSocket, peer: RawPeer) -> None:
    recorder, conn = open_deflate(ws, peer, "permessage-deflate; client_max_window_bits=9")
    assert recorder.opened().compression == DeflateOptions(9, 15, False, False)
    data = bytes(range(256)) * 8
    ws.send(data)
    assert inflate(conn.recv_frame().payload, zlib.decompressobj(wbits=-9)) == data
    conn.close_handshake()


# -- against real servers --------------------------------------------------------------------


def test_round_trips_through_a_websockets_server(ws: WebSocket) -> None:
    with websockets_server(echo, compression="deflate") as server:
        recorder = Recorder(ws)
        opts = {"compression": {"client_max_window_bits": 11, "server_no_context_takeover": True}}
        assert ws.connect(url_of(server), opts).result(timeout()) is True
        opened = recorder.opened()
        assert opened.extensions == ("permessage-deflate",)
        assert "permessage-deflate" in opened.headers["sec-websocket-extensions"]
        big = "x" * 300_000 + "é"
        for message in ("small", b"\x00" * 70_000, big, ""):
            ws.send(message)
        assert recorder.messages(4) == ["small", b"\x00" * 70_000, big, ""]
        ws.close()
        assert recorder.closed().code == 1000


def test_a_server_without_compression_answers_none(ws: WebSocket) -> None:
    with websockets_server(echo, compression=None) as server:
        recorder = Recorder(ws)
        assert ws.connect(url_of(server), {"compression": "deflate"}).result(timeout())
        assert recorder.opened().extensions == ()
        ws.send("plain")
        assert recorder.messages(1) == ["plain"]


@pytest.mark.parametrize("on", [True, False])
def test_the_built_in_server_negotiates_only_when_asked(ws: WebSocket, on: bool) -> None:
    with TestServer(compression=on) as server:
        recorder = Recorder(ws)
        assert ws.connect(f"{server.url}/echo", {"compression": "deflate"}).result(timeout())
        assert recorder.opened().extensions == (("permessage-deflate",) if on else ())
        ws.send("hello")
        assert recorder.messages(1) == ["hello"]


# -- supportOriginPort and openInfo (OpenHarmony API 26) -------------------------------------


@pytest.mark.parametrize(
    ("options", "origin"),
    [
        ({}, "http://127.0.0.1"),
        ({"supportOriginPort": False}, "http://127.0.0.1"),
        ({"supportOriginPort": True}, "http://127.0.0.1:{port}"),
        ({"supportOriginPort": True, "header": {"Origin": "http://o.test"}}, "http://o.test"),
    ],
)
def test_origin_keeps_the_port_only_when_asked(
    ws: WebSocket, peer: RawPeer, options: dict[str, Any], origin: str
) -> None:
    ws.connect(peer.url, options)
    conn = peer.accept()
    assert conn.request_headers["origin"] == origin.format(port=peer.port)
    conn.close_handshake()


def test_open_info_follows_open(ws: WebSocket, peer: RawPeer) -> None:
    recorder = Recorder(ws, ["headerReceive", "open", "openInfo", "close"])
    ws.connect(peer.url, {**QUIET, "protocol": "chat"})
    conn = peer.accept(protocol="chat")
    [info] = recorder.wait_for("openInfo")
    assert recorder.names() == ["headerReceive", "open", "openInfo"]
    assert info.args[0] is None
    assert (info.args[1].status, info.args[1].message, info.args[1].protocol) == (
        101,
        "Switching Protocols",
        "chat",
    )
    assert info.args[1] == recorder.opened()
    conn.close_handshake()


@pytest.mark.parametrize("flag", [True, False])
def test_wsrun_serve_compression_flag(ws: WebSocket, flag: bool) -> None:
    command = [sys.executable, "-m", "runner.server", "--port", "0"]
    proc = subprocess.Popen(
        [*command, "--compression"] if flag else command, stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.endswith(", permessage-deflate on\n") is flag, line
        url = line.split("listening on ", 1)[1].split(",")[0].strip()
        recorder = Recorder(ws)
        assert ws.connect(f"{url}/echo", {"compression": "deflate"}).result(timeout())
        assert recorder.opened().extensions == (("permessage-deflate",) if flag else ())
    finally:
        proc.terminate()
        proc.communicate(timeout=timeout())  # closes the pipe
