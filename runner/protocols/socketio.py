"""`protocol: socket.io`: Socket.IO v5 over Engine.IO v4, on the WebSocket transport only.

The packets are encoded and decoded by python-socketio's and python-engineio's own packet
classes (imported when a scenario first uses the protocol). What the connection sees:

- the URL gets ``/socket.io/`` when its path is empty or ``/`` (a path written is kept: it is
  where the server mounts Engine.IO), and ``EIO=4&transport=websocket`` unless its query has
  them;
- the handshake: the Engine.IO open packet ``0{...}`` (its ``pingInterval`` and
  ``pingTimeout`` are kept), then ``40`` to the namespace with the ``auth`` object, then the
  server's ``40{"sid": ...}``; a ``44{"message": ...}`` fails `connect` with that message;
- Engine.IO pings ``2`` are answered with ``3`` (heartbeats: shown only with -v);
- envelopes: an event ``42["said", ...]`` is ``{"event": "said", "args": [...]}``, an ack
  ``43N[...]`` is ``{"ack": N, "args": [...]}``; ``"namespace"`` is added when it is not ``/``,
  and ``"id"`` when the server asks for an ack (answer it with ``send: {json: {ack: N, args:
  [...]}}``); a namespace disconnect ``41`` is ``{"disconnect": true}``, an Engine.IO close is
  ``{"close": true}``;
- binary attachments (``45``/``46`` and the binary frames after them) are put back in place as
  ``{"base64": "..."}``; an object ``{"base64": "..."}`` (only that key) in the ``args`` sent is
  sent as a binary attachment.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

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

__all__ = ["SocketIO", "SocketIOCall", "SocketIOOptions"]

# Engine.IO v4 packet types (engineio.packet)
_OPEN, _CLOSE, _PING, _PONG, _MESSAGE, _UPGRADE, _NOOP = range(7)
# Socket.IO v5 packet types (socketio.packet)
_CONNECT, _DISCONNECT, _EVENT, _ACK, _CONNECT_ERROR, _BINARY_EVENT, _BINARY_ACK = range(7)

_MAX_ATTACHMENTS = 1000


class SocketIOOptions(Model):
    """The options of `protocol: socket.io` under `connect`."""

    namespace: str = Field(
        default="/", description="the namespace to connect to: /, /admin, ...", pattern=r"^/"
    )
    auth: dict[str, Any] | None = Field(
        default=None, description="the auth object sent with the namespace connect (40)"
    )


class SocketIOCall(Model):
    """A `call` on a socket.io connection: emit with an ack id, wait for that ack."""

    event: str = Field(description="the event's name")
    args: list[Any] = Field(default_factory=list, description="the event's arguments")
    namespace: str | None = Field(
        default=None, description="the namespace (default: the connection's)", pattern=r"^/"
    )


class SocketIO(Protocol):
    """Socket.IO v5 over Engine.IO v4 (see the module's docstring)."""

    name: ClassVar[str] = "socket.io"
    options_model: ClassVar[type[Model]] = SocketIOOptions
    request_model: ClassVar[type[Model] | None] = SocketIOCall
    has_handshake: ClassVar[bool] = True

    def __init__(self, options: Model) -> None:
        super().__init__(options)
        assert isinstance(options, SocketIOOptions)
        self.namespace = options.namespace
        self.auth = options.auth
        #: From the Engine.IO open packet.
        self.sid: str | None = None
        self.ping_interval: float | None = None
        self.ping_timeout: float | None = None
        self._opened = False
        self._connected = False
        self._binary: Any = None  # a socketio Packet waiting for its attachments

    def url(self, url: str) -> str:
        parts = urlsplit(url)
        path = parts.path if parts.path not in ("", "/") else "/socket.io/"
        query = parse_qsl(parts.query, keep_blank_values=True)
        names = {name for name, _ in query}
        query += [(k, v) for k, v in (("EIO", "4"), ("transport", "websocket")) if k not in names]
        return urlunsplit((parts.scheme, parts.netloc, path, urlencode(query), parts.fragment))

    def handshake_done(self, incoming: Incoming) -> bool:
        envelope = incoming.envelope
        if "connect_error" in envelope:
            raise ProtocolFailure(_refusal(envelope))
        return "connect" in envelope

    def decode(self, frame: Frame) -> list[Incoming]:
        from engineio import packet as eio

        if isinstance(frame, bytes):
            return self._attachment(frame)
        if self._binary is not None:
            raise MalformedFrame(
                f"expected a binary attachment ({len(self._binary.attachments)} of "
                f"{self._binary.attachment_count} came), found a text frame",
                frame,
            )
        if not frame or not frame[0].isdigit() or int(frame[0]) > _NOOP:
            raise MalformedFrame(
                "not an Engine.IO packet: expected a type digit 0-6 first (4 for a message)",
                frame,
            )
        try:
            packet = eio.Packet(encoded_packet=frame)
        except (ValueError, TypeError) as exc:
            raise MalformedFrame(f"not an Engine.IO packet: {exc}", frame) from None
        kind = packet.packet_type
        if kind == _OPEN:
            return [self._open(frame, packet.data)]
        if kind == _PING:
            return [Incoming({"ping": packet.data or True}, heartbeat=True, answers=("3",))]
        if kind in (_PONG, _NOOP):
            return [Incoming({"pong" if kind == _PONG else "noop": True}, heartbeat=True)]
        if kind == _CLOSE:
            return [Incoming({"close": True})]
        if kind == _UPGRADE:
            raise MalformedFrame("an Engine.IO upgrade packet, on the websocket transport", frame)
        return self._message(frame, frame[1:])

    def encode(self, envelope: Envelope) -> list[Frame]:
        from socketio import packet as sio

        namespace = envelope.get("namespace", self.namespace)
        if not isinstance(namespace, str) or not namespace.startswith("/"):
            raise ValueError(f'"namespace" must be a string starting with /, found {namespace!r}')
        extra = set(envelope) - {"event", "args", "namespace", "ack", "id"}
        args = envelope.get("args", [])
        if extra or not isinstance(args, list):
            raise ValueError(
                'a socket.io envelope to send is {"event": name, "args": [...]} or '
                f'{{"ack": id, "args": [...]}} (plus "namespace"), found {_short(envelope)}'
            )
        data = [_to_binary(arg) for arg in args]
        if "event" in envelope:
            event = envelope["event"]
            ack_id = envelope.get("id")
            if isinstance(ack_id, str) and ack_id.isdigit():
                ack_id = int(ack_id)
            if not isinstance(event, str) or not (ack_id is None or _is_id(ack_id)):
                raise ValueError('"event" must be a string, and "id" an integer of 0 or more')
            return self._frames(sio.Packet(sio.EVENT, [event, *data], namespace, ack_id))
        ack = envelope.get("ack")
        if isinstance(ack, str) and ack.isdigit():  # a saved ${id} renders as a string
            ack = int(ack)
        if not _is_id(ack):
            raise ValueError(
                f'an ack to send needs "ack": the id of the event it answers, found {ack!r}'
            )
        return self._frames(sio.Packet(sio.ACK, data, namespace, ack))

    def call(self, request: Envelope, call_id: int) -> tuple[list[Frame], str]:
        namespace = request.get("namespace") or self.namespace
        envelope = {"event": request["event"], "args": request.get("args", [])}
        frames = self.encode({**envelope, "namespace": namespace, "id": call_id})
        return frames, _reply_key(namespace, call_id)

    def closing(self) -> list[Frame]:
        """A namespace disconnect (``41``), when the namespace was connected."""
        return [self._frames_text(_DISCONNECT, self.namespace)] if self._connected else []

    # -- decoding --------------------------------------------------------------------------

    def _open(self, frame: str, data: object) -> Incoming:
        if self._opened:
            raise MalformedFrame("a second Engine.IO open packet", frame)
        if not isinstance(data, dict) or not isinstance(data.get("sid"), str):
            raise MalformedFrame('an Engine.IO open packet without its {"sid": ...}', frame)
        self._opened = True
        self.sid = data["sid"]
        self.ping_interval = _seconds(data.get("pingInterval"))
        self.ping_timeout = _seconds(data.get("pingTimeout"))
        connect = "40" + ("" if self.namespace == "/" else self.namespace + ",")
        if self.auth is not None:
            connect += json.dumps(self.auth, separators=(",", ":"), ensure_ascii=False)
        return Incoming({"open": data}, handshake=True, answers=(connect,))

    def _message(self, frame: str, encoded: str) -> list[Incoming]:
        from socketio import packet as sio

        if not encoded or not encoded[0].isdigit() or int(encoded[0]) > _BINARY_ACK:
            raise MalformedFrame(
                "not a Socket.IO packet: expected a type digit 0-6 after the 4", frame
            )
        try:
            packet = sio.Packet(encoded_packet=encoded)
        except (ValueError, TypeError) as exc:  # json.JSONDecodeError is a ValueError
            raise MalformedFrame(f"not a Socket.IO packet: {exc}", frame) from None
        if packet.attachment_count:
            if packet.attachment_count > _MAX_ATTACHMENTS:
                raise MalformedFrame(f"more than {_MAX_ATTACHMENTS} binary attachments", frame)
            self._binary = packet
            return []
        return [self._envelope(frame, packet)]

    def _attachment(self, frame: bytes) -> list[Incoming]:
        packet = self._binary
        if packet is None:
            raise MalformedFrame("a binary frame that no binary Socket.IO packet announced", frame)
        if not packet.add_attachment(frame):
            return []
        self._binary = None
        return [self._envelope(frame, packet)]

    def _envelope(self, frame: Frame, packet: Any) -> Incoming:
        kind, data = packet.packet_type, packet.data
        namespace = packet.namespace or "/"
        where = {} if namespace == "/" else {"namespace": namespace}
        if kind == _CONNECT:
            sid = data.get("sid") if isinstance(data, dict) else None
            first = not self._connected
            self._connected = True
            return Incoming({"connect": {"sid": sid}, **where}, handshake=first)
        if kind == _CONNECT_ERROR:
            return Incoming({"connect_error": data, **where}, handshake=not self._connected)
        if kind == _DISCONNECT:
            if namespace == self.namespace:
                self._connected = False  # the server ended it: no 41 back at the close
            return Incoming({"disconnect": True, **where})
        if not isinstance(data, list):
            what = "an event" if kind in (_EVENT, _BINARY_EVENT) else "an ack"
            raise MalformedFrame(f"{what} whose data is not a JSON array", frame)
        data = _from_binary(data)
        if kind in (_EVENT, _BINARY_EVENT):
            if not data or not isinstance(data[0], str):
                raise MalformedFrame("an event without its name (a string) first", frame)
            envelope: Envelope = {"event": data[0], "args": data[1:], **where}
            if packet.id is not None:
                envelope["id"] = packet.id
            return Incoming(envelope)
        if packet.id is None:
            raise MalformedFrame("an ack without its id", frame)
        return Incoming(
            {"ack": packet.id, "args": data, **where},
            reply_to=_reply_key(namespace, packet.id),
        )

    # -- encoding --------------------------------------------------------------------------

    def _frames(self, packet: Any) -> list[Frame]:
        encoded = packet.encode()
        if isinstance(encoded, list):
            return ["4" + encoded[0], *(bytes(part) for part in encoded[1:])]
        return ["4" + encoded]

    def _frames_text(self, kind: int, namespace: str) -> str:
        return f"4{kind}" + ("" if namespace == "/" else namespace + ",")


def _reply_key(namespace: str, ack_id: int) -> str:
    return f"ack {ack_id}" + ("" if namespace == "/" else f" on {namespace}")


def _refusal(envelope: Envelope) -> str:
    """The failure message of a ``44`` packet: its ``message``, with its ``data`` if any."""
    error = envelope.get("connect_error")
    where = envelope.get("namespace", "/")
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        message = error["message"]
        if error.get("data") is not None:
            message += f" (data: {json.dumps(error['data'], ensure_ascii=False)})"
    else:
        message = json.dumps(error, ensure_ascii=False)
    return f"the server refused the connection to namespace {where}: {message}"


def _seconds(ms: object) -> float | None:
    if isinstance(ms, int | float) and not isinstance(ms, bool) and ms >= 0:
        return ms / 1000
    return None


def _is_id(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _to_binary(value: Any) -> Any:
    """`{"base64": "..."}` (that key only) → bytes, anywhere in `value`."""
    if isinstance(value, dict):
        if set(value) == {"base64"} and isinstance(value["base64"], str):
            try:
                return base64.b64decode(value["base64"], validate=True)
            except binascii.Error as exc:
                raise ValueError(f"invalid base64 in {_short(value)}: {exc}") from None
        return {k: _to_binary(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_to_binary(item) for item in value]
    return value


def _from_binary(value: Any) -> Any:
    """bytes → `{"base64": "..."}`, anywhere in `value`."""
    if isinstance(value, bytes | bytearray):
        return {"base64": base64.b64encode(value).decode("ascii")}
    if isinstance(value, dict):
        return {k: _from_binary(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_binary(item) for item in value]
    return value


def _short(value: object, limit: int = 120) -> str:
    text = json.dumps(value, ensure_ascii=False, default=repr)
    return text if len(text) <= limit else text[: limit - 1] + "…"
