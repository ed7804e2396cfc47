"""`protocol: graphql-ws`: GraphQL over WebSocket, the graphql-transport-ws protocol.

The protocol (github.com/enisdenjo/graphql-ws, PROTOCOL.md) is small JSON messages with a
``type``; this codec is written here (no well-kept Python library has a sans-I/O codec for it)
and tested against the reference server, Node's graphql-ws. What the connection sees:

- the subprotocol ``graphql-transport-ws`` is offered on the upgrade;
- the handshake: ``{"type": "connection_init", "payload": <init>}`` as soon as the WebSocket
  opens, then the server's ``connection_ack``; a server that refuses closes the connection
  (4403 Forbidden, 4400 ...) and `connect` fails with that code and reason; an ``error``
  message instead of the ack fails it too;
- ``ping`` is answered with ``pong`` (heartbeats: shown only with -v);
- envelopes are the protocol's messages as they are (``{"id": "1", "type": "next", "payload":
  {...}}``); ``send: {json: ...}`` sends one as it is;
- ``call: {query, variables, operationName, extensions}`` subscribes with a fresh id
  (``call-1``, ``call-2``...), collects the ``next`` payloads of that id until its
  ``complete`` or ``error``, and replies ``{"next": [payloads...], "errors": null}`` (``errors``:
  the ``error`` message's payload, the list of GraphQL errors).
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from pydantic import Field

from runner.protocols.base import (
    Envelope,
    Frame,
    Incoming,
    MalformedFrame,
    Protocol,
    ProtocolFailure,
)
from runner.scenario.fields import Model

#: The most `next` payloads a call collects before its `complete` (a subscription that streams
#: without end fails the call instead of growing without bound; the inbox keeps as many).
MAX_NEXT_PAYLOADS = 100_000

__all__ = ["SUBPROTOCOL", "GraphqlWs", "GraphqlWsCall", "GraphqlWsOptions"]

SUBPROTOCOL = "graphql-transport-ws"

_TYPES = frozenset(
    {"connection_init", "connection_ack", "ping", "pong", "subscribe", "next", "error", "complete"}
)


class GraphqlWsOptions(Model):
    """The options of `protocol: graphql-ws` under `connect`."""

    init: dict[str, Any] | None = Field(
        default=None, description="the payload of connection_init (connection parameters)"
    )


class GraphqlWsCall(Model):
    """A `call` on a graphql-ws connection: one operation, its results until complete."""

    query: str = Field(description="the GraphQL document: a query, mutation or subscription")
    variables: dict[str, Any] | None = Field(default=None, description="its variables")
    operationName: str | None = Field(
        default=None, description="the operation to run, when the document has several"
    )
    extensions: dict[str, Any] | None = Field(default=None, description="extensions, as they are")


class GraphqlWs(Protocol):
    """graphql-transport-ws (see the module's docstring)."""

    name: ClassVar[str] = "graphql-ws"
    options_model: ClassVar[type[Model]] = GraphqlWsOptions
    request_model: ClassVar[type[Model] | None] = GraphqlWsCall
    subprotocols: ClassVar[tuple[str, ...]] = (SUBPROTOCOL,)
    has_handshake: ClassVar[bool] = True

    def __init__(self, options: Model) -> None:
        super().__init__(options)
        assert isinstance(options, GraphqlWsOptions)
        self.init = options.init
        self._acked = False
        #: The `next` payloads of each call still running, by its subscribe id.
        self._calls: dict[str, list[Any]] = {}

    def opening(self) -> list[Frame]:
        message: Envelope = {"type": "connection_init"}
        if self.init is not None:
            message["payload"] = self.init
        return [_dumps(message)]

    def handshake_done(self, incoming: Incoming) -> bool:
        message = incoming.envelope
        if message.get("type") == "connection_ack":
            return True
        raise ProtocolFailure(
            f"the server answered connection_init with {_short(message)}, not connection_ack"
        )

    def decode(self, frame: Frame) -> list[Incoming]:
        if isinstance(frame, bytes):
            raise MalformedFrame("graphql-transport-ws messages are text, found binary", frame)
        try:
            message = json.loads(frame)
        except ValueError as exc:
            raise MalformedFrame(f"not JSON: {exc}", frame) from None
        kind = message.get("type") if isinstance(message, dict) else None
        if kind not in _TYPES:
            raise MalformedFrame(
                'expected a message {"type": ...} of graphql-transport-ws, with type one of '
                + ", ".join(sorted(_TYPES)),
                frame,
            )
        if kind == "ping":
            pong: Envelope = {"type": "pong"}
            return [Incoming(message, heartbeat=True, answers=(_dumps(pong),))]
        if kind == "pong":
            return [Incoming(message, heartbeat=True)]
        if not self._acked:
            self._acked = kind == "connection_ack"
            return [Incoming(message, handshake=True)]
        if kind in ("next", "error", "complete"):
            operation = message.get("id")
            if not isinstance(operation, str):
                raise MalformedFrame(f'a {kind} message without its "id" (a string)', frame)
            if operation in self._calls:
                return self._answer(message, operation, kind)
        return [Incoming(message)]

    def encode(self, envelope: Envelope) -> list[Frame]:
        if not isinstance(envelope.get("type"), str):
            raise ValueError(
                'a graphql-transport-ws message is an object with a "type" (subscribe, '
                f"complete, ping, pong...), found {_short(envelope)}"
            )
        return [_dumps(envelope)]

    def call(self, request: Envelope, call_id: int) -> tuple[list[Frame], str]:
        operation = f"call-{call_id}"
        payload = {k: v for k, v in request.items() if v is not None}
        self._calls[operation] = []
        message = {"id": operation, "type": "subscribe", "payload": payload}
        return [_dumps(message)], operation

    def _answer(self, message: Envelope, operation: str, kind: str) -> list[Incoming]:
        if kind == "next":
            collected = self._calls[operation]
            if len(collected) >= MAX_NEXT_PAYLOADS:
                del self._calls[operation]
                raise ProtocolFailure(
                    f"the subscription {operation} sent more than {MAX_NEXT_PAYLOADS:,} next "
                    "payloads without a complete (the most a call collects)"
                )
            collected.append(message.get("payload"))
            return []  # the call's reply holds it
        results = self._calls.pop(operation)
        errors = message.get("payload") if kind == "error" else None
        return [Incoming({"next": results, "errors": errors}, reply_to=operation)]


def _dumps(value: object) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _short(value: object, limit: int = 160) -> str:
    text = json.dumps(value, ensure_ascii=False, default=repr)
    return text if len(text) <= limit else text[: limit - 1] + "…"
