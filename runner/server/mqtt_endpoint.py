"""`/mqtt`: a minimal MQTT 3.1.1 broker over WebSocket (subprotocol ``mqtt``).

CONNECT / CONNACK (``?username=U&password=P`` makes it require those: else CONNACK 4, "bad user
name or password"); SUBSCRIBE / SUBACK with ``+`` and ``#`` wildcards (a filter it cannot
read is refused with 0x80); PUBLISH at QoS 0 and 1 (2 is granted as 1) routed to every
matching subscription, the publisher's own included, each delivery at QoS 1 with a packet id
of the receiving session's; retained messages; PINGREQ / PINGRESP; DISCONNECT. A client silent
for 1.5 times its keepalive is disconnected (MQTT 3.1.1 3.1.2.10), as is one that sends a
malformed packet or a text message (6.0). ``?chunk=N`` sends every packet in messages of at
most N bytes (a broker writing to a stream may split a CONNACK in four). A PUBLISH to a topic
under ``silent/`` is neither acknowledged nor routed: a `call` to it times out.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from runner.protocols.mqtt_codec import (
    SUBACK_FAILURE,
    CodecError,
    Kind,
    Packet,
    PacketIds,
    Reassembler,
    encode,
)
from runner.server.common import Handler
from runner.server.target import Target

__all__ = [
    "DISCONNECT_GRACE",
    "SILENT",
    "MqttBroker",
    "after_disconnect",
    "topic_matches",
    "valid_filter",
]

_MAX_PACKET = 1024 * 1024
#: How long a broker waits, after DISCONNECT, for the client to close the connection.
DISCONNECT_GRACE = 1.0
#: Topics whose PUBLISH the broker drops without an answer.
SILENT = "silent/"


def valid_filter(topic_filter: str) -> bool:
    """MQTT 3.1.1 4.7.1: ``#`` only as the last level, ``+`` only as a whole level."""
    levels = topic_filter.split("/")
    if not topic_filter or "\x00" in topic_filter:
        return False
    for index, level in enumerate(levels):
        if "#" in level and (level != "#" or index != len(levels) - 1):
            return False
        if "+" in level and level != "+":
            return False
    return True


def topic_matches(topic_filter: str, topic: str) -> bool:
    """Whether `topic` matches `topic_filter` (4.7.2: ``$`` topics match no leading wildcard)."""
    if topic.startswith("$") and topic_filter[:1] in ("+", "#"):
        return False
    wanted, levels = topic_filter.split("/"), topic.split("/")
    for index, level in enumerate(wanted):
        if level == "#":
            return True
        if index >= len(levels) or level not in ("+", levels[index]):
            return False
    return len(wanted) == len(levels)


@dataclass(eq=False)
class _Session:
    """One connected client: its subscriptions and its packet ids."""

    conn: ServerConnection
    chunk: int
    subscriptions: dict[str, int] = field(default_factory=dict)  # filter -> granted QoS
    ids: PacketIds = field(default_factory=PacketIds)

    async def send(self, packet: Packet) -> None:
        data = encode(packet)
        if not self.chunk:
            await self.conn.send(data)
            return
        for start in range(0, len(data), self.chunk):
            await self.conn.send(data[start : start + self.chunk])

    async def deliver(self, packet: Packet) -> None:
        """Send `packet` (a PUBLISH) at the QoS of the best matching subscription, if any."""
        granted = [qos for f, qos in self.subscriptions.items() if topic_matches(f, packet.topic)]
        if not granted:
            return
        qos = min(packet.qos, max(granted))
        packet_id = self.ids.next() if qos else None
        copy = Packet(Kind.PUBLISH, packet_id, packet.topic, packet.payload, qos, packet.retain)
        with contextlib.suppress(ConnectionClosed):
            await self.send(copy)


class MqttBroker:
    """The sessions of every `/mqtt` connection of one server, and the retained messages."""

    def __init__(self) -> None:
        self.sessions: set[_Session] = set()
        self.retained: dict[str, Packet] = {}

    def endpoint(self, target: Target) -> Handler:
        """`/mqtt?username=U&password=P&chunk=N`: serve one client."""
        username = target.query.get("username")
        password = target.query.get("password")
        chunk = target.integer("chunk", 0, 0, _MAX_PACKET)

        async def run(conn: ServerConnection) -> None:
            session = _Session(conn, chunk)
            stream = Reassembler(_MAX_PACKET)
            connect = await _first_packet(conn, stream)
            if connect is None or not await self._accept(session, connect, username, password):
                return
            self.sessions.add(session)
            try:
                await self._serve(session, stream, connect.keepalive)
            finally:
                self.sessions.discard(session)

        return run

    async def _accept(
        self, session: _Session, connect: Packet, username: str | None, password: str | None
    ) -> bool:
        code = 0
        if connect.kind != Kind.CONNECT:
            return False  # 3.1.0: the first packet must be CONNECT; close without a CONNACK
        if connect.protocol_level != 4:
            code = 1
        elif username is not None and (
            connect.username != username or connect.password != (password or "").encode()
        ):
            code = 4
        await session.send(Packet(Kind.CONNACK, code=code))
        if code:
            await session.conn.close()
        return code == 0

    async def _serve(self, session: _Session, stream: Reassembler, keepalive: int) -> None:
        while True:
            packets = await _read(session.conn, stream, keepalive * 1.5 if keepalive else None)
            if packets is None:
                return
            for packet in packets:
                if packet.kind == Kind.DISCONNECT:
                    await after_disconnect(session.conn)
                    return
                await self._handle(session, packet)

    async def _handle(self, session: _Session, packet: Packet) -> None:
        kind = packet.kind
        if kind == Kind.PINGREQ:
            await session.send(Packet(Kind.PINGRESP))
        elif kind == Kind.SUBSCRIBE:
            await self._subscribe(session, packet)
        elif kind == Kind.UNSUBSCRIBE:
            for topic_filter, _ in packet.topics:
                session.subscriptions.pop(topic_filter, None)
            await session.send(Packet(Kind.UNSUBACK, packet.packet_id))
        elif kind == Kind.PUBLISH:
            await self._publish(session, packet)
        elif kind == Kind.PUBREL:
            await session.send(Packet(Kind.PUBCOMP, packet.packet_id))
        # PUBACK and PUBCOMP of deliveries: nothing is redelivered, so nothing to do

    async def _subscribe(self, session: _Session, packet: Packet) -> None:
        codes = []
        for topic_filter, qos in packet.topics:
            if not valid_filter(topic_filter):
                codes.append(SUBACK_FAILURE)
                continue
            session.subscriptions[topic_filter] = min(qos, 1)
            codes.append(min(qos, 1))
        await session.send(Packet(Kind.SUBACK, packet.packet_id, codes=tuple(codes)))
        for topic, retained in list(self.retained.items()):
            if any(topic_matches(f, topic) for f, _ in packet.topics if valid_filter(f)):
                await session.deliver(retained)

    async def _publish(self, session: _Session, packet: Packet) -> None:
        if packet.topic.startswith(SILENT):
            return
        if packet.qos == 1:
            await session.send(Packet(Kind.PUBACK, packet.packet_id))
        elif packet.qos == 2:
            await session.send(Packet(Kind.PUBREC, packet.packet_id))
        if packet.retain:
            if packet.payload:
                self.retained[packet.topic] = packet
            else:
                self.retained.pop(packet.topic, None)
        routed = Packet(Kind.PUBLISH, None, packet.topic, packet.payload, min(packet.qos, 1))
        for other in list(self.sessions):
            await other.deliver(routed)


async def after_disconnect(conn: ServerConnection) -> None:
    """The client sent DISCONNECT: let it close the connection, as it does next, or close it
    after `DISCONNECT_GRACE` (MQTT 3.1.1 3.14.4: the server closes it if the client has not)."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(conn.wait_closed(), DISCONNECT_GRACE)
    await conn.close()


async def _first_packet(conn: ServerConnection, stream: Reassembler) -> Packet | None:
    """The client's first packet (it has 10 s to send it), or None after closing."""
    packets = await _read(conn, stream, 10.0)
    return packets[0] if packets else None


async def _read(
    conn: ServerConnection, stream: Reassembler, wait: float | None
) -> list[Packet] | None:
    """The packets of the next messages, up to one whole packet; None once it has closed the
    connection: silent past `wait` (1000), or a malformed packet or a text message (1002)."""
    while True:
        try:
            message = await asyncio.wait_for(conn.recv(), wait)
        except TimeoutError:
            await conn.close(1000, "keepalive expired")
            return None
        try:
            if isinstance(message, str):
                raise CodecError("MQTT travels in binary messages (MQTT 3.1.1 6.0)")
            packets = list(stream.feed(message))
        except CodecError as exc:
            await conn.close(1002, str(exc)[:120])
            return None
        if packets:
            return packets
