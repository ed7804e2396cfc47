"""The MQTT 3.1.1 codec and the `mqtt` protocol, sans-I/O (no sockets): packets round-trip, the
byte stream is reassembled however it is cut, and broken bytes are named."""

from __future__ import annotations

import pytest

from runner.protocols.base import MalformedFrame, ProtocolFailure
from runner.protocols.mqtt import Mqtt, MqttOptions
from runner.protocols.mqtt_codec import (
    CodecError,
    Kind,
    Packet,
    PacketIds,
    Reassembler,
    encode,
)

PACKETS = [
    Packet(Kind.CONNECT, client_id="c1", username="u", password=b"p", keepalive=30),
    Packet(Kind.CONNECT, client_id="", keepalive=0, clean_session=False),
    Packet(Kind.CONNACK, code=5, session_present=True),
    Packet(Kind.PUBLISH, 7, topic="a/b", payload=b"\x00\xff", qos=1, retain=True, dup=True),
    Packet(Kind.PUBLISH, topic="a", payload=b"x" * 300),  # a 2-byte remaining length
    Packet(Kind.PUBACK, 1),
    Packet(Kind.PUBREC, 2),
    Packet(Kind.PUBREL, 3),
    Packet(Kind.PUBCOMP, 4),
    Packet(Kind.SUBSCRIBE, 5, topics=(("a/+", 1), ("b/#", 0))),
    Packet(Kind.SUBACK, 5, codes=(1, 0x80)),
    Packet(Kind.UNSUBSCRIBE, 6, topics=(("a/+", 0),)),
    Packet(Kind.UNSUBACK, 6),
    Packet(Kind.PINGREQ),
    Packet(Kind.PINGRESP),
    Packet(Kind.DISCONNECT),
]


def test_every_packet_round_trips_byte_by_byte_and_all_at_once() -> None:
    data = b"".join(encode(packet) for packet in PACKETS)
    assert list(Reassembler().feed(data)) == PACKETS
    stream = Reassembler()
    one_by_one = [packet for byte in data for packet in stream.feed(bytes([byte]))]
    assert one_by_one == PACKETS
    assert stream.pending == 0


def test_known_bytes() -> None:
    assert encode(Packet(Kind.PINGREQ)) == b"\xc0\x00"
    assert encode(Packet(Kind.SUBSCRIBE, 1, topics=(("a", 1),))) == b"\x82\x06\x00\x01\x00\x01a\x01"
    assert encode(Packet(Kind.PUBLISH, topic="t", payload=b"x" * 200))[:3] == b"\x30\xcb\x01"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x30\xff\xff\xff\xff\x01", "remaining length has more than 4 bytes"),
        (b"\xf0\x00", "packet type 15 is reserved"),
        (b"\x00\x00", "packet type 0 is reserved"),
        (b"\x82\x03\x00\x01\x00", "SUBSCRIBE ends early"),  # a filter's length cut off
        (b"\x62\x02\x00\x01", None),  # PUBREL with its flags 0x2: fine
        (b"\x60\x02\x00\x01", "PUBREL has flags 0x0, must be 0x2"),
        (b"\x40\x03\x00\x01\x00", "PUBACK has 1 extra bytes"),
        (b"\x30\x04\x00\x02\xc3\x28", "PUBLISH has a string that is not UTF-8"),
        (b"\x82\x02\x00\x01", "SUBSCRIBE has no topic filter"),
    ],
)
def test_broken_bytes_are_named(data: bytes, message: str | None) -> None:
    if message is None:
        assert list(Reassembler().feed(data)) == [Packet(Kind.PUBREL, 1)]
        return
    with pytest.raises(CodecError, match=message):
        list(Reassembler().feed(data))


def test_the_limit_is_checked_before_the_body_arrives() -> None:
    stream = Reassembler(limit=100)
    with pytest.raises(CodecError, match="remaining length 101 is over the limit of 100 bytes"):
        list(stream.feed(b"\x30\x65"))


def test_packet_ids_skip_those_in_flight_and_wrap() -> None:
    ids = PacketIds(last=65534, in_flight={65535, 1})
    assert [ids.next(), ids.next()] == [2, 3]
    full = PacketIds(in_flight=set(range(1, 65536)))
    with pytest.raises(CodecError, match="all 65535 packet ids are in flight"):
        full.next()


def protocol(**options: object) -> Mqtt:
    return Mqtt(MqttOptions.model_validate(options))


def test_the_protocol_answers_qos1_and_qos2_and_hides_pings() -> None:
    mqtt = protocol(client_id="c", keepalive=5)
    [opening] = mqtt.opening()
    assert next(iter(Reassembler().feed(opening))).keepalive == 5
    assert mqtt.heartbeat_interval() == 5.0
    [qos1] = mqtt.decode(encode(Packet(Kind.PUBLISH, 9, topic="t", payload=b"hi", qos=1)))
    assert qos1.envelope == {
        "type": "publish", "topic": "t", "qos": 1, "retain": False, "id": 9, "payload": "hi"
    }  # fmt: skip
    assert qos1.answers == (b"\x40\x02\x00\x09",)
    [qos2] = mqtt.decode(encode(Packet(Kind.PUBLISH, 10, topic="t", qos=2)))
    assert qos2.answers == (b"\x50\x02\x00\x0a",)  # PUBREC
    [pubrel] = mqtt.decode(encode(Packet(Kind.PUBREL, 10)))
    assert pubrel.heartbeat and pubrel.answers == (b"\x70\x02\x00\x0a",)  # PUBCOMP
    [pong] = mqtt.decode(b"\xd0\x00")
    assert pong.heartbeat and pong.envelope == {"type": "pingresp"}


def test_calls_get_fresh_ids_and_their_acks_finish_them() -> None:
    mqtt = protocol()
    frames, key = mqtt.call({"type": "publish", "topic": "t", "qos": 1, "payload": "x"}, 1)
    sent = next(iter(Reassembler().feed(frames[0])))
    assert key == f"publish:{sent.packet_id}"
    [ack] = mqtt.decode(encode(Packet(Kind.PUBACK, sent.packet_id)))
    assert ack.reply_to == key
    frames, key = mqtt.call({"type": "subscribe", "topics": ["a", {"topic": "b", "qos": 1}]}, 2)
    sub = next(iter(Reassembler().feed(frames[0])))
    assert sub.topics == (("a", 0), ("b", 1)) and sub.packet_id != sent.packet_id
    with pytest.raises(ProtocolFailure, match=r"refused the subscription to b \(SUBACK"):
        mqtt.decode(encode(Packet(Kind.SUBACK, sub.packet_id, codes=(0, 0x80))))


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        ({"type": "publish", "topic": "t"}, "a publish call waits for its PUBACK"),
        ({"type": "puback", "id": 1}, "a call sends a publish, subscribe or unsubscribe"),
        ({"type": "publish"}, "a publish needs a topic"),
        ({"type": "subscribe"}, "a subscribe needs a topic or topics"),
        ({"type": "publish", "topic": "t", "qos": 3}, "qos must be 0, 1 or 2, found 3"),
        (
            {"type": "publish", "topic": "t", "qos": 1, "payload": {"base64": "%%"}},
            "not valid base64",
        ),
    ],
)
def test_bad_requests_are_refused_before_anything_is_sent(
    request_: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        protocol().call(request_, 1)


def test_the_handshake_and_what_a_broker_does_not_send() -> None:
    mqtt = protocol()
    [connack] = mqtt.decode(b"\x20\x02\x00\x00")
    assert connack.handshake and mqtt.handshake_done(connack)
    [refused] = mqtt.decode(b"\x20\x02\x00\x02")
    with pytest.raises(ProtocolFailure, match=r"CONNACK return code 2 \(identifier rejected\)"):
        mqtt.handshake_done(refused)
    with pytest.raises(MalformedFrame, match="a broker does not send SUBSCRIBE"):
        mqtt.decode(encode(Packet(Kind.SUBSCRIBE, 1, topics=(("a", 0),))))
