"""`/stomp`: a minimal STOMP 1.2 broker over WebSocket (subprotocols ``v12.stomp``, ``v11.stomp``).

CONNECT (or STOMP) / CONNECTED (``?login=L&passcode=P`` makes it require those: else an ERROR,
``message:bad login``); SUBSCRIBE / UNSUBSCRIBE; SEND to a destination under ``/queue/`` or
``/topic/``, delivered as MESSAGE to every subscription of that destination, the sender's own
included; RECEIPT for every frame with a ``receipt`` header; heart-beats both ways (it offers
``?heart_beat=SX,SY``, default ``1000,1000`` ms; it sends an EOL at the negotiated interval and
closes a client silent for three times its own); DISCONNECT. A bad frame (malformed, no destination,
an unknown destination) gets an ERROR, with the ``receipt-id`` of its receipt, then the broker
closes the connection (STOMP 1.2 "ERROR"). A frame to a destination under ``/queue/silent``
gets no RECEIPT and is not routed: a `call` with it times out.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections import deque
from dataclasses import dataclass, field

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from runner.protocols.stomp_codec import (
    CLIENT_COMMANDS,
    HEARTBEAT,
    CodecError,
    Splitter,
    StompFrame,
    encode,
    negotiate_heartbeat,
)
from runner.server.common import Handler, background
from runner.server.mqtt_endpoint import after_disconnect
from runner.server.target import Target

__all__ = ["SILENT", "StompBroker"]

_MAX_FRAME = 1024 * 1024
_DESTINATIONS = ("/queue/", "/topic/")
#: Destinations whose frames the broker drops without a RECEIPT.
SILENT = "/queue/silent"


class _Refused(Exception):
    """A frame the broker answers with ERROR (then it closes)."""

    def __init__(self, message: str, frame: StompFrame | None, detail: str = "") -> None:
        self.message, self.frame, self.detail = message, frame, detail
        super().__init__(message)


@dataclass(eq=False)
class _Session:
    """One connected client: its subscriptions (id -> destination)."""

    conn: ServerConnection
    subscriptions: dict[str, str] = field(default_factory=dict)

    async def send(self, frame: StompFrame) -> None:
        with contextlib.suppress(ConnectionClosed):
            await self.conn.send(_message(encode(frame)))


class StompBroker:
    """The sessions of every `/stomp` connection of one server."""

    def __init__(self) -> None:
        self.sessions: set[_Session] = set()
        self._message_ids = itertools.count(1)

    def endpoint(self, target: Target) -> Handler:
        """`/stomp?login=L&passcode=P&heart_beat=SX,SY`: serve one client."""
        login = target.query.get("login")
        passcode = target.query.get("passcode")
        offer = target.query.get("heart_beat", "1000,1000")

        async def run(conn: ServerConnection) -> None:
            session = _Session(conn)
            reader = _Reader(conn)
            try:
                connect = await reader.next(10.0)
                if connect is None:
                    return
                send_every, expect_every = self._connect(connect, login, passcode, offer)
                await session.send(_connected(connect, offer))
                self.sessions.add(session)
                async with background(_beat(conn, send_every)):
                    await self._serve(session, reader, expect_every)
            except _Refused as refusal:
                await session.send(_error(refusal))
                await conn.close()
            finally:
                self.sessions.discard(session)

        return run

    def _connect(
        self, frame: StompFrame, login: str | None, passcode: str | None, offer: str
    ) -> tuple[float, float]:
        """The (send, expect) heart-beat seconds once `frame` (CONNECT) is accepted."""
        if frame.command not in ("CONNECT", "STOMP"):
            raise _Refused("expected CONNECT", frame, f"found {frame.command}")
        versions = (frame.header("accept-version") or "1.0").split(",")
        if "1.2" not in versions and "1.1" not in versions:
            raise _Refused("unsupported version", frame, "this broker speaks STOMP 1.2 and 1.1")
        if login is not None and (
            frame.header("login") != login or frame.header("passcode") != (passcode or "")
        ):
            raise _Refused("bad login", frame, "login or passcode is wrong")
        client = frame.header("heart-beat") or "0,0"
        try:
            sx, sy = (int(part) for part in offer.split(","))
            send, expect = negotiate_heartbeat((sx, sy), client)
        except (CodecError, ValueError):
            raise _Refused("bad heart-beat", frame, f"heart-beat {client!r}") from None
        return send / 1000, expect / 1000

    async def _serve(self, session: _Session, reader: _Reader, expect_every: float) -> None:
        # STOMP 1.2 "Heart-beating": some tolerance; three times the interval here.
        wait = expect_every * 3 if expect_every else None
        while True:
            frame = await reader.next(wait)
            if frame is None:
                return
            await self._handle(session, frame)
            if frame.command == "DISCONNECT":
                await after_disconnect(session.conn)
                return

    async def _handle(self, session: _Session, frame: StompFrame) -> None:
        command = frame.command
        if (frame.header("destination") or "").startswith(SILENT):
            return
        if command == "SUBSCRIBE":
            sub_id = _required(frame, "id")
            session.subscriptions[sub_id] = _destination(frame)
        elif command == "UNSUBSCRIBE":
            session.subscriptions.pop(_required(frame, "id"), None)
        elif command == "SEND":
            await self._route(frame, _destination(frame))
        elif command in ("CONNECT", "STOMP"):
            raise _Refused("already connected", frame)
        receipt = frame.header("receipt")
        if receipt is not None:
            await session.send(StompFrame("RECEIPT", (("receipt-id", receipt),)))

    async def _route(self, frame: StompFrame, destination: str) -> None:
        passed = [(k, v) for k, v in frame.headers if k not in ("receipt", "destination")]
        for other in list(self.sessions):
            for sub_id, subscribed in list(other.subscriptions.items()):
                if subscribed != destination:
                    continue
                headers = (
                    ("subscription", sub_id),
                    ("message-id", str(next(self._message_ids))),
                    ("destination", destination),
                    *passed,
                )
                await other.send(StompFrame("MESSAGE", headers, frame.body))


def _required(frame: StompFrame, name: str) -> str:
    value = frame.header(name)
    if value is None:
        raise _Refused(f"missing header {name}", frame, f"{frame.command} needs a {name} header")
    return value


def _destination(frame: StompFrame) -> str:
    destination = _required(frame, "destination")
    if not destination.startswith(_DESTINATIONS):
        raise _Refused(
            "unknown destination", frame, f"{destination} is under neither /queue/ nor /topic/"
        )
    return destination


def _connected(connect: StompFrame, offer: str) -> StompFrame:
    versions = (connect.header("accept-version") or "1.2").split(",")
    headers = (
        ("version", "1.2" if "1.2" in versions else "1.1"),
        ("heart-beat", offer),
        ("server", "wsrun"),
    )
    return StompFrame("CONNECTED", headers)


def _error(refusal: _Refused) -> StompFrame:
    headers = [("message", refusal.message), ("content-type", "text/plain")]
    receipt = refusal.frame.header("receipt") if refusal.frame is not None else None
    if receipt is not None:
        headers.append(("receipt-id", receipt))
    return StompFrame("ERROR", tuple(headers), refusal.detail.encode("utf-8"))


class _Reader:
    """The client's frames, one at a time (heart-beats skipped), from its messages."""

    def __init__(self, conn: ServerConnection) -> None:
        self.conn = conn
        self.splitter = Splitter(CLIENT_COMMANDS, _MAX_FRAME)
        self.pending: deque[StompFrame] = deque()

    async def next(self, wait: float | None) -> StompFrame | None:
        """The next frame, or None on silence past `wait` (the connection is then closed)."""
        while not self.pending:
            try:
                message = await asyncio.wait_for(self.conn.recv(), wait)
            except TimeoutError:
                await self.conn.close(1002)
                return None
            data = message.encode("utf-8") if isinstance(message, str) else message
            try:
                self.pending.extend(f for f in self.splitter.feed(data) if f is not HEARTBEAT)
            except CodecError as exc:
                raise _Refused("malformed frame", None, str(exc)) from None
        return self.pending.popleft()


async def _beat(conn: ServerConnection, every: float) -> None:
    if not every:
        return
    while True:
        await asyncio.sleep(every)
        try:
            await conn.send("\n")
        except ConnectionClosed:
            return


def _message(data: bytes) -> str | bytes:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data
