"""`protocol: mqtt` end to end, through the CLI (`runner.cli.main`, in-process), against two
brokers: a real, independent aedes over websocket-stream (tests/protocols/peers_mqtt.py) and
the built-in server's `/mqtt`. Both on loopback, port 0.

Each test checks what the console or the JSON report shows: the handshake and its refusal
(CONNACK 4), keepalive (PINGREQ hidden unless -v, the connection still open past 1.5 times the
keepalive), `call` and its timeout, a refused subscription, a malformed packet, a CONNACK in
four 1-byte messages, and a QoS 1 delivery with the broker's packet id answered with PUBACK.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from dataclasses import dataclass
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from websockets.sync.server import ServerConnection

from runner.cli import ExitCode, main
from runner.protocols.mqtt_codec import Kind, Packet, encode
from runner.server.running import TestServer
from tests.protocols.peers_mqtt import Aedes, aedes_peer
from tests.protocols.running import comparable, readme_section, run
from tests.support import timeout, url_of, websockets_server


@dataclass(frozen=True)
class Broker:
    """A broker under test: the URL of a connection (with `query` appended on the built-in)."""

    name: str
    base: str
    aedes: Aedes | None = None

    def url(self, query: str = "") -> str:
        return f"{self.base}/mqtt{query}" if self.aedes is None else self.base


@pytest.fixture(scope="module")
def builtin() -> Iterator[TestServer]:
    server = TestServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(params=["aedes", "built-in"])
def broker(request: pytest.FixtureRequest, builtin: TestServer) -> Iterator[Broker]:
    if request.param == "built-in":
        yield Broker("built-in", builtin.url)
        return
    with aedes_peer() as aedes:
        yield Broker("aedes", aedes.url, aedes)


def frames(report: dict[str, Any], kind: str) -> list[bytes]:
    """The binary frames of the report's `kind` events (frame_sent, frame_received)."""
    return [
        base64.b64decode(event["data"]["base64"])
        for event in report["events"]
        if event["type"] == kind and isinstance(event["data"], dict)
    ]


def test_subscribe_publish_and_a_qos1_delivery_answered_with_puback(
    tmp_path: Path, broker: Broker
) -> None:
    code, output, report = run(
        tmp_path,
        f"""
name: mqtt round trip
steps:
  - connect:
      url: "{broker.url()}"
      protocol: mqtt
      protocol_options: {{client_id: wsrun-rt, keepalive: 30}}
  - call:
      type: subscribe
      topics: ["sensors/+/temp", {{topic: "alerts/#", qos: 1}}]
      qos: 1
      expect: {{json: {{type: suback, codes: [1, 1]}}}}
  - call:
      type: publish
      topic: sensors/kitchen/temp
      qos: 1
      payload: "21.5"
      expect: {{json: {{type: puback}}}}
  - expect:
      json: {{type: publish, topic: sensors/kitchen/temp, qos: 1, retain: false, payload: "21.5"}}
      save: {{delivery: $.id}}
  - send: {{json: {{type: publish, topic: alerts/fire, payload: {{base64: "AP8="}}}}}}
  - expect: {{json: {{type: publish, topic: alerts/fire, qos: 0, payload: {{base64: "AP8="}}}}}}
  - close
""",
    )
    assert code == ExitCode.OK, output
    assert "✓ PASSED mqtt round trip" in output
    delivered = [f for f in frames(report, "frame_received") if f[0] >> 4 == 3 and f[0] & 0x06]
    assert len(delivered) == 1
    topic_length = int.from_bytes(delivered[0][2:4], "big")
    packet_id = int.from_bytes(delivered[0][4 + topic_length : 6 + topic_length], "big")
    # MQTT 3.1.1 4.3.2: the PUBACK carries the id the broker chose for this delivery
    assert bytes([0x40, 0x02]) + packet_id.to_bytes(2, "big") in frames(report, "frame_sent")
    if broker.aedes is not None:  # and the broker got it: aedes reports the PUBACK it received
        event = broker.aedes.next_event(timeout(5))
        assert event == {"event": "puback", "client": "wsrun-rt", "id": packet_id}


def test_bad_credentials_fail_connect_with_the_connack_code(tmp_path: Path) -> None:
    with aedes_peer("alice", "s3cret") as aedes, TestServer() as server:
        for url in (aedes.url, f"{server.url}/mqtt?username=alice&password=s3cret"):
            code, output, _ = run(
                tmp_path,
                f"""
name: mqtt refused
steps:
  - connect:
      url: "{url}"
      protocol: mqtt
      protocol_options: {{username: alice, password: wrong}}
  - send: {{json: {{type: publish, topic: never, payload: x}}}}
""",
            )
            assert code == ExitCode.FAILED, output
            assert (
                "the broker refused the connection: "
                "CONNACK return code 4 (bad user name or password)" in output
            ), output
            assert "(step 1, connect on default)" in output


def test_good_credentials_connect(tmp_path: Path) -> None:
    with aedes_peer("alice", "s3cret") as aedes:
        code, output, _ = run(
            tmp_path,
            f"""
name: mqtt login
steps:
  - connect:
      url: "{aedes.url}"
      protocol: mqtt
      protocol_options: {{username: alice, password: s3cret, clean_session: true}}
  - call: {{type: subscribe, topic: "a/b", expect: {{json: {{codes: [0]}}}}}}
  - close
""",
        )
    assert code == ExitCode.OK, output


def test_keepalive_pings_keep_the_connection_and_are_hidden_unless_verbose(
    tmp_path: Path, broker: Broker
) -> None:
    # Both brokers close a client silent for 1.5 keepalives (MQTT 3.1.1 3.1.2.10): 1.5 s here.
    scenario = f"""
name: mqtt keepalive
steps:
  - connect: {{url: "{broker.url()}", protocol: mqtt, protocol_options: {{keepalive: 1}}}}
  - sleep: 2200ms
  - call: {{type: subscribe, topic: "still/open", expect: {{json: {{type: suback}}}}}}
  - close
"""
    code, output, report = run(tmp_path, scenario)
    assert code == ExitCode.OK, output
    pings = [f for f in frames(report, "frame_sent") if f == b"\xc0\x00"]
    assert len(pings) >= 2, "a PINGREQ every second"
    assert "c0 00" not in output and "d0 00" not in output, "pings are hidden without -v"
    if broker.aedes is None:
        return
    code, output, _ = run(tmp_path, scenario, "-v")
    assert code == ExitCode.OK, output
    assert re.search(r"→ sent .*c0 00", output), output
    assert re.search(r"← received .*d0 00", output), output
    assert '"pingresp"' in output


def test_without_pings_the_broker_closes_a_silent_client(tmp_path: Path, broker: Broker) -> None:
    """The control: both brokers do close a client silent for 1.5 keepalives (a raw
    connection sends CONNECT with keepalive 1 and then nothing)."""
    connect = encode(Packet(Kind.CONNECT, client_id="raw", keepalive=1)).hex()
    code, output, _ = run(
        tmp_path,
        f"""
name: mqtt silent
steps:
  - connect: {{url: "{broker.url()}", subprotocols: [mqtt]}}
  - send: {{binary: {{hex: "{connect}"}}}}
  - expect: {{binary: {{hex: "20020000"}}}}
  - sleep: 1s
  - expect_close: {{timeout: 3s}}
""",
    )
    assert code == ExitCode.OK, output


def test_call_timeout_says_what_it_waited_for(tmp_path: Path, broker: Broker) -> None:
    code, output, _ = run(
        tmp_path,
        f"""
name: mqtt call timeout
steps:
  - connect: {{url: "{broker.url()}", protocol: mqtt}}
  - call: {{type: publish, topic: silent/here, qos: 1, payload: x, timeout: 300ms}}
""",
    )
    assert code == ExitCode.FAILED, output
    assert "(step 2, call on default)" in output
    assert re.search(
        r"no reply to the mqtt call \{.*silent/here.*\} on 'default' within 0\.3\d\ds", output
    ), output
    assert "expected: the mqtt reply publish:1" in output, output


def test_a_refused_subscription_fails_the_call(tmp_path: Path, broker: Broker) -> None:
    refused = "forbidden/#" if broker.aedes is not None else "a/#/b"
    code, output, _ = run(
        tmp_path,
        f"""
name: mqtt refused subscription
steps:
  - connect: {{url: "{broker.url()}", protocol: mqtt}}
  - call: {{type: subscribe, topic: "{refused}", qos: 1}}
""",
    )
    assert code == ExitCode.FAILED, output
    assert f"the broker refused the subscription to {refused} (SUBACK return code 0x80)" in output
    assert "(step 2, call on default)" in output


def test_a_connack_in_four_one_byte_messages_is_reassembled(tmp_path: Path) -> None:
    with aedes_peer(split=1) as aedes, TestServer() as server:
        for url in (aedes.url, f"{server.url}/mqtt?chunk=1"):
            code, output, report = run(
                tmp_path,
                f"""
name: mqtt split
steps:
  - connect: {{url: "{url}", protocol: mqtt}}
  - call: {{type: subscribe, topic: "a/b", qos: 1, expect: {{json: {{codes: [1]}}}}}}
  - call: {{type: publish, topic: a/b, qos: 1, payload: "split up", expect: {{json: {{id: 2}}}}}}
  - expect: {{json: {{type: publish, topic: a/b, payload: "split up"}}}}
  - close
""",
            )
            assert code == ExitCode.OK, output
            received = frames(report, "frame_received")
            assert received[:4] == [b" ", b"\x02", b"\x00", b"\x00"], received[:6]
            connack = next(
                e for e in report["events"] if e["type"] == "frame_received" and e["envelopes"]
            )
            assert connack["envelopes"] == [
                {"type": "connack", "code": 0, "session_present": False}
            ]
            assert connack["data"] == {"base64": base64.b64encode(b"\x00").decode()}


def _garbage(packet: bytes) -> Any:
    def handler(conn: ServerConnection) -> None:
        conn.recv(timeout(5))  # CONNECT
        conn.send(b"\x20\x02\x00\x00")  # CONNACK, accepted
        conn.send(packet)
        for _ in conn:
            pass

    return handler


@pytest.mark.parametrize(
    ("packet", "why"),
    [
        (b"\x30\xff\xff\xff\xff\x01", "remaining length has more than 4 bytes (MQTT 3.1.1 2.2.3)"),
        (b"\x30\xff\xff\xff\x7f", "remaining length 268435455 is over the limit of 16777216 bytes"),
        (b"\xf0\x00", "packet type 15 is reserved (MQTT 3.1.1 2.2.1)"),
        (b"\x36\x03\x00\x01a", "PUBLISH has qos 3 (MQTT 3.1.1 3.3.1.2)"),
    ],
)
def test_a_malformed_packet_fails_the_waiting_step(tmp_path: Path, packet: bytes, why: str) -> None:
    with websockets_server(_garbage(packet), subprotocols=["mqtt"]) as server:
        code, output, _ = run(
            tmp_path,
            f"""
name: mqtt malformed
steps:
  - connect: {{url: "{url_of(server)}", protocol: mqtt}}
  - expect: {{json: {{type: publish}}, timeout: 5s}}
""",
        )
    assert code == ExitCode.FAILED, output
    assert f"malformed MQTT packet: {why}" in output, output
    assert "(step 2, expect on default)" in output
    assert packet[:2].hex(" ") in output


def test_a_text_message_is_not_mqtt(tmp_path: Path) -> None:
    def handler(conn: ServerConnection) -> None:
        conn.recv(timeout(5))
        conn.send(b"\x20\x02\x00\x00")
        conn.send("hello")
        for _ in conn:
            pass

    with websockets_server(handler, subprotocols=["mqtt"]) as server:
        code, output, _ = run(
            tmp_path,
            f"""
name: mqtt text
steps:
  - connect: {{url: "{url_of(server)}", protocol: mqtt}}
  - expect: {{json: {{type: publish}}, timeout: 5s}}
""",
        )
    assert code == ExitCode.FAILED, output
    assert "MQTT packets come in binary messages, found a text message" in output


def test_options_are_checked_when_the_file_loads(tmp_path: Path) -> None:
    code, output, _ = run_validate(
        tmp_path,
        """
name: mqtt bad options
steps:
  - connect: {url: "ws://127.0.0.1:1/mqtt", protocol: mqtt, protocol_options: {keepalive: 1.5}}
""",
    )
    assert code != ExitCode.OK
    assert "keepalive must be whole seconds up to 65535, found 1.5" in output


def run_validate(tmp_path: Path, text: str) -> tuple[int, str, None]:
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(text, encoding="utf-8")
    console = Console(file=StringIO(), width=250, color_system=None)
    code = main(["validate", str(scenario)], console=console)
    return code, console.file.getvalue(), None  # type: ignore[attr-defined]


def test_the_readme_example_runs_and_shows_what_the_readme_says(
    tmp_path: Path, builtin: TestServer
) -> None:
    example, shown = readme_section("#### MQTT (`protocol: mqtt`)")
    code, output, _ = run(tmp_path, example, "-v", "--var", f"base_url={builtin.url}")
    assert code == ExitCode.OK, output
    printed = comparable(output)
    for line in comparable(shown):
        assert line in printed, line


def test_a_qos2_publish_call_waits_for_pubcomp(tmp_path: Path, broker: Broker) -> None:
    """QoS 2 (MQTT 3.1.1 4.3.3): PUBLISH, PUBREC, PUBREL (sent by the protocol), PUBCOMP."""
    code, output, report = run(
        tmp_path,
        f"""
name: mqtt qos 2
steps:
  - connect: {{url: "{broker.url()}", protocol: mqtt}}
  - call:
      type: publish
      topic: q2/t
      qos: 2
      payload: once
      expect: {{json: {{type: pubcomp, id: 1}}}}
""",
    )
    assert code == ExitCode.OK, output
    assert b"\x50\x02\x00\x01" in frames(report, "frame_received")  # PUBREC 1
    assert b"\x62\x02\x00\x01" in frames(report, "frame_sent")  # PUBREL 1, answered at once
