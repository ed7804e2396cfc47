"""A recorded session: the connections a client opened and the frames, in time order."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = ["Close", "Connection", "Exchange", "Frame", "Session"]

Direction = Literal["send", "receive"]


@dataclass
class Frame:
    """One message: `send` (client to server) or `receive`; `data` is str (text) or bytes."""

    conn: str
    direction: Direction
    time: float  # Unix seconds
    data: str | bytes


@dataclass
class Close:
    """How a connection ended: who closed it first, with which code and reason."""

    conn: str
    by: Direction  # "send": the client closed; "receive": the server did
    time: float
    code: int | None
    reason: str = ""


@dataclass
class Connection:
    """One WebSocket connection: its handshake request as the client made it."""

    name: str
    url: str
    time: float  # Unix seconds, when the handshake started
    headers: list[tuple[str, str]] = field(default_factory=list)
    subprotocols: list[str] = field(default_factory=list)
    status: int = 101  # the handshake's response status


@dataclass
class Exchange:
    """One HTTP request and its response (a login before the WebSocket, say)."""

    time: float  # Unix seconds
    method: str
    url: str
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: str | None = None  # the request's body, as text
    mime: str = ""  # the request body's type
    status: int = 0  # the response's status; 0: none was recorded
    response: str | None = None  # the response's body, as text (None: not recorded)
    sets_cookies: list[str] = field(default_factory=list)  # names of the cookies it set


@dataclass
class Session:
    """Connections, frames and closes of one recording."""

    connections: list[Connection] = field(default_factory=list)
    frames: list[Frame] = field(default_factory=list)
    closes: list[Close] = field(default_factory=list)
    exchanges: list[Exchange] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # comments for the top of the scenario

    def add_connection(self, url: str, time: float, **options: object) -> Connection:
        """A new connection named after its URL's path (`echo`, `chat_2`, ...)."""
        connection = Connection(name=self._fresh_name(url), url=url, time=time, **options)  # type: ignore[arg-type]
        self.connections.append(connection)
        return connection

    def _fresh_name(self, url: str) -> str:
        path = url.split("?", 1)[0].split("://", 1)[-1].partition("/")[2]
        word = next((part for part in path.split("/") if part), "conn")
        base = "".join(c if c.isalnum() else "_" for c in word).strip("_").lower() or "conn"
        if base[0].isdigit():
            base = f"c{base}"
        taken = {c.name for c in self.connections}
        name, n = base, 1
        while name in taken:
            n += 1
            name = f"{base}_{n}"
        return name
