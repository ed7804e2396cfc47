"""`protocol: stomp` end to end, through the CLI (`runner.cli.main`, in-process), against two
brokers: a real, independent stomp-broker-js (tests/protocols/peers_stomp.py) and the built-in
server's `/stomp`. Both on loopback, port 0.

Each test checks what the console or the JSON report shows: CONNECTED and an ERROR refusing the
login, heart-beats (the brokers close a client that sends none; wsrun's keep the connection open
and are hidden unless -v), `call` and its timeout, an ERROR naming the call's receipt, and
malformed frames.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from io import StringIO
from pathlib import Path

import pytest
from rich.console import Console
from websockets.sync.server import ServerConnection

from runner.cli import ExitCode, main
from runner.server.running import TestServer
from tests.protocols.peers_stomp import rabbitmq_peer, stomp_peer
from tests.protocols.running import comparable, readme_section, run
from tests.support import timeout, url_of, websockets_server


@dataclass(frozen=True)
class Broker:
    """A broker under test: a connect step's URL and protocol options there."""

    name: str
    url: str
    options: str = "{}"


RABBIT_OPTIONS = "{login: guest, passcode: guest, host: /}"
#: Requests a broker never sends a RECEIPT for.
PEER_SILENT = 'command: SUBSCRIBE, headers: {id: "9", destination: /queue/any}'
BUILTIN_SILENT = "command: SEND, headers: {destination: /queue/silent}, body: x"


@pytest.fixture(scope="module")
def builtin() -> Iterator[TestServer]:
    server = TestServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def rabbitmq() -> Iterator[str]:
    with rabbitmq_peer() as url:
        yield url


@pytest.fixture(params=["rabbitmq", "built-in"])
def broker(request: pytest.FixtureRequest, builtin: TestServer) -> Broker:
    if request.param == "built-in":
        return Broker("built-in", f"{builtin.url}/stomp")
    return Broker("rabbitmq", request.getfixturevalue("rabbitmq"), RABBIT_OPTIONS)


def test_subscribe_send_with_a_receipt_and_a_json_message(tmp_path: Path, broker: Broker) -> None:
    code, output, report = run(
        tmp_path,
        f"""
name: stomp round trip
steps:
  - connect: {{conn: sub, url: "{broker.url}", protocol: stomp, protocol_options: {broker.options}}}
  - call: {{conn: sub, command: SUBSCRIBE, headers: {{id: "0", destination: /queue/readings}}}}
  - connect: {{conn: pub, url: "{broker.url}", protocol: stomp, protocol_options: {broker.options}}}
  - call:
      conn: pub
      command: SEND
      headers: {{destination: /queue/readings, reading: kitchen}}
      body: {{temp: 21.5}}
      expect: {{json: {{command: RECEIPT, headers: {{receipt-id: wsrun-1}}}}}}
  - expect:
      conn: sub
      json:
        command: MESSAGE
        headers: {{destination: /queue/readings, subscription: "0", reading: kitchen}}
        body: {{temp: 21.5}}
""",
    )
    assert code == ExitCode.OK, output
    assert "✓ PASSED stomp round trip" in output
    opened = [e for e in report["events"] if e["type"] == "connection_opened"]
    assert {e["protocol"] for e in opened} == {"v12.stomp"}, opened
    connected = next(
        e["envelopes"][0]
        for e in report["events"]
        if e["type"] == "frame_received" and e["envelopes"]
    )
    assert connected["command"] == "CONNECTED"
    sent = [e["data"] for e in report["events"] if e["type"] == "frame_sent"]
    host = "/" if broker.name == "rabbitmq" else "127.0.0.1"  # the URL's, by default
    assert sent[0].startswith(f"CONNECT\naccept-version:1.2,1.1\nhost:{host}\n"), sent[0]


def test_an_error_refusing_the_login_fails_connect(
    tmp_path: Path, builtin: TestServer, rabbitmq: str
) -> None:
    with stomp_peer("alice", "s3cret") as peer:
        cases = [
            (rabbitmq, "guest", "/", "Bad CONNECT: Access refused for user 'guest'"),
            (peer, "s3cret", "x", "CONNECTION ERROR: CONNECTION ERROR"),
            (
                f"{builtin.url}/stomp?login=alice&passcode=s3cret",
                "s3cret",
                "x",
                "bad login: login or passcode is wrong",
            ),
        ]
        for url, passcode, host, message in cases:
            login = "guest" if url == rabbitmq else "alice"
            scenario = f"""
name: stomp login
steps:
  - connect:
      url: "{url}"
      protocol: stomp
      protocol_options: {{login: {login}, passcode: PASSCODE, host: "{host}"}}
"""
            code, output, _ = run(tmp_path, scenario.replace("PASSCODE", "wrong"))
            assert code == ExitCode.FAILED, output
            assert f"the broker refused the connection: {message}" in output, output
            assert "(step 1, connect on default)" in output
            code, output, _ = run(tmp_path, scenario.replace("PASSCODE", passcode))
            assert code == ExitCode.OK, output


@pytest.fixture(params=["rabbitmq", "stomp-broker-js", "built-in"])
def beating(request: pytest.FixtureRequest, builtin: TestServer) -> Iterator[Broker]:
    """A broker that wants the client's heart-beats every 200 ms (and closes a silent one:
    stomp-broker-js and the built-in do; RabbitMQ wants them too)."""
    if request.param == "built-in":
        yield Broker("built-in", f"{builtin.url}/stomp?heart_beat=200,200")
    elif request.param == "rabbitmq":
        yield Broker("rabbitmq", request.getfixturevalue("rabbitmq"), RABBIT_OPTIONS)
    else:
        with stomp_peer(heartbeat="0,200") as url:
            yield Broker("stomp-broker-js", url)


#: A call each broker answers: stomp-broker-js answers the receipt of a DISCONNECT only.
STILL_OPEN = "command: SEND, headers: {destination: /queue/still-open}, body: yes"
PEER_STILL_OPEN = "command: DISCONNECT, headers: {receipt: bye}"


def test_heart_beats_keep_the_connection_and_are_hidden_unless_verbose(
    tmp_path: Path, beating: Broker
) -> None:
    options = beating.options.rstrip("}").rstrip() + ", heart_beat: [200ms, 200ms]}"
    options = options.replace("{,", "{")
    check = PEER_STILL_OPEN if beating.name == "stomp-broker-js" else STILL_OPEN
    scenario = f"""
name: stomp heart-beats
steps:
  - connect: {{url: "{beating.url}", protocol: stomp, protocol_options: {options}}}
  - sleep: 1s
  - call: {{{check}}}
"""
    code, output, report = run(tmp_path, scenario)
    assert code == ExitCode.OK, output
    beats = [e for e in report["events"] if e["type"] == "frame_sent" and e["data"] == "\n"]
    connected = next(e for e in report["events"] if e["type"] == "frame_received")
    offered = int(connected["envelopes"][0]["headers"]["heart-beat"].split(",")[1])
    every = max(200, offered) / 1000  # STOMP 1.2: max(cx, sy); RabbitMQ wants 1 s at least
    assert len(beats) >= max(1, round(1 / every) - 1), (every, beats)  # one per interval
    assert "heartbeat" not in output, "heart-beats are hidden without -v"
    if beating.name == "built-in":  # it sends its own every 200 ms too
        got = [e for e in report["events"] if e["type"] == "frame_received" and e["heartbeat"]]
        assert len(got) >= 3, got
        code, output, _ = run(tmp_path, scenario, "-v")
        assert code == ExitCode.OK, output
        assert re.search(r"← received .*\{\"heartbeat\": true\}", output), output
        assert re.search(r"→ sent .*\\n", output), output


@pytest.mark.parametrize("name", ["stomp-broker-js", "built-in"])
def test_without_heart_beats_the_broker_closes_the_connection(
    tmp_path: Path, builtin: TestServer, name: str
) -> None:
    """The control: a raw connection promising heart-beats and sending none is closed."""
    with contextlib.ExitStack() as stack:
        if name == "built-in":
            url = f"{builtin.url}/stomp?heart_beat=200,200"
        else:
            url = stack.enter_context(stomp_peer(heartbeat="0,200"))
        code, output, _ = run(
            tmp_path,
            f"""
name: stomp silent
steps:
  - connect: {{url: "{url}", subprotocols: [v12.stomp]}}
  - send: {{text: "CONNECT\\naccept-version:1.2,1.1\\nhost:x\\nheart-beat:200,0\\n\\n\\u0000"}}
  - expect: {{regex: "^CONNECTED"}}
  - expect_close: {{timeout: 3s}}
""",
        )
    assert code == ExitCode.OK, output


@pytest.mark.parametrize("name", ["stomp-broker-js", "built-in"])
def test_call_timeout_says_what_it_waited_for(
    tmp_path: Path, builtin: TestServer, name: str
) -> None:
    """stomp-broker-js never answers a SUBSCRIBE's receipt; the built-in, /queue/silent's."""
    with contextlib.ExitStack() as stack:
        if name == "built-in":
            url, silent = f"{builtin.url}/stomp", BUILTIN_SILENT
        else:
            url, silent = stack.enter_context(stomp_peer()), PEER_SILENT
        code, output, _ = run(
            tmp_path,
            f"""
name: stomp call timeout
steps:
  - connect: {{url: "{url}", protocol: stomp}}
  - call: {{timeout: 300ms, {silent}}}
""",
        )
    assert code == ExitCode.FAILED, output
    assert "(step 2, call on default)" in output
    assert re.search(r"no reply to the stomp call \{.*\} on 'default' within 0\.3\d\ds", output), (
        output
    )
    assert "expected: the stomp reply receipt:wsrun-1" in output, output


def test_an_error_answering_the_call_fails_it(tmp_path: Path, broker: Broker) -> None:
    """The built-in names the call's receipt in its ERROR; RabbitMQ names none."""
    code, output, _ = run(
        tmp_path,
        f"""
name: stomp error
steps:
  - connect: {{url: "{broker.url}", protocol: stomp, protocol_options: {broker.options}}}
  - call: {{command: SEND, headers: {{destination: /nowhere}}, body: x}}
""",
    )
    assert code == ExitCode.FAILED, output
    message = {
        "built-in": "unknown destination: /nowhere is under neither /queue/ nor /topic/",
        "rabbitmq": "Unknown destination: '/nowhere' is not a valid destination.",
    }[broker.name]
    assert f"the broker answered with ERROR: {message}" in output, output
    assert "(step 2, call on default)" in output


@pytest.mark.parametrize(
    ("frame", "why"),
    [
        (
            "MESSAGE\nsubscription:0\nno colon here\n\nx\x00",
            "MESSAGE has a header line without a colon: 'no colon here'",
        ),
        (
            "BOGUS\n\n\x00",
            "unknown command 'BOGUS'; expected one of CONNECTED, ERROR, MESSAGE, RECEIPT",
        ),
        ("MESSAGE\nk:a\\tb\n\n\x00", "MESSAGE has the undefined escape \\t in a header"),
        (
            "MESSAGE\ncontent-length:1\n\nab\x00",
            "MESSAGE's body of content-length 1 is not followed by NUL",
        ),
        (
            "MESSAGE\ncontent-type:application/json\n\n{not json\x00",
            "MESSAGE's body is not the JSON its content-type says",
        ),
    ],
)
def test_a_malformed_frame_fails_the_waiting_step(tmp_path: Path, frame: str, why: str) -> None:
    def handler(conn: ServerConnection) -> None:
        conn.recv(timeout(5))  # CONNECT
        conn.send("CONNECTED\nversion:1.2\n\n\x00")
        conn.send(frame)
        for _ in conn:
            pass

    with websockets_server(handler, subprotocols=["v12.stomp"]) as server:
        code, output, _ = run(
            tmp_path,
            f"""
name: stomp malformed
steps:
  - connect: {{url: "{url_of(server)}", protocol: stomp}}
  - expect: {{json: {{command: MESSAGE}}, timeout: 5s}}
""",
        )
    assert code == ExitCode.FAILED, output
    assert f"malformed STOMP frame: {why}" in output, output
    assert "(step 2, expect on default)" in output


def test_options_are_checked_when_the_file_loads(tmp_path: Path) -> None:
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(
        """
name: stomp bad options
steps:
  - connect: {url: "ws://127.0.0.1:1/stomp", protocol: stomp, protocol_options: {heart_beat: [1s]}}
""",
        encoding="utf-8",
    )
    console = Console(file=StringIO(), width=250, color_system=None)
    code = main(["validate", str(scenario)], console=console)
    output = console.file.getvalue()  # type: ignore[attr-defined]
    assert code != ExitCode.OK
    assert "heart_beat is [outgoing, incoming], two durations; found [1.0]" in output, output


def test_the_readme_example_runs_and_shows_what_the_readme_says(tmp_path: Path) -> None:
    example, shown = readme_section("#### STOMP (`protocol: stomp`)")
    with TestServer() as server:  # a broker of its own: its message ids start at 1
        code, output, _ = run(tmp_path, example, "-v", "--var", f"base_url={server.url}")
    assert code == ExitCode.OK, output
    printed = comparable(output)
    for line in comparable(shown):
        assert line in printed, line
