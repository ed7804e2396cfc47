"""The STOMP 1.2 codec and the `stomp` protocol, sans-I/O (no sockets): frames round-trip with
their headers escaped, the stream is split however it is cut, and broken frames are named."""

from __future__ import annotations

import pytest

from runner.protocols.base import MalformedFrame, ProtocolFailure
from runner.protocols.stomp import Stomp, StompOptions
from runner.protocols.stomp_codec import (
    CLIENT_COMMANDS,
    HEARTBEAT,
    SERVER_COMMANDS,
    CodecError,
    Splitter,
    StompFrame,
    encode,
    negotiate_heartbeat,
)

FRAMES = [
    StompFrame("MESSAGE", (("destination", "/queue/a:b\nc\\d\re"), ("k", "1"), ("k", "2")), b"x"),
    StompFrame("MESSAGE", (("content-length", "3"),), b"a\x00b"),  # a NUL inside the body
    StompFrame("RECEIPT", (("receipt-id", "r1"),)),
    StompFrame("CONNECTED", (("version", "1.2"), ("weird", "a:b"))),  # CONNECTED: not escaped
    StompFrame("ERROR", (), "é".encode()),
]


def test_frames_round_trip_byte_by_byte_and_all_at_once() -> None:
    data = b"\n".join(encode(frame) for frame in FRAMES) + b"\r\n"
    whole = [f for f in Splitter(SERVER_COMMANDS).feed(data) if f is not HEARTBEAT]
    assert whole == FRAMES
    splitter = Splitter(SERVER_COMMANDS)
    one_by_one = [f for byte in data for f in splitter.feed(bytes([byte])) if f is not HEARTBEAT]
    assert one_by_one == FRAMES
    assert FRAMES[0].header("k") == "1"  # STOMP 1.2: of a repeated header, the first


def test_headers_are_escaped_but_for_connect_and_connected() -> None:
    sent = encode(StompFrame("SEND", (("destination", "/q/a:b\nc"),)))
    assert sent == b"SEND\ndestination:/q/a\\cb\\nc\n\n\x00"
    assert encode(StompFrame("CONNECT", (("login", "a:b"),))) == b"CONNECT\nlogin:a:b\n\n\x00"


def test_heart_beats_between_frames_and_crlf_lines() -> None:
    items = list(Splitter(SERVER_COMMANDS).feed(b"\n\r\nRECEIPT\r\nreceipt-id:1\r\n\r\n\x00"))
    assert items == [HEARTBEAT, HEARTBEAT, StompFrame("RECEIPT", (("receipt-id", "1"),))]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"MESSAGE\nno colon\n\n\x00", "MESSAGE has a header line without a colon: 'no colon'"),
        (b"MESSAGE\nk:a\\tb\n\n\x00", "MESSAGE has the undefined escape \\\\t in a header"),
        (b"SEND\n\n\x00", "unknown command 'SEND'; expected one of CONNECTED, ERROR"),
        (b"message\n\n\x00", "unknown command 'message'"),
        (b"MESSAGE\ncontent-length:x\n\n\x00", "MESSAGE has content-length 'x', not a number"),
        (b"MESSAGE\ncontent-length:1\n\nab\x00", "not followed by NUL"),
        (b"MESSAGE\n\xff:1\n\n\x00", "frame's command or headers are not UTF-8"),
    ],
)
def test_broken_frames_are_named(data: bytes, message: str) -> None:
    with pytest.raises(CodecError, match=message):
        list(Splitter(SERVER_COMMANDS).feed(data))


def test_the_limit_holds_for_a_frame_without_its_end() -> None:
    splitter = Splitter(CLIENT_COMMANDS, limit=100)
    assert list(splitter.feed(b"SEND\ndestination:/q\n\n" + b"x" * 50)) == []
    with pytest.raises(CodecError, match="frame is over the limit of 100 bytes"):
        list(splitter.feed(b"x" * 60))
    with pytest.raises(CodecError, match="over the limit"):
        list(Splitter(CLIENT_COMMANDS, limit=100).feed(b"SEND\ncontent-length:500\n\n"))


@pytest.mark.parametrize(
    ("mine", "theirs", "expected"),
    [((1000, 1000), "500,2000", (2000, 1000)), ((0, 1000), "500,2000", (0, 1000)),
     ((1000, 0), "0,0", (0, 0)), ((100, 100), None, (0, 0))],
)  # fmt: skip
def test_heart_beat_negotiation(
    mine: tuple[int, int], theirs: str | None, expected: tuple[int, int]
) -> None:
    assert negotiate_heartbeat(mine, theirs) == expected


def protocol(**options: object) -> Stomp:
    return Stomp(StompOptions.model_validate(options))


def test_the_protocol_connects_beats_and_correlates_receipts() -> None:
    stomp = protocol(login="u", passcode="p", heart_beat=[0.5, 0])
    stomp.url("ws://broker.example:61614/ws")
    [opening] = stomp.opening()
    assert opening == (
        "CONNECT\naccept-version:1.2,1.1\nhost:broker.example\nheart-beat:500,0\n"
        "login:u\npasscode:p\n\n\x00"
    )
    [connected] = stomp.decode("CONNECTED\nversion:1.2\nheart-beat:0,1000\n\n\x00")
    assert connected.handshake and stomp.handshake_done(connected)
    assert stomp.heartbeat_interval() == 1.0 and stomp.heartbeat() == ["\n"]
    frames, key = stomp.call({"command": "SEND", "headers": {"destination": "/q"}, "body": [1]}, 7)
    assert key == "receipt:wsrun-7"
    assert frames == [
        "SEND\ndestination:/q\nreceipt:wsrun-7\ncontent-type:application/json\n"
        "content-length:3\n\n[1]\x00"
    ]
    [receipt] = stomp.decode("RECEIPT\nreceipt-id:wsrun-7\n\n\x00\n\n")  # EOLs after: padding
    assert receipt.reply_to == key
    [beat] = stomp.decode("\n")
    assert beat.heartbeat
    binary = {"command": "SEND", "headers": {"destination": "/q"}, "body": {"base64": "AP8="}}
    assert stomp.encode(binary) == [b"SEND\ndestination:/q\ncontent-length:2\n\n\x00\xff\x00"]
    assert stomp.closing() == ["DISCONNECT\n\n\x00"]


def test_errors_fail_the_handshake_and_the_calls_they_answer() -> None:
    stomp = protocol()
    [error] = stomp.decode("ERROR\nmessage:bad login\n\nwho are you?\x00")
    with pytest.raises(ProtocolFailure, match="refused the connection: bad login: who are you"):
        stomp.handshake_done(error)
    stomp = protocol()
    stomp.handshake_done(stomp.decode("CONNECTED\nversion:1.2\n\n\x00")[0])
    [other] = stomp.decode("ERROR\nmessage:not for a call\n\n\x00")  # no call waits: inbox
    assert other.envelope["command"] == "ERROR" and other.reply_to is None
    stomp.call({"command": "SUBSCRIBE", "headers": {"id": "1", "destination": "/q"}}, 1)
    with pytest.raises(ProtocolFailure, match="answered with ERROR: no such queue"):
        stomp.decode("ERROR\nmessage:no such queue\nreceipt-id:wsrun-1\n\n\x00")
    with pytest.raises(MalformedFrame, match="MESSAGE came before CONNECTED"):
        protocol().decode("MESSAGE\n\n\x00")


def test_requests_are_checked() -> None:
    with pytest.raises(ValueError, match="command must be one of ABORT, ACK"):
        protocol().encode({"command": "CONNECT"})
    with pytest.raises(ValueError, match="heart_beat is \\[outgoing, incoming\\]"):
        protocol(heart_beat=[1, 2, 3])
