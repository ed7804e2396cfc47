"""`/fragmented`: each message answered by a large message in many frames (RFC 6455 5.4)."""

from __future__ import annotations

import pytest
from websockets.exceptions import InvalidStatus

from runner.server import TestServer
from tests.integration.server.clients import open_ws
from tests.support import timeout


def test_binary_answer_comes_in_fragments_of_the_asked_size(server: TestServer) -> None:
    with open_ws(server, "/fragmented?size=1000&fragment=300") as ws:
        ws.send(b"abc")
        fragments = [bytes(f) for f in ws.recv_streaming(decode=False)]
    # websockets ends a fragmented message with an empty final frame
    assert [len(f) for f in fragments] == [300, 300, 300, 100, 0]
    assert b"".join(fragments) == (b"abc" * 334)[:1000]


def test_text_answer_is_valid_utf8_even_when_frames_split_characters(
    server: TestServer,
) -> None:
    with open_ws(server, "/fragmented?size=100&fragment=7") as ws:
        ws.send("é€")  # 5 bytes in UTF-8, so fragments of 7 bytes split characters
        message = ws.recv(timeout=timeout())
    assert isinstance(message, str)
    assert message == ("é€" * 20)
    assert len(message.encode()) == 100


def test_every_message_gets_its_answer(server: TestServer) -> None:
    with open_ws(server, "/fragmented?size=10&fragment=4") as ws:
        ws.send("x")
        ws.send("")
        assert ws.recv(timeout=timeout()) == "x" * 10
        assert ws.recv(timeout=timeout()) == "." * 10


def test_fragmented_defaults_to_64_kib_in_4_kib_fragments(server: TestServer) -> None:
    with open_ws(server, "/fragmented") as ws:
        ws.send(b"z")
        fragments = [bytes(f) for f in ws.recv_streaming(decode=False)]
    assert len(b"".join(fragments)) == 65536
    assert len(fragments) == 17


def test_fragmented_refuses_too_many_fragments(server: TestServer) -> None:
    with pytest.raises(InvalidStatus) as caught:
        open_ws(server, "/fragmented?size=1000000&fragment=1")
    assert caught.value.response.status_code == 400
