"""The protocol seam (runner/protocols): the registry, load-time checks, and a connection's
life with a protocol, end to end through the CLI against a real server on loopback that speaks
the small line protocol of `seam_protocol` (handshake, heartbeats both ways, calls, envelopes,
closing frames, malformed frames).
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import time
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from runner.cli import ExitCode, main
from runner.protocols import registry
from runner.scenario.schema import scenario_json_schema
from tests.protocols.seam_protocol import SeamServer
from tests.support import timeout, url_of, websockets_server

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def seam_registered(monkeypatch: pytest.MonkeyPatch) -> None:
    """`seam` as if a plugin registered it (the plugin test installs a real one)."""
    monkeypatch.setattr(registry, "_plugins", {"seam": "tests.protocols.seam_protocol:Seam"})
    monkeypatch.setattr(registry, "_loaded", {})


def run(tmp_path: Path, text: str, *extra: str) -> tuple[int, str, dict[str, Any]]:
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(text, encoding="utf-8")
    report = tmp_path / "report.json"
    console = Console(file=StringIO(), width=250, color_system=None)
    code = main([str(scenario), "--json-report", str(report), *extra], console=console)
    output = console.file.getvalue()  # type: ignore[attr-defined]
    data = json.loads(report.read_text(encoding="utf-8")) if report.exists() else {}
    return code, output, data


def validate(tmp_path: Path, text: str) -> tuple[int, str]:
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(text, encoding="utf-8")
    console = Console(file=StringIO(), width=250, color_system=None)
    code = main(["validate", str(scenario)], console=console)
    return code, console.file.getvalue()  # type: ignore[attr-defined]


def test_a_connection_lives_its_protocol(tmp_path: Path) -> None:
    server = SeamServer(beat=True)
    with websockets_server(server.handler(), subprotocols=["seam.v1"]) as ws:
        code, output, report = run(
            tmp_path,
            f"""
name: seam
timeout: 2s
steps:
  - connect:
      url: "{url_of(ws, "")}"
      protocol: seam
      protocol_options: {{user: alice, ping: 100ms}}
      expect_subprotocol: seam.v1
  - call: {{text: hello, expect: {{json: {{reply: HELLO}}}}, save: {{up: $.reply}}}}
  - expect: {{json: {{msg: working on 1}}}}
  - send: {{json: {{say: "${{up}} again"}}}}
  - expect: {{json: {{msg: HELLO again}}}}
  - sleep: 350ms
  - close
""",
        )
        assert server.closed.wait(timeout(5))
    assert code == ExitCode.OK, output
    received = [str(m) for m in server.received]
    assert received[0] == "HELLO alice"  # the opening, first
    assert received.count("BEAT-ACK") == 1  # the answer to BEAT, sent at once
    assert "CALL 1 hello" in received and "SAY HELLO again" in received
    assert 2 <= received.count("PING") <= 5  # every 100 ms while open (350 ms of sleep)
    assert received[-1] == "BYE"  # the closing frame, before the close
    assert "BEAT" not in output.replace("BEAT-ACK", "")  # heartbeats: -v only
    assert "PING" not in output
    assert '← received  {"msg": "working on 1"}' in output  # the envelope, at normal verbosity
    beats = [e for e in report["events"] if e["type"] == "frame_received" and e["heartbeat"]]
    assert [e["data"] for e in beats] == ["BEAT"]  # in the report all the same


def test_verbose_shows_heartbeats_with_frame_and_envelope(tmp_path: Path) -> None:
    server = SeamServer(beat=True)
    with websockets_server(server.handler()) as ws:
        code, output, _ = run(
            tmp_path,
            f"""
name: seam -v
steps:
  - connect: {{url: "{url_of(ws, "")}", protocol: seam, protocol_options: {{user: bob}}}}
  - call: {{text: x}}
""",
            "-v",
        )
    assert code == ExitCode.OK, output
    assert '← received  BEAT ⇒ {"beat": true}' in output
    assert "→ sent      BEAT-ACK" in output
    assert '← received  REPLY 1 X ⇒ {"reply": "X"}' in output


@pytest.mark.parametrize(
    ("welcome", "why"),
    [
        (
            "DENIED bad user",
            "the seam handshake on 'default' failed: the server said DENIED bad user",
        ),
        ("", "the seam handshake on 'default' failed: no seam handshake answer in time"),
        (
            "HUH",
            "the seam handshake on 'default' failed: malformed frame during the handshake: "
            "unknown word 'HUH'; the frame: 'HUH'",
        ),
    ],
    ids=["refused", "no answer", "malformed"],
)
def test_a_failed_handshake_fails_connect_with_its_cause(
    tmp_path: Path, welcome: str, why: str
) -> None:
    server = SeamServer(welcome=welcome)
    with websockets_server(server.handler()) as ws:
        code, output, _ = run(
            tmp_path,
            f"""
name: refused
steps:
  - connect:
      url: "{url_of(ws, "")}"
      protocol: seam
      protocol_options: {{user: eve}}
      timeout: 300ms
  - call: {{text: x}}
""",
        )
    assert code == ExitCode.FAILED, output
    assert why in output
    assert "1/2 steps" not in output and "0/2 steps" in output


def test_a_malformed_frame_and_an_unsendable_envelope_fail_their_step(tmp_path: Path) -> None:
    server = SeamServer()
    with websockets_server(server.handler()) as ws:
        url = url_of(ws, "")
        code, output, _ = run(
            tmp_path,
            f"""
name: malformed
steps:
  - connect: {{url: "{url}", protocol: seam, protocol_options: {{user: a}}}}
  - send: {{json: {{say: garbage}}}}
  - call: {{text: x, timeout: 3s}}
""",
        )
        assert code == ExitCode.FAILED, output
        assert (
            "a malformed frame arrived on 'default' while the seam call waited: seam: unknown "
            "word '???'; the frame: '???'" in output
        )
        code, output, _ = run(
            tmp_path,
            f"""
name: unsendable
steps:
  - connect: {{url: "{url}", protocol: seam, protocol_options: {{user: a}}}}
  - send: {{json: {{shout: x}}}}
""",
        )
    assert code == ExitCode.FAILED, output
    assert "cannot send on 'default': seam: expected {say: text}, found {'shout': 'x'}" in output


def test_poll_sends_envelopes_encoded_on_a_protocol_connection(tmp_path: Path) -> None:
    server = SeamServer()
    with websockets_server(server.handler()) as ws:
        code, output, _ = run(
            tmp_path,
            f"""
name: poll
steps:
  - connect: {{url: "{url_of(ws, "")}", protocol: seam, protocol_options: {{user: a}}}}
  - poll: {{send: {{json: {{say: tick}}}}, until: {{json: {{msg: tick}}}}, every: 50ms}}
""",
        )
    assert code == ExitCode.OK, output
    assert "SAY tick" in [str(m) for m in server.received]


def test_a_call_timeout_shows_the_request_and_what_arrived(tmp_path: Path) -> None:
    server = SeamServer()
    with websockets_server(server.handler()) as ws:
        start = time.monotonic()
        code, output, _ = run(
            tmp_path,
            f"""
name: timeout
steps:
  - connect: {{url: "{url_of(ws, "")}", protocol: seam, protocol_options: {{user: a}}}}
  - call: {{text: never, timeout: 200ms}}
""",
        )
    assert code == ExitCode.FAILED, output
    assert time.monotonic() - start < timeout(3)
    assert (
        """no reply to the seam call {"text":"never"} on 'default' within 0.2""" in output
        and 'arrived meanwhile: {"msg":"working on 1"}' in output
    )


# -- load time -----------------------------------------------------------------------------


def test_protocol_names_and_options_are_checked_at_load_time(tmp_path: Path) -> None:
    code, output = validate(
        tmp_path,
        """
name: bad
steps:
  - connect: {url: "ws://h/", protocol: sea}
  - connect: {url: "ws://h/", conn: b, protocol: seam, protocol_options: {user: 3}}
  - connect: {url: "ws://h/", conn: c, protocol_options: {user: x}}
  - connect: {url: "ws://h/", conn: d, protocol: seam, protocol_options: {usr: x}}
""",
    )
    assert code == ExitCode.USAGE
    assert (
        "scenario.yaml:4:41: unknown protocol 'sea' (known: socket.io, graphql-ws, mqtt, stomp, "
        "json-rpc, seam); did you mean 'seam'?" in output
    )
    assert "scenario.yaml:5:81: wrong type for 'user'" in output
    assert "protocol_options needs protocol: the protocol they are for" in output
    assert (
        "scenario.yaml:7:80: seam has no option 'usr' (its options: user, ping); did you mean "
        "'user'?" in output
    )


def test_a_call_is_checked_against_its_connection_at_load_time(tmp_path: Path) -> None:
    code, output = validate(
        tmp_path,
        """
name: bad calls
steps:
  - connect: {url: "ws://h/", conn: raw}
  - call: {text: x, conn: raw}
  - connect: {url: "ws://h/", conn: s, protocol: seam, protocol_options: {user: u}}
  - call: {conn: s, text: 3, louder: true}
""",
    )
    assert code == ExitCode.USAGE
    assert "scenario.yaml:5:5: call on connection 'raw', which speaks no protocol" in output
    assert "scenario.yaml:7:27: wrong type for 'text'" in output
    assert "scenario.yaml:7:30: unknown key 'louder'" in output


def test_the_schema_shows_each_builtin_protocols_options() -> None:
    connect = scenario_json_schema()["$defs"]["ConnectStep"]
    assert connect["properties"]["protocol"]["anyOf"][0]["enum"] == list(registry.BUILTIN)
    branches = {b["if"]["properties"]["protocol"]["const"]: b["then"] for b in connect["allOf"]}
    options = branches["json-rpc"]["properties"]["protocol_options"]
    assert set(options["properties"]) == {"strict"} and options["additionalProperties"] is False


# -- imports ---------------------------------------------------------------------------------


def test_a_run_without_a_protocol_imports_no_protocol_module(tmp_path: Path) -> None:
    scenario = tmp_path / "plain.yaml"
    scenario.write_text("name: plain\nsteps:\n  - connect: ws://127.0.0.1:1/\n", encoding="utf-8")
    probe = (
        "import sys\nfrom runner.cli import main\nmain(['run', sys.argv[1], '-q'])\n"
        "main(['validate', sys.argv[1]])\n"
        "print(sorted(m for m in sys.modules if m.startswith('runner.protocols')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, str(scenario)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout(30),
    )
    assert done.stdout.strip().splitlines()[-1] == "[]", done.stdout + done.stderr


@pytest.mark.parametrize("path", sorted((ROOT / "runner" / "protocols").glob("*.py")), ids=str)
def test_protocols_know_only_the_language_and_the_errors(path: Path) -> None:
    allowed = ("runner.protocols", "runner.errors", "runner.scenario.fields", "runner.matching")
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("runner"):
            assert node.module.startswith(allowed), f"{path.name} imports {node.module}"


def test_a_loop_may_hold_every_kind_those_defined_after_it_too(tmp_path: Path) -> None:
    code, output = validate(
        tmp_path,
        """
name: loops
steps:
  - connect: {url: "ws://h/", protocol: seam, protocol_options: {user: u}}
  - repeat:
      count: 2
      steps:
        - http: http://127.0.0.1:1/
        - call: {text: x}
""",
    )
    assert code == ExitCode.OK, output


def test_a_close_step_accepts_the_close_the_protocols_goodbye_brings(tmp_path: Path) -> None:
    """The server closes at once on the closing frame (an MQTT broker on DISCONNECT, RabbitMQ
    after a STOMP DISCONNECT): the close step passes, and says the server closed."""
    for _ in range(5):  # the server's close races the client's: each order, likely
        server = SeamServer(bye_closes=True)
        with websockets_server(server.handler()) as ws:
            code, output, report = run(
                tmp_path,
                f"""
name: goodbye
timeout: 2s
steps:
  - connect: {{url: "{url_of(ws, "")}", protocol: seam, protocol_options: {{user: bob}}}}
  - close
""",
            )
        assert code == ExitCode.OK, output
        assert "already closing" not in output
        assert [str(m) for m in server.received][-1] == "BYE"
        closes = [e for e in report["events"] if e["type"] == "connection_closed"]
        assert [(e["code"], e["was_clean"]) for e in closes] == [(1000, True)]


def test_a_refusal_the_protocol_decodes_fails_the_call_with_its_words(tmp_path: Path) -> None:
    server = SeamServer()
    with websockets_server(server.handler()) as ws:
        code, output, _ = run(
            tmp_path,
            f"""
name: refused
timeout: 2s
steps:
  - connect: {{url: "{url_of(ws, "")}", protocol: seam, protocol_options: {{user: bob}}}}
  - call: {{text: nope}}
""",
        )
    assert code == ExitCode.FAILED, output
    assert "the server refused the seam call" in output, output
    assert "the server said no: no 1 for you" in output
    assert "malformed" not in output and "codec failed" not in output
