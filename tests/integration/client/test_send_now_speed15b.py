"""`WebSocket.send_now(prepared)` (issue 15, second round): a prepared message written on the
calling thread, its refusal raised there as the `BusinessError` `send` settles its Future with.
wsrun's send steps use it: no Future made, settled and read per message.
"""

from __future__ import annotations

import pytest

from runner.client import BusinessError, ErrorCode, WebSocket, create_websocket
from tests.integration.client.test_prepared_send import open_plain
from tests.rawpeer import OP_TEXT, RawPeer


def test_send_now_writes_the_prepared_frame_and_returns_nothing(
    ws: WebSocket, peer: RawPeer
) -> None:
    conn = open_plain(ws, peer)
    prepared = ws.prepare("now")
    assert ws.send_now(prepared) is None  # type: ignore[func-returns-value]
    frame = conn.recv_frame()
    assert (frame.opcode, frame.payload) == (OP_TEXT, b"now")
    assert ws.wire_sizes[0] == prepared.wire_size == 3
    conn.close_handshake()


def test_send_now_raises_what_send_would_settle_with(ws: WebSocket, peer: RawPeer) -> None:
    conn = open_plain(ws, peer)
    prepared = ws.prepare("once")
    ws.send_now(prepared)
    assert conn.recv_frame().payload == b"once"
    with pytest.raises(BusinessError) as again:
        ws.send_now(prepared)
    assert (again.value.code, again.value.message) == (
        ErrorCode.PARAMETER,
        "Parameter error: message sent already",
    )
    never_opened = create_websocket()
    with pytest.raises(BusinessError) as not_open:
        never_opened.send_now(ws.prepare("nowhere"))
    assert not_open.value.code == ErrorCode.OTHER
    assert "not open" in not_open.value.message
    conn.close_handshake()
