"""Protocols spoken over a WebSocket connection: Socket.IO, GraphQL over WebSocket, MQTT, STOMP,
JSON-RPC, and any a plugin registers under the ``wsrun.protocols`` entry point.

A protocol is a sans-I/O codec (`base.Protocol`): the connection feeds it frames and sends what
it returns; it never touches a socket. `registry` finds a protocol by name and imports its module
only then: a scenario that names no protocol imports none of them.

The package itself imports nothing: the names of `base` below are imported on first use, so
the built-in server, whose `/mqtt` and `/stomp` brokers use the pure codecs `mqtt_codec` and
`stomp_codec`, does not load the language's models with them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from runner.protocols.base import (
        Envelope,
        Frame,
        Incoming,
        MalformedFrame,
        NoOptions,
        Protocol,
        ProtocolFailure,
    )

__all__ = [
    "Envelope",
    "Frame",
    "Incoming",
    "MalformedFrame",
    "NoOptions",
    "Protocol",
    "ProtocolFailure",
]


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(importlib.import_module("runner.protocols.base"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
