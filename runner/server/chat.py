"""`/chat/{room}`: chat rooms with join/leave presence and broadcast messages with ids."""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field

from websockets.asyncio.server import ServerConnection, broadcast

from runner.server.common import Handler, dumps, send_json
from runner.server.target import Target

__all__ = ["Rooms"]


@dataclass
class _Room:
    name: str
    members: dict[ServerConnection, str] = field(default_factory=dict)

    def names(self) -> list[str]:
        return sorted(self.members.values())

    def announce(self, value: object) -> None:
        broadcast(self.members, dumps(value))


class Rooms:
    """Every chat room of one server; lives on the server's event loop, so needs no lock."""

    def __init__(self) -> None:
        self._rooms: dict[str, _Room] = {}
        self._guests = itertools.count(1)
        self._ids = itertools.count(1)

    def endpoint(self, target: Target) -> Handler:
        """`/chat/{room}`: the user is the X-User header, else `?user=`, else `guest-N`."""
        room = target.params["room"]
        user = target.headers.get("X-User") or target.query.get("user") or self._guest()

        async def run(conn: ServerConnection) -> None:
            self._join(room, user, conn)
            try:
                async for message in conn:
                    await self._receive(room, user, conn, message)
            finally:
                self._leave(room, user, conn)

        return run

    def _guest(self) -> str:
        return f"guest-{next(self._guests)}"

    def _join(self, name: str, user: str, conn: ServerConnection) -> None:
        room = self._rooms.setdefault(name, _Room(name))
        room.members[conn] = user
        room.announce({"type": "join", "room": name, "user": user, "members": room.names()})

    def _leave(self, name: str, user: str, conn: ServerConnection) -> None:
        room = self._rooms[name]
        del room.members[conn]
        if not room.members:
            del self._rooms[name]
            return
        room.announce({"type": "leave", "room": name, "user": user, "members": room.names()})

    async def _receive(
        self, name: str, user: str, conn: ServerConnection, message: str | bytes
    ) -> None:
        text = _said_text(message)
        if text is None:
            await send_json(conn, {"type": "error", "message": _USAGE})
            return
        said = {"type": "said", "id": next(self._ids), "room": name, "from": user, "text": text}
        self._rooms[name].announce(said)


_USAGE = 'expected a JSON text message {"type": "say", "text": "..."}'


def _said_text(message: str | bytes) -> str | None:
    """The text of a `{"type": "say", "text": ...}` message, or None for anything else."""
    if isinstance(message, bytes):
        return None
    try:
        value = json.loads(message)
    except ValueError:
        return None
    if not isinstance(value, dict) or value.get("type") != "say":
        return None
    text = value.get("text")
    return text if isinstance(text, str) else None
