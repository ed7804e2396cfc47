"""The `stomp` protocol: STOMP 1.2 over WebSocket (subprotocols ``v12.stomp``, ``v11.stomp``).

``connect`` sends CONNECT (``login``, ``passcode``, ``host``, ``heart-beat``) and waits for
CONNECTED; an ERROR instead fails it with the ERROR's ``message`` header and body. Heart-beats
go both ways: an EOL is sent at the negotiated interval, and those received are hidden (both
shown only with -v). Every frame becomes an envelope::

    {"command": "MESSAGE", "headers": {"destination": "/queue/a", ...}, "body": "text"}

The body is parsed when the content-type is JSON, and is ``{"base64": "..."}`` when it is not
UTF-8. ``send: {json: {command: SEND, headers: {destination: ...}, body: ...}}`` sends a frame
(a JSON body gets ``content-type: application/json``); ``call`` sends one with a ``receipt``
header and waits for its RECEIPT; an ERROR naming that receipt (or naming none while calls
wait) fails the call.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar
from urllib.parse import urlsplit

from pydantic import Field, field_validator

from runner.protocols.base import (
    Envelope,
    Frame,
    Incoming,
    MalformedFrame,
    Protocol,
    ProtocolFailure,
)
from runner.protocols.broker_payloads import bytes_in, bytes_out, validate
from runner.protocols.stomp_codec import (
    CLIENT_COMMANDS,
    HEARTBEAT,
    SERVER_COMMANDS,
    CodecError,
    Splitter,
    StompFrame,
    encode,
    negotiate_heartbeat,
)
from runner.scenario.fields import RENDERED, Model, TemplatedDuration

__all__ = ["Stomp", "StompOptions", "StompRequest"]

#: The accept-version header of CONNECT.
ACCEPT_VERSION = "1.2,1.1"


class StompOptions(Model):
    """``protocol_options`` of ``connect: {protocol: stomp}``.

    `heart_beat` is [outgoing, incoming]: the least time between the heart-beats this client
    sends, and the time it wishes between those it receives (STOMP's ``cx,cy``; 0: none).
    """

    login: str | None = Field(None, description="the login header of CONNECT")
    passcode: str | None = Field(None, description="the passcode header of CONNECT")
    host: str | None = Field(
        None, description="the host header of CONNECT (default: the URL's host)"
    )
    heart_beat: list[TemplatedDuration] = Field(
        default_factory=lambda: [0.0, 0.0],
        description="[outgoing, incoming]: heart-beat intervals (0: none)",
        json_schema_extra={"minItems": 2, "maxItems": 2},  # checked by _two, with its message
    )
    headers: dict[str, str] = Field(default_factory=dict, description="more CONNECT headers")

    @field_validator("heart_beat")
    @classmethod
    def _two(cls, value: list[Any]) -> list[Any]:
        if len(value) != 2:
            raise ValueError(f"heart_beat is [outgoing, incoming], two durations; found {value}")
        return value


class StompRequest(Model):
    """A frame to send: ``send: {json: ...}``, or the request of a ``call`` step."""

    command: str
    headers: dict[str, str | int | float | bool] = Field(default_factory=dict)
    body: Any = None

    @field_validator("command")
    @classmethod
    def _client_command(cls, value: str) -> str:
        if value not in CLIENT_COMMANDS - {"CONNECT", "STOMP"}:
            known = ", ".join(sorted(CLIENT_COMMANDS - {"CONNECT", "STOMP"}))
            raise ValueError(f"command must be one of {known}, found {value!r}")
        return value


class Stomp(Protocol):
    """STOMP 1.2 (see the module's docstring)."""

    name: ClassVar[str] = "stomp"
    options_model: ClassVar[type[Model]] = StompOptions
    request_model: ClassVar[type[Model] | None] = StompRequest
    subprotocols: ClassVar[tuple[str, ...]] = ("v12.stomp", "v11.stomp")
    has_handshake: ClassVar[bool] = True

    def __init__(self, options: Model) -> None:
        super().__init__(options)
        assert isinstance(options, StompOptions)
        self.settings = options
        self.host = options.host or "localhost"
        self._splitter = Splitter(SERVER_COMMANDS)
        self._connected = False
        self._disconnecting = False  # a DISCONNECT went out: closing() sends no other
        self._send_every = 0  # ms between the heart-beats sent, once negotiated
        self._receipts: dict[str, str] = {}  # receipt of a pending call -> its reply key

    def url(self, url: str) -> str:
        if self.settings.host is None:  # STOMP 1.2 CONNECT: host is required; the URL's by default
            self.host = urlsplit(url).hostname or self.host
        return url

    def opening(self) -> list[Frame]:
        options = self.settings
        outgoing, incoming = (round(seconds * 1000) for seconds in options.heart_beat)
        headers = {"accept-version": ACCEPT_VERSION, "host": self.host}
        headers["heart-beat"] = f"{outgoing},{incoming}"
        if options.login is not None:
            headers["login"] = options.login
        if options.passcode is not None:
            headers["passcode"] = options.passcode
        headers |= options.headers
        return [_message(encode(StompFrame("CONNECT", tuple(headers.items()))))]

    def handshake_done(self, incoming: Incoming) -> bool:
        envelope = incoming.envelope
        if envelope["command"] == "ERROR":
            raise ProtocolFailure(f"the broker refused the connection: {_error_text(envelope)}")
        mine = tuple(round(seconds * 1000) for seconds in self.settings.heart_beat)
        try:
            self._send_every, _ = negotiate_heartbeat(
                (mine[0], mine[1]), envelope["headers"].get("heart-beat")
            )
        except CodecError as exc:
            raise ProtocolFailure(f"CONNECTED is malformed: {exc}") from None
        self._connected = True
        return True

    def decode(self, frame: Frame) -> list[Incoming]:
        data = frame.encode("utf-8") if isinstance(frame, str) else frame
        try:
            items = [self._incoming(item) for item in self._splitter.feed(data)]
        except CodecError as exc:
            raise MalformedFrame(f"malformed STOMP frame: {exc}", frame) from exc
        # EOLs after a frame are padding (STOMP 1.2 "Augmented BNF"); a message of EOLs only
        # is a heart-beat
        frames = [item for item in items if not item.heartbeat]
        return frames if frames else items[:1]

    def encode(self, envelope: Envelope) -> list[Frame]:
        request = validate(StompRequest, envelope, "a STOMP frame to send", RENDERED)
        self._disconnecting |= request.command == "DISCONNECT"
        return [_message(encode(_frame(request)))]

    def call(self, request: Envelope, call_id: int) -> tuple[list[Frame], str]:
        model = validate(StompRequest, request, "a STOMP frame to send", RENDERED)
        receipt = str(model.headers.get("receipt", f"wsrun-{call_id}"))
        model = model.model_copy(update={"headers": {**model.headers, "receipt": receipt}})
        key = f"receipt:{receipt}"
        self._receipts[receipt] = key
        self._disconnecting |= model.command == "DISCONNECT"
        return [_message(encode(_frame(model)))], key

    def heartbeat_interval(self) -> float | None:
        return self._send_every / 1000 if self._send_every else None

    def heartbeat(self) -> list[Frame]:
        return ["\n"]  # STOMP 1.2 "Heart-beating": an EOL

    def closing(self) -> list[Frame]:
        if not self._connected or self._disconnecting:
            return []
        return [_message(encode(StompFrame("DISCONNECT")))]

    def _incoming(self, frame: StompFrame) -> Incoming:
        if frame is HEARTBEAT:
            return Incoming({"heartbeat": True}, heartbeat=True)
        envelope = _envelope(frame)
        if not self._connected:
            if frame.command not in ("CONNECTED", "ERROR"):
                raise CodecError(f"{frame.command} came before CONNECTED")
            return Incoming(envelope, handshake=True)
        if frame.command == "RECEIPT":
            key = self._receipts.pop(frame.header("receipt-id") or "", None)
            return Incoming(envelope, reply_to=key)
        if frame.command == "ERROR" and self._fails_a_call(frame.header("receipt-id")):
            raise ProtocolFailure(f"the broker answered with ERROR: {_error_text(envelope)}")
        return Incoming(envelope)

    def _fails_a_call(self, receipt: str | None) -> bool:
        """Whether an ERROR answers a pending call: it names the call's receipt, or names none
        while calls wait (STOMP 1.2 "ERROR": the broker then closes the connection; RabbitMQ
        sends no receipt-id)."""
        if receipt is None:
            pending = bool(self._receipts)
            self._receipts.clear()
            return pending
        return self._receipts.pop(receipt, None) is not None


def _envelope(frame: StompFrame) -> Envelope:
    headers = frame.header_map()
    body: Any = bytes_out(frame.body)
    content_type = headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "application/json" or content_type.endswith("+json"):
        try:
            body = json.loads(frame.body)
        except ValueError as exc:
            raise CodecError(
                f"{frame.command}'s body is not the JSON its content-type says: {exc}"
            ) from None
    return {"command": frame.command, "headers": headers, "body": body}


def _frame(request: StompRequest) -> StompFrame:
    headers = {key: _header_text(value) for key, value in request.headers.items()}
    body = b""
    if request.body is not None:
        try:
            body = bytes_in(request.body)
        except ValueError as exc:
            raise ValueError(f"not a STOMP frame to send: body: {exc}") from None
        binary = isinstance(request.body, dict) and set(request.body) == {"base64"}
        if not isinstance(request.body, str) and not binary:
            headers.setdefault("content-type", "application/json")
        headers.setdefault("content-length", str(len(body)))
    return StompFrame(request.command, tuple(headers.items()), body)


def _header_text(value: str | int | float | bool) -> str:
    return json.dumps(value) if isinstance(value, bool) else str(value)


def _message(data: bytes) -> Frame:
    """A frame as a WebSocket message: text when it is UTF-8 (as STOMP brokers expect)."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data


def _error_text(envelope: Envelope) -> str:
    message = envelope["headers"].get("message", "")
    body = envelope["body"]
    body_text = body if isinstance(body, str) else json.dumps(body)
    return ": ".join(part for part in (message, body_text.strip()[:500]) if part) or "ERROR"
