"""MQTT 3.1.1 packets, sans-I/O: bytes in, `Packet`s out, and back.

Written here rather than borrowed: paho-mqtt reads packets inside its socket loop, amqtt's
packet classes decode only from an asyncio stream reader (``await from_stream(reader)``), and
mqtt-codec, the one sans-I/O codec on PyPI, has had no release since 2019. Both wsrun's `mqtt`
protocol and the built-in server's `/mqtt` broker use this module; it imports nothing of wsrun.

Over WebSocket, MQTT is a byte stream (MQTT 3.1.1 6.0: "the receiver MUST NOT assume that MQTT
Control Packets are aligned on WebSocket frame boundaries"): `Reassembler` buffers the bytes of
any number of messages and yields each whole packet, bounded by a largest remaining length.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

__all__ = [
    "CONNACK_CODES",
    "MAX_REMAINING_LENGTH",
    "SUBACK_FAILURE",
    "CodecError",
    "Kind",
    "Packet",
    "PacketIds",
    "Reassembler",
    "encode",
]

#: MQTT 3.1.1 2.2.3: the remaining length is at most four bytes, 268,435,455.
MAX_REMAINING_LENGTH = 268_435_455
#: The largest packet a `Reassembler` accepts unless told otherwise: 16 MiB.
DEFAULT_LIMIT = 16 * 1024 * 1024
#: MQTT 3.1.1 3.9.3: a SUBACK return code for a refused subscription.
SUBACK_FAILURE = 0x80
#: MQTT 3.1.1 3.2.2.3: what a CONNACK's return code means.
CONNACK_CODES = {
    0: "connection accepted",
    1: "unacceptable protocol version",
    2: "identifier rejected",
    3: "server unavailable",
    4: "bad user name or password",
    5: "not authorized",
}


class CodecError(ValueError):
    """Bytes that are no MQTT 3.1.1 packet (the message names the broken rule)."""


class Kind(enum.IntEnum):
    """MQTT 3.1.1 2.2.1: the control packet types."""

    CONNECT = 1
    CONNACK = 2
    PUBLISH = 3
    PUBACK = 4
    PUBREC = 5
    PUBREL = 6
    PUBCOMP = 7
    SUBSCRIBE = 8
    SUBACK = 9
    UNSUBSCRIBE = 10
    UNSUBACK = 11
    PINGREQ = 12
    PINGRESP = 13
    DISCONNECT = 14


#: MQTT 3.1.1 2.2.2: the fixed header's flags, fixed for every type but PUBLISH.
_FLAGS = {Kind.PUBREL: 2, Kind.SUBSCRIBE: 2, Kind.UNSUBSCRIBE: 2}
_WITH_ID = {Kind.PUBACK, Kind.PUBREC, Kind.PUBREL, Kind.PUBCOMP, Kind.UNSUBACK}
_EMPTY = {Kind.PINGREQ, Kind.PINGRESP, Kind.DISCONNECT}


@dataclass(frozen=True)
class Packet:
    """One MQTT packet; each kind uses the fields it has (the others keep their defaults).

    `topics` holds SUBSCRIBE's (filter, qos) pairs and UNSUBSCRIBE's filters (qos 0);
    `codes` holds SUBACK's return codes; `code` is CONNACK's return code.
    """

    kind: Kind
    packet_id: int | None = None
    topic: str = ""
    payload: bytes = b""
    qos: int = 0
    retain: bool = False
    dup: bool = False
    topics: tuple[tuple[str, int], ...] = ()
    codes: tuple[int, ...] = ()
    code: int = 0
    session_present: bool = False
    client_id: str = ""
    username: str | None = None
    password: bytes | None = None
    keepalive: int = 0
    clean_session: bool = True
    protocol_level: int = 4


# -- encoding ---------------------------------------------------------------------------------


def encode(packet: Packet) -> bytes:
    """The bytes of `packet`; raises `CodecError` for a field MQTT cannot carry."""
    flags, body = _BODIES[packet.kind](packet)
    if len(body) > MAX_REMAINING_LENGTH:
        raise CodecError(f"packet is {len(body)} bytes; MQTT allows {MAX_REMAINING_LENGTH}")
    return bytes([packet.kind << 4 | flags]) + _varint(len(body)) + body


def _varint(value: int) -> bytes:
    """MQTT 3.1.1 2.2.3: seven bits a byte, least significant first, top bit = more."""
    out = bytearray()
    while True:
        value, digit = divmod(value, 128)
        out.append(digit | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _string(text: str) -> bytes:
    return _binary(text.encode("utf-8"))


def _binary(data: bytes) -> bytes:
    if len(data) > 0xFFFF:
        raise CodecError(f"a string is at most 65535 bytes, found {len(data)}")
    return len(data).to_bytes(2, "big") + data


def _packet_id(packet: Packet) -> bytes:
    if packet.packet_id is None or not 1 <= packet.packet_id <= 0xFFFF:
        raise CodecError(f"packet id must be 1..65535, found {packet.packet_id}")
    return packet.packet_id.to_bytes(2, "big")


def _connect(p: Packet) -> tuple[int, bytes]:
    flags = (0x80 if p.username is not None else 0) | (0x40 if p.password is not None else 0)
    flags |= 0x02 if p.clean_session else 0
    body = _string("MQTT") + bytes([p.protocol_level, flags]) + p.keepalive.to_bytes(2, "big")
    body += _string(p.client_id)
    body += _string(p.username) if p.username is not None else b""
    body += _binary(p.password) if p.password is not None else b""
    return 0, body


def _publish(p: Packet) -> tuple[int, bytes]:
    if p.qos not in (0, 1, 2):
        raise CodecError(f"qos must be 0, 1 or 2, found {p.qos}")
    flags = (0x08 if p.dup else 0) | p.qos << 1 | (0x01 if p.retain else 0)
    return flags, _string(p.topic) + (_packet_id(p) if p.qos else b"") + p.payload


def _subscribe(p: Packet) -> tuple[int, bytes]:
    body = b"".join(_string(topic) + bytes([qos]) for topic, qos in p.topics)
    return 2, _packet_id(p) + body


def _unsubscribe(p: Packet) -> tuple[int, bytes]:
    return 2, _packet_id(p) + b"".join(_string(topic) for topic, _ in p.topics)


_BODIES: dict[Kind, Callable[[Packet], tuple[int, bytes]]] = {
    Kind.CONNECT: _connect,
    Kind.CONNACK: lambda p: (0, bytes([int(p.session_present), p.code])),
    Kind.PUBLISH: _publish,
    Kind.SUBSCRIBE: _subscribe,
    Kind.SUBACK: lambda p: (0, _packet_id(p) + bytes(p.codes)),
    Kind.UNSUBSCRIBE: _unsubscribe,
    **{kind: lambda p: (_FLAGS.get(p.kind, 0), _packet_id(p)) for kind in _WITH_ID},
    **{kind: lambda p: (0, b"") for kind in _EMPTY},
}


# -- decoding ---------------------------------------------------------------------------------


class Reassembler:
    """Turns the bytes of WebSocket messages, as they come, into whole packets.

    A packet may span several messages and a message may hold several packets; bytes of a
    packet not yet whole wait for the next message. A remaining length over `limit` or one
    encoded in more than four bytes raises `CodecError` (the stream cannot go on after it).
    """

    def __init__(self, limit: int = DEFAULT_LIMIT) -> None:
        self.limit = limit
        self._buffer = bytearray()

    @property
    def pending(self) -> int:
        """Bytes received that make no whole packet yet."""
        return len(self._buffer)

    def feed(self, data: bytes) -> Iterator[Packet]:
        """Add `data`; yield every packet it completes, in order."""
        self._buffer += data
        while (header := self._header()) is not None:
            start, length = header
            end = start + length
            body = bytes(self._buffer[start:end])
            first = self._buffer[0]
            del self._buffer[:end]
            yield decode(first, body)

    def _header(self) -> tuple[int, int] | None:
        """(offset of the body, remaining length) once the whole packet is buffered."""
        value = 0
        for index in range(1, min(len(self._buffer), 5)):
            byte = self._buffer[index]
            value |= (byte & 0x7F) << 7 * (index - 1)
            if byte & 0x80 == 0:
                if value > self.limit:
                    raise CodecError(
                        f"remaining length {value} is over the limit of {self.limit} bytes"
                    )
                return (index + 1, value) if len(self._buffer) >= index + 1 + value else None
        if len(self._buffer) >= 5:
            raise CodecError("remaining length has more than 4 bytes (MQTT 3.1.1 2.2.3)")
        return None


def decode(first: int, body: bytes) -> Packet:
    """The packet of fixed-header byte `first` and the `body` after the remaining length."""
    try:
        kind = Kind(first >> 4)
    except ValueError:
        raise CodecError(f"packet type {first >> 4} is reserved (MQTT 3.1.1 2.2.1)") from None
    flags = first & 0x0F
    if kind != Kind.PUBLISH and flags != _FLAGS.get(kind, 0):
        raise CodecError(f"{kind.name} has flags {flags:#x}, must be {_FLAGS.get(kind, 0):#x}")
    reader = _Reader(body, kind)
    packet = _DECODERS[kind](reader, flags)
    reader.end()
    return packet


class _Reader:
    """Reads the fields of one packet's body, failing with the packet's name."""

    def __init__(self, data: bytes, kind: Kind) -> None:
        self.data, self.kind, self.at = data, kind, 0

    def take(self, size: int) -> bytes:
        if self.at + size > len(self.data):
            raise CodecError(f"{self.kind.name} ends early: {len(self.data)} bytes")
        chunk = self.data[self.at : self.at + size]
        self.at += size
        return chunk

    def byte(self) -> int:
        return self.take(1)[0]

    def short(self) -> int:
        return int.from_bytes(self.take(2), "big")

    def binary(self) -> bytes:
        return self.take(self.short())

    def string(self) -> str:
        try:
            return self.binary().decode("utf-8")
        except UnicodeDecodeError:
            raise CodecError(f"{self.kind.name} has a string that is not UTF-8") from None

    def rest(self) -> bytes:
        return self.take(len(self.data) - self.at)

    def left(self) -> bool:
        return self.at < len(self.data)

    def end(self) -> None:
        if self.left():
            raise CodecError(f"{self.kind.name} has {len(self.data) - self.at} extra bytes")


def _decode_connect(r: _Reader, flags: int) -> Packet:
    if r.string() not in ("MQTT", "MQIsdp"):
        raise CodecError("CONNECT's protocol name is not MQTT")
    level, connect_flags, keepalive = r.byte(), r.byte(), r.short()
    client_id = r.string()
    if connect_flags & 0x04:  # a will: read and dropped, the broker here keeps none
        r.string(), r.binary()
    username = r.string() if connect_flags & 0x80 else None
    password = r.binary() if connect_flags & 0x40 else None
    return Packet(
        Kind.CONNECT,
        client_id=client_id,
        username=username,
        password=password,
        keepalive=keepalive,
        clean_session=bool(connect_flags & 0x02),
        protocol_level=level,
    )


def _decode_connack(r: _Reader, flags: int) -> Packet:
    session_present = bool(r.byte() & 0x01)
    return Packet(Kind.CONNACK, code=r.byte(), session_present=session_present)


def _decode_publish(r: _Reader, flags: int) -> Packet:
    qos = flags >> 1 & 0x03
    if qos == 3:
        raise CodecError("PUBLISH has qos 3 (MQTT 3.1.1 3.3.1.2)")
    topic = r.string()
    packet_id = r.short() if qos else None
    return Packet(
        Kind.PUBLISH,
        packet_id=packet_id,
        topic=topic,
        payload=r.rest(),
        qos=qos,
        retain=bool(flags & 0x01),
        dup=bool(flags & 0x08),
    )


def _decode_subscribe(r: _Reader, flags: int) -> Packet:
    packet_id, topics = r.short(), []
    while r.left():
        topic = r.string()
        topics.append((topic, r.byte() & 0x03))
    if not topics:
        raise CodecError("SUBSCRIBE has no topic filter (MQTT 3.1.1 3.8.3)")
    return Packet(Kind.SUBSCRIBE, packet_id=packet_id, topics=tuple(topics))


def _decode_unsubscribe(r: _Reader, flags: int) -> Packet:
    packet_id, topics = r.short(), []
    while r.left():
        topics.append((r.string(), 0))
    return Packet(Kind.UNSUBSCRIBE, packet_id=packet_id, topics=tuple(topics))


def _decode_suback(r: _Reader, flags: int) -> Packet:
    return Packet(Kind.SUBACK, packet_id=r.short(), codes=tuple(r.rest()))


def _only_id(kind: Kind) -> Callable[[_Reader, int], Packet]:
    return lambda r, flags: Packet(kind, packet_id=r.short())


def _nothing(kind: Kind) -> Callable[[_Reader, int], Packet]:
    return lambda r, flags: Packet(kind)


_DECODERS: dict[Kind, Callable[[_Reader, int], Packet]] = {
    Kind.CONNECT: _decode_connect,
    Kind.CONNACK: _decode_connack,
    Kind.PUBLISH: _decode_publish,
    Kind.SUBSCRIBE: _decode_subscribe,
    Kind.SUBACK: _decode_suback,
    Kind.UNSUBSCRIBE: _decode_unsubscribe,
    **{kind: _only_id(kind) for kind in _WITH_ID},
    **{kind: _nothing(kind) for kind in _EMPTY},
}


@dataclass
class PacketIds:
    """Packet ids 1..65535, handed out in turn (MQTT 3.1.1 2.3.1: non-zero, unused while in
    flight)."""

    last: int = 0
    in_flight: set[int] = field(default_factory=set)

    def next(self) -> int:
        for _ in range(0xFFFF):
            self.last = self.last % 0xFFFF + 1
            if self.last not in self.in_flight:
                return self.last
        raise CodecError("all 65535 packet ids are in flight")
