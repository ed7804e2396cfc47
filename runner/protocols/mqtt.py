"""The `mqtt` protocol: MQTT 3.1.1 over WebSocket (subprotocol ``mqtt``).

``connect`` sends CONNECT and waits for CONNACK (a non-zero return code fails it, with the
code's meaning); PINGREQ goes out every `keepalive` (its PINGRESP hidden unless -v); an
incoming QoS 1 PUBLISH is answered with PUBACK (QoS 2: PUBREC, then PUBCOMP for its PUBREL).
Every packet becomes an envelope::

    {"type": "publish", "topic": "a/b", "qos": 1, "retain": false, "id": 5, "payload": "text"}
    {"type": "suback", "id": 6, "codes": [1]}     {"type": "puback", "id": 7}

A payload that is not UTF-8 is ``{"base64": "..."}``. ``send: {json: {type: publish, ...}}``
publishes; ``call`` publishes with QoS 1 (or 2) and waits for its PUBACK (PUBCOMP), or
subscribes / unsubscribes and waits for SUBACK / UNSUBACK, each with a fresh packet id. A SUBACK
refusing a filter (return code 0x80) fails the call.
"""

from __future__ import annotations

import json
import secrets
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from runner.protocols.base import (
    Envelope,
    Frame,
    Incoming,
    MalformedFrame,
    Protocol,
    ProtocolFailure,
)
from runner.protocols.broker_payloads import bytes_in, bytes_out, validate
from runner.protocols.mqtt_codec import (
    CONNACK_CODES,
    SUBACK_FAILURE,
    CodecError,
    Kind,
    Packet,
    PacketIds,
    Reassembler,
    encode,
)
from runner.scenario.fields import RENDERED, Model, TemplatedBool, TemplatedDuration, TemplatedInt

__all__ = ["Mqtt", "MqttOptions", "MqttRequest", "MqttTopic"]

_ACKS = {Kind.PUBACK: "puback", Kind.PUBCOMP: "pubcomp", Kind.SUBACK: "suback"}
_ACKS[Kind.UNSUBACK] = "unsuback"
_SIMPLE = {"puback": Kind.PUBACK, "pubrec": Kind.PUBREC, "pubrel": Kind.PUBREL}
_SIMPLE |= {"pubcomp": Kind.PUBCOMP}


class MqttOptions(Model):
    """``protocol_options`` of ``connect: {protocol: mqtt}``."""

    client_id: str | None = Field(
        None, description="the client identifier of CONNECT (default: wsrun- and 8 hex digits)"
    )
    username: str | None = Field(None, description="the user name of CONNECT")
    password: str | None = Field(None, description="the password of CONNECT")
    keepalive: TemplatedDuration = Field(
        60.0, description="CONNECT's Keep Alive, whole seconds: a PINGREQ that often (0: none)"
    )
    clean_session: TemplatedBool = Field(True, description="CONNECT's Clean Session flag")

    @field_validator("keepalive")
    @classmethod
    def _whole_seconds(cls, value: Any) -> Any:
        # MQTT 3.1.1 3.1.2.10: Keep Alive is a 16-bit number of seconds.
        if isinstance(value, float) and (value != int(value) or value > 0xFFFF):
            raise ValueError(f"keepalive must be whole seconds up to 65535, found {value:g}")
        return value


class MqttTopic(Model):
    """One topic filter of a subscribe, with its QoS."""

    topic: str
    qos: TemplatedInt = 0


class MqttRequest(Model):
    """A packet to send: ``send: {json: ...}``, or the request of a ``call`` step."""

    type: Literal[
        "publish", "subscribe", "unsubscribe", "puback", "pubrec", "pubrel", "pubcomp"
    ] = "publish"
    topic: str | None = None
    topics: list[str | MqttTopic] | None = None
    qos: TemplatedInt = 0
    retain: TemplatedBool = False
    dup: TemplatedBool = False
    id: TemplatedInt | None = None
    payload: Any = ""

    @model_validator(mode="after")
    def _complete(self) -> MqttRequest:
        if isinstance(self.qos, int) and self.qos not in (0, 1, 2):
            raise ValueError(f"qos must be 0, 1 or 2, found {self.qos}")
        if self.type == "publish" and self.topic is None:
            raise ValueError("a publish needs a topic")
        if self.type in ("subscribe", "unsubscribe") and not (self.topic or self.topics):
            raise ValueError(f"a {self.type} needs a topic or topics")
        if self.type in _SIMPLE and self.id is None:
            raise ValueError(f"a {self.type} needs the id of the packet it answers")
        return self


class Mqtt(Protocol):
    """MQTT 3.1.1 (see the module's docstring)."""

    name: ClassVar[str] = "mqtt"
    options_model: ClassVar[type[Model]] = MqttOptions
    request_model: ClassVar[type[Model] | None] = MqttRequest
    subprotocols: ClassVar[tuple[str, ...]] = ("mqtt",)
    has_handshake: ClassVar[bool] = True

    def __init__(self, options: Model) -> None:
        super().__init__(options)
        assert isinstance(options, MqttOptions)
        self.settings = options
        self.client_id = options.client_id or f"wsrun-{secrets.token_hex(4)}"
        self._stream = Reassembler()
        self._ids = PacketIds()
        self._calls: dict[int, str] = {}  # packet id of a pending call -> its reply key
        self._topics: dict[int, list[str]] = {}  # a pending subscribe call's filters

    def opening(self) -> list[Frame]:
        options = self.settings
        password = options.password.encode("utf-8") if options.password is not None else None
        connect = Packet(
            Kind.CONNECT,
            client_id=self.client_id,
            username=options.username,
            password=password,
            keepalive=int(options.keepalive),
            clean_session=options.clean_session,
        )
        return [encode(connect)]

    def handshake_done(self, incoming: Incoming) -> bool:
        code = incoming.envelope.get("code", 0)
        if code:
            meaning = CONNACK_CODES.get(code, "a reserved code")
            raise ProtocolFailure(
                f"the broker refused the connection: CONNACK return code {code} ({meaning})"
            )
        return True

    def decode(self, frame: Frame) -> list[Incoming]:
        if isinstance(frame, str):
            # MQTT 3.1.1 6.0: control packets travel in binary WebSocket messages only.
            raise MalformedFrame(
                "MQTT packets come in binary messages, found a text message", frame
            )
        try:
            packets = list(self._stream.feed(frame))
        except CodecError as exc:
            raise MalformedFrame(f"malformed MQTT packet: {exc}", frame) from exc
        return [self._incoming(packet) for packet in packets]

    def encode(self, envelope: Envelope) -> list[Frame]:
        return [encode(self._packet(self._request(envelope)))]

    def call(self, request: Envelope, call_id: int) -> tuple[list[Frame], str]:
        model = self._request(request)
        if model.type not in ("publish", "subscribe", "unsubscribe"):
            raise ValueError(
                f"a call sends a publish, subscribe or unsubscribe, not a {model.type}"
            )
        if model.type == "publish" and model.qos == 0:
            raise ValueError(
                "a publish call waits for its PUBACK: give it qos 1 (or 2, for PUBCOMP)"
            )
        packet = self._packet(model.model_copy(update={"id": None}))
        assert packet.packet_id is not None
        key = f"{model.type}:{packet.packet_id}"
        self._calls[packet.packet_id] = key
        if packet.kind == Kind.SUBSCRIBE:
            self._topics[packet.packet_id] = [topic for topic, _ in packet.topics]
        return [encode(packet)], key

    def heartbeat_interval(self) -> float | None:
        return self.settings.keepalive or None

    def heartbeat(self) -> list[Frame]:
        return [encode(Packet(Kind.PINGREQ))]

    def closing(self) -> list[Frame]:
        return [encode(Packet(Kind.DISCONNECT))]

    # -- incoming -----------------------------------------------------------------------------

    def _incoming(self, packet: Packet) -> Incoming:
        kind = packet.kind
        if kind == Kind.CONNACK:
            envelope = {"type": "connack", "code": packet.code}
            envelope["session_present"] = packet.session_present
            return Incoming(envelope, handshake=True)
        if kind == Kind.PUBLISH:
            return self._publish(packet)
        if kind == Kind.PINGRESP:
            return Incoming({"type": "pingresp"}, heartbeat=True)
        if kind in (Kind.PUBREC, Kind.PUBREL):  # QoS 2's middle steps, answered here
            answer = Kind.PUBREL if kind == Kind.PUBREC else Kind.PUBCOMP
            envelope = {"type": kind.name.lower(), "id": packet.packet_id}
            return Incoming(
                envelope, heartbeat=True, answers=(encode(Packet(answer, packet.packet_id)),)
            )
        if kind in _ACKS:
            return self._ack(packet)
        raise MalformedFrame(
            f"a broker does not send {kind.name} (MQTT 3.1.1 2.2.1)", encode(packet)
        )

    def _publish(self, packet: Packet) -> Incoming:
        envelope: Envelope = {"type": "publish", "topic": packet.topic, "qos": packet.qos}
        envelope["retain"] = packet.retain
        if packet.dup:
            envelope["dup"] = True
        if packet.packet_id is not None:
            envelope["id"] = packet.packet_id
        envelope["payload"] = bytes_out(packet.payload)
        answers: tuple[Frame, ...] = ()
        if packet.qos:  # MQTT 3.1.1 4.3.2 / 4.3.3: QoS 1 is acknowledged by PUBACK, 2 by PUBREC
            answer = Kind.PUBACK if packet.qos == 1 else Kind.PUBREC
            answers = (encode(Packet(answer, packet.packet_id)),)
        return Incoming(envelope, answers=answers)

    def _ack(self, packet: Packet) -> Incoming:
        assert packet.packet_id is not None
        envelope: Envelope = {"type": _ACKS[packet.kind], "id": packet.packet_id}
        if packet.kind == Kind.SUBACK:
            envelope["codes"] = list(packet.codes)
        self._ids.in_flight.discard(packet.packet_id)
        key = self._calls.pop(packet.packet_id, None)
        topics = self._topics.pop(packet.packet_id, [])
        refused = [
            t for t, code in zip(topics, packet.codes, strict=False) if code == SUBACK_FAILURE
        ]
        if key is not None and refused:
            raise ProtocolFailure(
                f"the broker refused the subscription to {', '.join(refused)} "
                f"(SUBACK return code 0x80): {json.dumps(envelope)}"
            )
        return Incoming(envelope, reply_to=key)

    # -- outgoing -----------------------------------------------------------------------------

    def _request(self, envelope: Envelope) -> MqttRequest:
        return validate(MqttRequest, envelope, "an MQTT packet to send", RENDERED)

    def _packet(self, request: MqttRequest) -> Packet:
        packet_id = request.id
        needs_id = request.type in ("subscribe", "unsubscribe") or request.qos > 0
        if needs_id and packet_id is None and request.type not in _SIMPLE:
            packet_id = self._ids.next()
            self._ids.in_flight.add(packet_id)
        if request.type in _SIMPLE:
            return Packet(_SIMPLE[request.type], packet_id)
        topics = _topics(request)
        try:
            if request.type == "subscribe":
                return Packet(Kind.SUBSCRIBE, packet_id, topics=topics)
            if request.type == "unsubscribe":
                return Packet(Kind.UNSUBSCRIBE, packet_id, topics=topics)
            packet = Packet(
                Kind.PUBLISH,
                packet_id,
                topic=request.topic or "",
                payload=bytes_in(request.payload),
                qos=request.qos,
                retain=request.retain,
                dup=request.dup,
            )
            encode(packet)  # checks what MQTT cannot carry before anything is sent
        except CodecError as exc:
            raise ValueError(f"cannot send this MQTT packet: {exc}") from None
        return packet


def _topics(request: MqttRequest) -> tuple[tuple[str, int], ...]:
    """The (filter, qos) pairs of a subscribe or unsubscribe: `topic` with `qos`, `topics`."""
    found = [(request.topic, request.qos)] if request.topic else []
    for item in request.topics or []:
        found.append((item, request.qos) if isinstance(item, str) else (item.topic, item.qos))
    return tuple(found)
