"""The message brokers of the built-in server: `/mqtt` (MQTT 3.1.1) and `/stomp` (STOMP 1.2).

Each keeps the state its connections share (subscriptions, retained messages) and speaks its
subprotocols; `App` routes to them and asks `subprotocol` during the handshake.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from urllib.parse import urlsplit

from websockets.asyncio.server import ServerConnection
from websockets.typing import Subprotocol

from runner.server.common import Handler
from runner.server.mqtt_endpoint import MqttBroker
from runner.server.stomp_endpoint import StompBroker
from runner.server.target import Target

__all__ = ["PATHS", "SUBPROTOCOLS", "Brokers"]

#: The subprotocols each broker speaks, most preferred first (RFC 6455 4.2.2: the server
#: selects one of those offered, or none).
SUBPROTOCOLS = {
    "/mqtt": (Subprotocol("mqtt"),),
    "/stomp": (Subprotocol("v12.stomp"), Subprotocol("v11.stomp"), Subprotocol("v10.stomp")),
}
PATHS = tuple(SUBPROTOCOLS)


class Brokers:
    """One MQTT and one STOMP broker, for one server."""

    def __init__(self) -> None:
        self.mqtt = MqttBroker()
        self.stomp = StompBroker()

    def table(self) -> dict[str, Callable[[Target], Handler]]:
        """Route patterns to endpoint factories, as `App` keeps them."""
        return {"/mqtt": self.mqtt.endpoint, "/stomp": self.stomp.endpoint}

    def subprotocol(
        self, conn: ServerConnection, offered: Sequence[Subprotocol]
    ) -> Subprotocol | None:
        """The broker's most preferred subprotocol among those offered (None: not a broker's
        path, or none offered that it speaks; it is served without one)."""
        path = urlsplit(conn.request.path if conn.request else "").path
        return next((s for s in SUBPROTOCOLS.get(path, ()) if s in offered), None)
