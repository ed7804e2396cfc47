"""The rules of RFC 6455 that more than one part of wsrun applies, in one place.

Pure data and functions, no I/O: the client core, the scenario language and the built-in server
all import them, so a close code the language accepts is one the client sends and the server
uses, and the other way round.
"""

from __future__ import annotations

from enum import IntEnum

__all__ = [
    "MAX_CLOSE_REASON_BYTES",
    "MAX_CONTROL_PAYLOAD",
    "SENDABLE_CLOSE_CODES",
    "Opcode",
    "close_code_problem",
    "close_reason_problem",
    "is_sendable_close_code",
]

#: A control frame carries at most 125 bytes of payload (RFC 6455 section 5.5).
MAX_CONTROL_PAYLOAD = 125
#: A Close frame's reason: the control payload less the two bytes of its code (section 5.5.1).
MAX_CLOSE_REASON_BYTES = MAX_CONTROL_PAYLOAD - 2
#: Close codes an endpoint may send, for a person: sections 7.4.1 and 7.4.2 (1012-1014 were
#: registered with IANA later); 1004 is reserved, 1005, 1006 and 1015 must never be sent, and
#: 1016-2999 are reserved for future revisions of the protocol.
SENDABLE_CLOSE_CODES = "1000-1003, 1007-1014 or 3000-4999"


class Opcode(IntEnum):
    """Frame opcodes (RFC 6455 section 5.2)."""

    CONTINUATION = 0x0
    TEXT = 0x1
    BINARY = 0x2
    CLOSE = 0x8
    PING = 0x9
    PONG = 0xA


def is_sendable_close_code(code: int) -> bool:
    """Whether RFC 6455 (section 7.4) lets an endpoint put `code` in a Close frame."""
    return 1000 <= code <= 1003 or 1007 <= code <= 1014 or 3000 <= code <= 4999


def close_code_problem(code: int) -> str | None:
    """Why `code` may not be sent, in wsrun's error grammar; None when it may."""
    if is_sendable_close_code(code):
        return None
    return f"close code {code} cannot be sent (use {SENDABLE_CLOSE_CODES})"


def close_reason_problem(reason: str) -> str | None:
    """Why `reason` cannot go in a Close frame (too long, or not encodable); None when it can."""
    try:
        size = len(reason.encode("utf-8"))
    except UnicodeEncodeError as exc:  # a lone surrogate cannot go on the wire
        return f"close reason must be valid Unicode, found {exc.reason}"
    if size > MAX_CLOSE_REASON_BYTES:
        return f"close reason is over {MAX_CLOSE_REASON_BYTES} UTF-8 bytes (found {size})"
    return None
