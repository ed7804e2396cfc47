"""`runner.client.protocol`: RFC 6455 receive rules, without a network."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from runner.client.protocol import (
    OP_BINARY,
    OP_CLOSE,
    OP_CONT,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    MessageAssembler,
    ProtocolViolation,
    check_control_frame,
    parse_close_payload,
)


@contextmanager
def violation(code: int) -> Iterator[pytest.ExceptionInfo[ProtocolViolation]]:
    """Expect a ProtocolViolation that fails the connection with `code`."""
    with pytest.raises(ProtocolViolation) as caught:
        yield caught
    assert caught.value.code == code, caught.value


# -- control frames --------------------------------------------------------------------------


@pytest.mark.parametrize("opcode", [OP_CLOSE, OP_PING, OP_PONG])
@pytest.mark.parametrize("length", [0, 1, 125])
def test_whole_control_frames_up_to_125_bytes_pass(opcode: int, length: int) -> None:
    check_control_frame(opcode, 1, length)


@pytest.mark.parametrize("opcode", [OP_CLOSE, OP_PING, OP_PONG])
def test_fragmented_control_frame_is_1002(opcode: int) -> None:
    with violation(1002) as caught:
        check_control_frame(opcode, 0, 3)
    assert "fragmented control frame" in caught.value.reason


@pytest.mark.parametrize("length", [126, 65535, 2**20])
def test_control_frame_over_125_bytes_is_1002(length: int) -> None:
    with violation(1002) as caught:
        check_control_frame(OP_PING, 1, length)
    assert str(length) in caught.value.reason


# -- close payloads --------------------------------------------------------------------------


def close(code: int, reason: bytes = b"") -> bytes:
    return struct.pack("!H", code) + reason


def test_empty_close_payload_has_no_status() -> None:
    assert parse_close_payload(b"") == (None, "")


@pytest.mark.parametrize(
    "code", [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 4999]
)
def test_close_payload_with_a_valid_code(code: int) -> None:
    assert parse_close_payload(close(code, "bye ✓".encode())) == (code, "bye ✓")


@pytest.mark.parametrize(
    "code", [0, 1, 999, 1004, 1005, 1006, 1015, 1016, 1999, 2000, 2999, 5000, 65535]
)
def test_close_payload_with_an_invalid_code_is_1002(code: int) -> None:
    with violation(1002):
        parse_close_payload(close(code))


def test_one_byte_close_payload_is_1002() -> None:
    with violation(1002):
        parse_close_payload(b"\x03")


@pytest.mark.parametrize("reason", [b"\xff", b"ok \xc0\xaf", b"\xed\xa0\x80", b"\xe2\x82"])
def test_close_reason_that_is_not_utf8_is_1007(reason: bytes) -> None:
    with violation(1007):
        parse_close_payload(close(1000, reason))


def test_violation_message_names_the_code() -> None:
    assert str(ProtocolViolation(1002, "bad thing")) == "bad thing (close code 1002)"


# -- reassembly ------------------------------------------------------------------------------


def test_single_frames_are_whole_messages() -> None:
    assembler = MessageAssembler()
    assert assembler.feed(OP_TEXT, 1, "héllo".encode()) == "héllo"
    assert assembler.feed(OP_BINARY, 1, b"\x00\xff") == b"\x00\xff"
    assert assembler.feed(OP_TEXT, 1, b"") == ""
    assert assembler.feed(OP_BINARY, 1, b"") == b""


@pytest.mark.parametrize(("opcode", "kind"), [(OP_TEXT, str), (OP_BINARY, bytes)])
def test_fragments_are_reassembled(opcode: int, kind: type) -> None:
    assembler = MessageAssembler()
    assert assembler.feed(opcode, 0, b"Hel") is None
    assert assembler.feed(OP_CONT, 0, b"") is None
    assert assembler.feed(OP_CONT, 0, b"lo") is None
    message = assembler.feed(OP_CONT, 1, b"!")
    assert message == kind(b"Hello!") if kind is bytes else message == "Hello!"
    assert isinstance(message, kind)
    assert assembler.feed(OP_TEXT, 1, b"next") == "next"  # ready for the next message


def test_multibyte_characters_split_at_every_point() -> None:
    data = "€𝄞é".encode()
    for cut in range(1, len(data)):
        assembler = MessageAssembler()
        assert assembler.feed(OP_TEXT, 0, data[:cut]) is None
        assert assembler.feed(OP_CONT, 1, data[cut:]) == "€𝄞é"


def test_continuation_without_a_start_is_1002() -> None:
    with violation(1002):
        MessageAssembler().feed(OP_CONT, 1, b"x")


@pytest.mark.parametrize("opcode", [OP_TEXT, OP_BINARY])
def test_new_data_frame_inside_a_fragmented_message_is_1002(opcode: int) -> None:
    assembler = MessageAssembler()
    assembler.feed(OP_TEXT, 0, b"a")
    with violation(1002):
        assembler.feed(opcode, 1, b"b")


@pytest.mark.parametrize("payload", [b"\xff", b"a\xc0\xafb", b"\xed\xa0\x80", b"\xf4\x90\x80\x80"])
def test_invalid_utf8_in_one_frame_is_1007(payload: bytes) -> None:
    with violation(1007):
        MessageAssembler().feed(OP_TEXT, 1, payload)


def test_binary_is_not_checked_for_utf8() -> None:
    assert MessageAssembler().feed(OP_BINARY, 1, b"\xff\xfe") == b"\xff\xfe"


def test_invalid_utf8_fails_in_the_fragment_that_holds_it() -> None:
    assembler = MessageAssembler()
    assert assembler.feed(OP_TEXT, 0, "κόσμε".encode()) is None
    with violation(1007):
        assembler.feed(OP_CONT, 0, b"\xf4\x90\x80\x80")  # past U+10FFFF, not final yet


def test_truncated_character_at_the_end_of_the_message_is_1007() -> None:
    assembler = MessageAssembler()
    assert assembler.feed(OP_TEXT, 0, b"ok \xe2") is None  # may still be completed
    with violation(1007):
        assembler.feed(OP_CONT, 1, b"\x82")


def test_size_limit_single_frame() -> None:
    assembler = MessageAssembler(max_size=10)
    assert assembler.feed(OP_BINARY, 1, b"x" * 10) == b"x" * 10
    with violation(1009):
        assembler.feed(OP_BINARY, 1, b"x" * 11)


def test_size_limit_counts_every_fragment() -> None:
    assembler = MessageAssembler(max_size=10)
    assembler.feed(OP_TEXT, 0, b"x" * 6)
    with violation(1009):
        assembler.feed(OP_CONT, 0, b"x" * 5)


def test_size_limit_of_exactly_the_limit_over_fragments() -> None:
    assembler = MessageAssembler(max_size=10)
    assembler.feed(OP_TEXT, 0, b"x" * 6)
    assert assembler.feed(OP_CONT, 1, b"x" * 4) == "x" * 10


def test_size_limit_zero_means_none() -> None:
    assert MessageAssembler(max_size=0).feed(OP_BINARY, 1, b"x" * 100_000) == b"x" * 100_000
