"""The protocol seam: what a protocol (built in or a plugin) implements.

A `Protocol` is a sans-I/O codec, one instance per connection (it may keep state: the bytes of
a partial MQTT packet, the `next` payloads of a GraphQL subscription). The connection calls it
and sends what it returns; it never reads or writes a socket itself:

- ``url(url)``: the URL actually opened (Socket.IO adds ``/socket.io/?EIO=4&transport=websocket``);
- `subprotocols`: offered on the upgrade (``Sec-WebSocket-Protocol``), before any written;
- ``opening()``: frames sent as soon as the WebSocket is open (MQTT CONNECT, ``connection_init``);
- ``decode(frame)``: each frame received, on the connection's thread, into `Incoming` items
  (none for a partial packet, several for a frame holding several); a frame it cannot read
  raises `MalformedFrame`, which fails the waiting step with the cause; a refusal it reads (an
  MQTT SUBACK 0x80, a STOMP ERROR answering a call) raises `ProtocolFailure`, which fails the
  waiting step as "the server refused";
- ``handshake_done(incoming)``: fed every `Incoming` marked `handshake` until it returns True;
  `connect` waits for that (when `has_handshake`) until its deadline; raises `ProtocolFailure`
  when the server refused (socket.io ``44``, CONNACK with a non-zero code, STOMP ``ERROR``);
- ``encode(envelope)``: ``send: {json: ...}`` on the connection;
- ``call(request, call_id)``: the frames of a `call` step's request with a fresh id, and the
  key of its reply (an `Incoming` whose `reply_to` is that key finishes the step);
- ``heartbeat_interval()`` / ``heartbeat()``: frames sent every so often while open (MQTT
  PINGREQ); asked once the handshake is done;
- ``closing()``: frames sent before the WebSocket's close (MQTT DISCONNECT).

Threads: `decode` and `handshake_done` run on the connection's thread; `heartbeat` on the
connection's heartbeat timer; the others on the scenario's thread. A protocol whose state these
share guards it (most keep none that two of them touch).

Envelopes are JSON objects (`Envelope`): the inbox holds each one as JSON text, so every
matcher, `save`, `ignore`, `reply` and ``expect_*`` step works on them unchanged; the raw frame
is kept beside it for ``-v`` and the reports.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

from runner.errors import WsrunError
from runner.scenario.fields import Model

__all__ = [
    "Envelope",
    "Frame",
    "Incoming",
    "MalformedFrame",
    "NoOptions",
    "Protocol",
    "ProtocolFailure",
]

#: One WebSocket message: text or binary.
Frame = str | bytes
#: What the steps see of a frame: a JSON object (str keys; JSON values).
Envelope = dict[str, Any]


class ProtocolFailure(WsrunError):
    """The server refused the protocol's handshake, or broke the protocol in a way the protocol
    cannot go on from; `message` is shown as the failure of the step (connect, call...)."""

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


class MalformedFrame(WsrunError):
    """A frame the protocol cannot decode: `message` says why, `frame` is the frame."""

    def __init__(self, message: str, frame: Frame) -> None:
        self.message = message
        self.frame = frame
        super().__init__(message)


@dataclass(frozen=True, slots=True)
class Incoming:
    """One decoded item of a received frame.

    Attributes:
        envelope: what the steps see (in the inbox as JSON text), and -v and the reports.
        heartbeat: a keep-alive the protocol answers itself (`answers`): not in the inbox,
            and shown only with -v.
        answers: frames the connection sends back at once (a pong ``3``, a PUBACK...).
        reply_to: the key of the `call` this envelope finishes (``call`` returned it); such
            an envelope goes to that call, not to the inbox.
        handshake: part of the handshake: fed to `Protocol.handshake_done`, not to the inbox.
    """

    envelope: Envelope
    heartbeat: bool = False
    answers: tuple[Frame, ...] = ()
    reply_to: str | None = None
    handshake: bool = False


class NoOptions(Model):
    """The options of a protocol that takes none."""


class Protocol(ABC):
    """A protocol on a WebSocket connection (see the module's docstring for the life cycle).

    Class variables:
        name: the name `connect: {protocol: ...}` uses (``socket.io``).
        options_model: the pydantic model of its options (``protocol_options:`` of connect),
            validated when the file is loaded, with located errors; use the field types of
            `runner.scenario.fields` (``TemplatedInt``, ``TemplatedDuration``...) for values that
            may be ``${...}`` references. Strings may hold templates anywhere.
        request_model: the pydantic model of a `call` step's request (its keys other than
            expect, save, timeout, conn), validated at load time when the step's connect is in
            the same file, and always before the call runs; None: the protocol has no `call`.
        subprotocols: offered on the upgrade, before those the connect step writes.
        has_handshake: `connect` waits until `handshake_done` returns True.
    """

    name: ClassVar[str]
    options_model: ClassVar[type[Model]] = NoOptions
    request_model: ClassVar[type[Model] | None] = None
    subprotocols: ClassVar[tuple[str, ...]] = ()
    has_handshake: ClassVar[bool] = False

    def __init__(self, options: Model) -> None:
        """`options`: an instance of `options_model`, rendered (no templates left)."""
        self.options = options

    def url(self, url: str) -> str:
        """The URL to open for the URL written (by default, that one)."""
        return url

    def opening(self) -> list[Frame]:
        """Frames to send as soon as the WebSocket is open (by default none)."""
        return []

    def handshake_done(self, incoming: Incoming) -> bool:
        """Take one handshake item; True once the protocol is ready (called only when
        `has_handshake`). Raises `ProtocolFailure` when the server refused."""
        return True

    @abstractmethod
    def decode(self, frame: Frame) -> list[Incoming]:
        """The items of one received frame (on the connection's thread); raises
        `MalformedFrame` for a frame it cannot read."""

    @abstractmethod
    def encode(self, envelope: Envelope) -> list[Frame]:
        """The frames that send `envelope` (``send: {json: ...}``); raises ValueError when
        `envelope` is not one the protocol can send (the step fails with its message)."""

    def call(self, request: Envelope, call_id: int) -> tuple[list[Frame], str]:
        """The frames of a request with the fresh id `call_id` (1, 2, ... per connection) and
        the `reply_to` key of its reply. `request` has passed `request_model`. Raises
        ValueError when it cannot be sent."""
        raise ValueError(f"the {self.name} protocol has no call")

    def heartbeat_interval(self) -> float | None:
        """Seconds between `heartbeat` frames once the handshake is done; None: no heartbeat."""
        return None

    def heartbeat(self) -> list[Frame]:
        """The frames of one heartbeat (MQTT PINGREQ, a STOMP EOL)."""
        return []

    def closing(self) -> list[Frame]:
        """Frames to send before the WebSocket's closing handshake (by default none)."""
        return []
