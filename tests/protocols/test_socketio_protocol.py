"""`protocol: socket.io` end to end, through the CLI (`runner.cli.main`, in-process), against two
servers: a real, independent python-socketio AsyncServer on uvicorn (tests/protocols/
peers_socketio.py) and the built-in server's `/socket.io/` endpoint. Both on loopback, port 0.

Each test checks what the console shows: the handshake and its refusal (``44``), the heartbeat
(``2`` answered with ``3``), `call` and its timeout, a malformed frame, binary attachments and
an ack the client sends back, and -v's frames.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from runner.cli import ExitCode
from runner.protocols.socketio import SocketIO, SocketIOOptions
from runner.server.running import TestServer
from tests.protocols.peers_socketio import socketio_peer
from tests.protocols.running import comparable, readme_section, run


@dataclass(frozen=True)
class Target:
    """A server under test, and the names its events and namespaces have there."""

    url: str
    slow: str  # an event never acked in time: [event, *args]
    malformed: str  # an event that makes the server send a frame that is not Socket.IO
    bad_frame: str  # that frame
    namespace: str  # a namespace that wants auth
    token: str  # the token it wants
    refusal: str  # its message for any other


def peer_target(url: str) -> Target:
    return Target(url, '"slow"', "garbage", "42[not json", "/private", "letmein", "token rejected")


def builtin_target(url: str) -> Target:
    return Target(
        url, '"sleep", 5000', "malformed", "42[this is not JSON", "/admin", "secret", "bad token"
    )


@pytest.fixture(scope="module")
def builtin() -> Iterator[TestServer]:
    server = TestServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(params=["python-socketio", "built-in"])
def target(request: pytest.FixtureRequest, builtin: TestServer) -> Iterator[Target]:
    if request.param == "built-in":
        yield builtin_target(builtin.url)
        return
    with socketio_peer() as url:
        yield peer_target(url)


def test_connect_call_events_and_acks(tmp_path: Path, target: Target) -> None:
    code, output, report = run(
        tmp_path,
        f"""
name: socket.io basics
steps:
  - connect: {{url: "{target.url}", protocol: socket.io}}
  - call:
      event: sum
      args: [1, 2, 39]
      expect: {{json: {{ack: 1, args: [42]}}}}
      save: {{total: "$.args[0]"}}
  - call: {{event: sum, args: ["${{total}}", 8], expect: {{json: {{ack: 2, args: [50]}}}}}}
  - connect:
      conn: admin
      url: "{target.url}"
      protocol: socket.io
      protocol_options: {{namespace: "{target.namespace}", auth: {{token: "{target.token}"}}}}
  - close: {{conn: admin}}
""",
    )
    assert code == ExitCode.OK, output
    assert "✓ PASSED socket.io basics" in output
    steps = [e for e in report["events"] if e["type"] == "step_ended"]
    assert len(steps) == 5


def test_a_refused_namespace_fails_connect_with_the_servers_message(
    tmp_path: Path, target: Target
) -> None:
    code, output, _ = run(
        tmp_path,
        f"""
name: socket.io refused
steps:
  - connect: {{url: "{target.url}", protocol: socket.io,
               protocol_options: {{namespace: "{target.namespace}", auth: {{token: wrong}}}}}}
  - send: {{json: {{event: never}}}}
""",
    )
    assert code == ExitCode.FAILED, output
    assert (
        "the socket.io handshake on 'default' failed: the server refused the connection to "
        f"namespace {target.namespace}: {target.refusal}"
    ) in output
    assert "(step 1, connect on default)" in output
    assert "0/2 steps" in output


def test_engine_io_pings_are_answered_so_the_connection_outlives_ping_timeout(
    tmp_path: Path, builtin: TestServer
) -> None:
    # The peer pings every 0.2 s and drops a client that has not answered within 0.8 s; the
    # scenario idles for 1.5 s. The built-in (?pingInterval=200&pingTimeout=1000): with -v.
    text = """
name: socket.io heartbeat
steps:
  - connect: {url: "URL", protocol: socket.io}
  - sleep: 1500ms
  - call: {event: sum, args: [1, 1], expect: {json: {args: [2]}}}
"""
    with socketio_peer(ping_interval=0.2, ping_timeout=0.8) as url:
        code, output, _ = run(tmp_path, text.replace("URL", url))
        assert code == ExitCode.OK, output
        assert "sent      3" not in output  # heartbeats are hidden without -v
    code, verbose, _ = run(
        tmp_path, text.replace("URL", builtin.url + "?pingInterval=200&pingTimeout=1000"), "-v"
    )
    assert code == ExitCode.OK, verbose
    assert verbose.count('← received  2 ⇒ {"ping": true}\n') >= 4, verbose  # pinged every 0.2 s...
    assert verbose.count("→ sent      3\n") >= 4, verbose  # ... and answered each time


def test_a_call_that_gets_no_ack_in_time_fails_with_what_it_sent(
    tmp_path: Path, target: Target
) -> None:
    event, _, args = target.slow.partition(",")
    code, output, _ = run(
        tmp_path,
        f"""
name: socket.io call timeout
steps:
  - connect: {{url: "{target.url}", protocol: socket.io}}
  - call: {{event: {event}, args: [{args}], timeout: 300ms}}
""",
    )
    assert code == ExitCode.FAILED, output
    assert f'no reply to the socket.io call {{"event":{event}' in output
    assert re.search(r"on 'default' within \d+\.\d{3}s; arrived meanwhile: nothing\n", output)
    assert re.search(r"expected: the (socket\.io )?reply ack 1\n", output), output
    assert "(step 2, call on default)" in output


def test_a_malformed_frame_fails_the_waiting_step_with_the_frame(
    tmp_path: Path, target: Target
) -> None:
    code, output, _ = run(
        tmp_path,
        f"""
name: socket.io malformed
steps:
  - connect: {{url: "{target.url}", protocol: socket.io}}
  - send: {{json: {{event: {target.malformed}}}}}
  - expect: {{json: {{event: anything}}, timeout: 2s}}
""",
    )
    assert code == ExitCode.FAILED, output
    assert "a malformed frame arrived on 'default': socket.io: not a Socket.IO packet:" in output
    assert f"the frame: {target.bad_frame!r}" in output
    assert "(step 3, expect on default)" in output


def test_verbose_shows_the_handshake_frames(tmp_path: Path, target: Target) -> None:
    code, output, _ = run(
        tmp_path,
        f"""
name: socket.io -v
steps:
  - connect: {{url: "{target.url}", protocol: socket.io}}
  - call: {{event: sum, args: [2, 3], expect: {{json: {{args: [5]}}}}}}
""",
        "-v",
    )
    assert code == ExitCode.OK, output
    assert "/socket.io/?EIO=4&transport=websocket (101)" in output
    assert '← received  0{"sid":' in output
    assert "→ sent      40\n" in output
    assert '← received  40{"sid":' in output
    assert '→ sent      421["sum",2,3]' in output
    assert "← received  431[5]" in output


def test_binary_attachments_and_an_ack_sent_back_to_the_server(tmp_path: Path) -> None:
    with socketio_peer() as url:
        code, output, _ = run(
            tmp_path,
            f"""
name: socket.io binary and acks
steps:
  - connect: {{url: "{url}", protocol: socket.io}}
  - call: {{event: blob, expect: {{json: {{args: [sent]}}}}}}
  - expect: {{json: {{event: blob, args: ["bytes:", {{base64: AAH+}}]}}}}
  - send: {{json: {{event: ask}}}}
  - expect: {{json: {{event: question, args: [{{q: ready?}}]}}, save: {{question: $.id}}}}
  - send: {{json: {{ack: "${{question}}", args: [yes]}}}}
  - expect: {{json: {{event: answered, args: [yes]}}}}
""",
            "-v",
        )
    assert code == ExitCode.OK, output
    assert '← received  451-["blob","bytes:",{"_placeholder":true,"num":0}]' in output
    assert re.search(r'← received  42\d+\["question",\{"q":"ready\?"\}\]', output), output
    assert re.search(r'→ sent      43\d+\["yes"\]', output), output


def test_the_codec_on_its_own() -> None:
    """The parts a scenario cannot reach easily: URLs, namespaces, encoding errors."""
    io = SocketIO(SocketIOOptions.model_validate({"namespace": "/chat", "auth": {"t": "x"}}))
    assert io.url("ws://h:1") == "ws://h:1/socket.io/?EIO=4&transport=websocket"
    assert (
        io.url("ws://h:1/app/sio/?EIO=4&x=1") == "ws://h:1/app/sio/?EIO=4&x=1&transport=websocket"
    )
    [opened] = io.decode('0{"sid":"s","pingInterval":300,"pingTimeout":200}')
    assert opened.handshake and opened.answers == ('40/chat,{"t":"x"}',)
    assert (io.ping_interval, io.ping_timeout) == (0.3, 0.2)
    [connected] = io.decode('40/chat,{"sid":"n"}')
    assert io.handshake_done(connected)
    [event] = io.decode('42/chat,["said",{"a":1}]')
    assert event.envelope == {"event": "said", "args": [{"a": 1}], "namespace": "/chat"}
    assert io.call({"event": "sum", "args": [1]}, 7) == (['42/chat,7["sum",1]'], "ack 7 on /chat")
    [ack] = io.decode("43/chat,7[1]")
    assert ack.reply_to == "ack 7 on /chat" and ack.envelope["args"] == [1]
    assert io.encode({"event": "b", "args": [{"base64": "AAE="}]}) == [
        '451-/chat,["b",{"_placeholder":true,"num":0}]',
        b"\x00\x01",
    ]
    with pytest.raises(ValueError, match=r"a socket\.io envelope to send is"):
        io.encode({"type": "say"})
    assert io.closing() == ["41/chat,"]
    [gone] = io.decode("41/chat,")  # the server disconnected the namespace
    assert gone.envelope == {"disconnect": True, "namespace": "/chat"}
    assert io.closing() == []


def test_the_readme_example_runs_and_shows_what_the_readme_says(
    tmp_path: Path, builtin: TestServer
) -> None:
    example, shown = readme_section("#### Socket.IO (`protocol: socket.io`)")
    code, output, _ = run(tmp_path, example, "-v", "--var", f"base_url={builtin.url}")
    assert code == ExitCode.OK, output
    printed = comparable(output)
    for line in comparable(shown):
        assert line in printed, line


def test_python_socketios_default_cors_wants_the_origin_with_its_port(tmp_path: Path) -> None:
    """As the README says: the default `cors_allowed_origins` refuses wsrun's `Origin` (no port)
    with 403; writing the header with the port gets through."""
    with socketio_peer(cors=None) as url:
        text = f"""
name: socket.io cors
steps:
  - connect: {{url: "{url}", protocol: socket.io, headers: HEADERS}}
  - call: {{event: sum, args: [1], expect: {{json: {{args: [1]}}}}}}
"""
        code, output, _ = run(tmp_path, text.replace("HEADERS", "{}"))
        assert code == ExitCode.FAILED, output
        assert "handshake rejected with HTTP 403" in output
        origin = url.replace("ws://", "http://")
        code, output, _ = run(tmp_path, text.replace("HEADERS", f'{{Origin: "{origin}"}}'))
        assert code == ExitCode.OK, output


def test_binary_arguments_sent_as_attachments_come_back(
    tmp_path: Path, builtin: TestServer
) -> None:
    code, output, _ = run(
        tmp_path,
        f"""
name: socket.io binary round trip
steps:
  - connect: {{url: "{builtin.url}", protocol: socket.io}}
  - call:
      event: echo
      args: [{{base64: AAH+}}, {{nested: [{{base64: /w==}}]}}]
      expect: {{json: {{args: [{{base64: AAH+}}, {{nested: [{{base64: /w==}}]}}]}}}}
""",
        "-v",
    )
    assert code == ExitCode.OK, output
    sent = '452-1["echo",{"_placeholder":true,"num":0},{"nested":[{"_placeholder":true,"num":1}]}]'
    assert f"→ sent      {sent}" in output
    assert "→ sent      <3 bytes> 00 01 fe ⇒" in output and "→ sent      <1 bytes> ff ⇒" in output
    echoed = '462-1[{"_placeholder":true,"num":0},{"nested":[{"_placeholder":true,"num":1}]}]'
    assert f"← received  {echoed}" in output  # python-socketio acks with binary attachments (46)
    assert "← received  <1 bytes> ff ⇒" in output
