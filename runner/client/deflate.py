"""permessage-deflate (RFC 7692) for the client core: the offer, the answer, and the codec.

The `websockets` package, already a dependency, has a sans-I/O implementation that is kept well:
its `ClientPerMessageDeflateFactory` builds the offer and applies §7.1's rules to the answer, and
its `PerMessageDeflate` inflates and deflates frames. This module adapts websocket-client's frames
to it and maps its exceptions to the close codes of `protocol`; it writes no codec of its own.

`websockets` is imported where compression is offered or used, not with the client: importing
the package (its version module reads `importlib.metadata`) was about a tenth of a ``wsrun run``'s
start-up, for connections that mostly do not compress.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from runner.client.options import DeflateOptions
from runner.client.protocol import (
    MESSAGE_TOO_BIG,
    OP_CLOSE,
    OP_CONT,
    PROTOCOL_ERROR,
    ProtocolViolation,
)

if TYPE_CHECKING:
    from websockets.extensions.permessage_deflate import (
        ClientPerMessageDeflateFactory,
        PerMessageDeflate,
    )

__all__ = ["EXTENSION_NAME", "Deflate", "Refused", "check_rsv", "negotiate", "offer"]

EXTENSION_NAME = "permessage-deflate"

#: memLevel 5 is what `websockets` chose for clients (far less memory per connection). Level 1,
#: not zlib's default 6: a test client must not be the bottleneck; on 128 KiB of JSON it is ~3x
#: faster for ~30% more bytes (what the server sends is compressed at the server's own level).
_COMPRESS_SETTINGS = {"level": 1, "memLevel": 5}


class Refused(Exception):
    """The server's `Sec-WebSocket-Extensions` answer cannot be accepted (RFC 7692 §5)."""


def _factory(options: DeflateOptions) -> ClientPerMessageDeflateFactory:
    from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory

    return ClientPerMessageDeflateFactory(
        server_no_context_takeover=options.server_no_context_takeover,
        client_no_context_takeover=options.client_no_context_takeover,
        server_max_window_bits=options.server_max_window_bits,
        # None: offer the parameter with no value, so the server may pick any (§7.1.2.2)
        client_max_window_bits=options.client_max_window_bits or True,
        compress_settings=_COMPRESS_SETTINGS,
    )


def offer(options: DeflateOptions) -> str:
    """The `Sec-WebSocket-Extensions` value of the upgrade request."""
    from websockets.headers import build_extension

    factory = _factory(options)
    return build_extension([(factory.name, list(factory.get_request_params()))])


def negotiate(options: DeflateOptions | None, answer: str) -> tuple[Deflate, DeflateOptions] | None:
    """Check the server's answer to the offer; return the codec and the agreed parameters.

    None when the server declined (no extension: messages go uncompressed). Raises `Refused` for
    an extension not offered, a second permessage-deflate (§5), or parameters §7.1 forbids.
    """
    if not answer.strip():
        return None
    if options is None:  # RFC 6455 §4.1: an extension that was not offered fails the connection
        raise Refused(f"server chose extensions {answer!r}, none supported")
    from websockets.exceptions import InvalidHandshake
    from websockets.headers import parse_extension

    try:
        items = parse_extension(answer)
    except InvalidHandshake as exc:
        raise Refused(f"invalid Sec-WebSocket-Extensions {answer!r}: {exc}") from None
    names = [name for name, _ in items]
    if names != [EXTENSION_NAME]:
        raise Refused(f"server chose extensions {names}, only {EXTENSION_NAME} offered once")
    try:
        extension = _factory(options).process_response_params(items[0][1], [])
    except InvalidHandshake as exc:  # NegotiationError and its parameter errors
        raise Refused(f"server's {EXTENSION_NAME} parameters refused: {exc}") from None
    return Deflate(extension), _agreed(extension)


def _agreed(extension: PerMessageDeflate) -> DeflateOptions:
    """What was negotiated, in the terms of the offer (the client is the local side)."""
    return DeflateOptions(
        client_max_window_bits=extension.local_max_window_bits,
        server_max_window_bits=extension.remote_max_window_bits,
        client_no_context_takeover=extension.local_no_context_takeover,
        server_no_context_takeover=extension.remote_no_context_takeover,
    )


def check_rsv(opcode: int, rsv1: int, rsv2: int, rsv3: int, deflate: bool) -> None:
    """RFC 7692 §6: RSV1 marks the first frame of a compressed message, and only that.

    Without a negotiated extension any RSV bit fails the connection (RFC 6455 §5.2).
    """
    if rsv2 or rsv3:
        raise ProtocolViolation(PROTOCOL_ERROR, "frame with RSV2 or RSV3 set, no extension uses it")
    if not rsv1:
        return
    if not deflate:
        raise ProtocolViolation(PROTOCOL_ERROR, "frame with RSV1 set, no extension negotiated")
    if opcode >= OP_CLOSE:
        raise ProtocolViolation(PROTOCOL_ERROR, f"control frame (opcode {opcode}) with RSV1 set")
    if opcode == OP_CONT:
        raise ProtocolViolation(PROTOCOL_ERROR, "continuation frame with RSV1 set")


@dataclass
class _Message:
    """How much of the current incoming message was inflated so far."""

    size: int = 0


class Deflate:
    """The negotiated codec of one connection: per-message inflate and deflate (RFC 7692 §6-7).

    `decode` runs on the connection's thread; `encode` under the transport's compression lock
    (`Transport.prepare`), so each direction's zlib context is used by one thread at a time.
    """

    def __init__(self, extension: PerMessageDeflate) -> None:
        self._extension = extension
        self._message = _Message()

    def decode(self, opcode: int, fin: int, rsv1: int, payload: bytes, max_size: int) -> bytes:
        """The data of one data frame, inflated if its message is compressed.

        `max_size` bounds the whole message (0: no bound); a message that would inflate past it
        fails with 1009 before more than `max_size` bytes are produced (a decompression bomb).
        """
        from websockets.exceptions import PayloadTooBig, ProtocolError
        from websockets.frames import Frame, Opcode

        if opcode != OP_CONT:
            self._message.size = 0
        left = None if not max_size else max(max_size - self._message.size, 1)
        frame = Frame(Opcode(opcode), payload, bool(fin), bool(rsv1))
        try:
            data = self._extension.decode(frame, max_size=left).data
        except PayloadTooBig:
            raise ProtocolViolation(
                MESSAGE_TOO_BIG, f"message inflates to over {max_size} bytes (maxMessageSize)"
            ) from None
        except ProtocolError as exc:  # RFC 7692 §6.2: an undecodable message fails the link
            raise ProtocolViolation(PROTOCOL_ERROR, f"permessage-deflate: {exc}") from None
        self._message.size += len(data)
        return bytes(data)

    @property
    def carries_context(self) -> bool:
        """Whether each message sent is compressed with the context of the ones before it (no
        `client_no_context_takeover`): the messages must then be written in compression order."""
        return not self._extension.local_no_context_takeover

    def encode(self, opcode: int, payload: bytes) -> bytes:
        """The compressed payload of a whole message (one frame), its tail stripped (§7.2.1)."""
        from websockets.frames import Frame, Opcode

        return bytes(self._extension.encode(Frame(Opcode(opcode), payload)).data)
