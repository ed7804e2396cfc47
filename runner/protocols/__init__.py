"""Protocols spoken over a WebSocket connection: Socket.IO, GraphQL over WebSocket, MQTT, STOMP,
JSON-RPC, and any a plugin registers under the ``wsrun.protocols`` entry point.

A protocol is a sans-I/O codec (`base.Protocol`): the connection feeds it frames and sends what
it returns; it never touches a socket. `registry` finds a protocol by name and imports its module
only then: a scenario that names no protocol imports none of them.
"""

from __future__ import annotations

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
