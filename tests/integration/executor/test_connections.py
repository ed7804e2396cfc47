"""Issue 16 on connections: auto-replies, keepalive, handshake checks and fail_on_unexpected."""

from __future__ import annotations

import threading
from io import StringIO
from pathlib import Path

import jsonschema
import pytest
from rich.console import Console

from runner.errors import ScenarioErrors
from runner.events import AutoReplied, ErrorOccurred, Event, HandshakeRefused, Status
from runner.report.console import QUIET, ConsoleReporter
from runner.report.json_report import JsonReporter
from runner.report.report_schema import report_json_schema
from runner.scenario import load_suite
from runner.server import TestServer
from tests.integration.executor.test_executor import ended, run
from tests.rawpeer import OP_PING, RawPeer
from tests.support import timeout

PINGER = """
name: pinger
reply:
  - when: {text: "2"}
    send: "3"
steps:
  - connect:
      url: "${url}/pinger?count=2"
      reply:
        - when: {json: {type: ping}, save: {pid: $.id}}
          send: {json: {type: pong, id: "${pid}"}}
  - expect: {json: {type: done, pongs: 4}}
"""


def test_reply_rules_answer_pings_and_keep_them_from_the_steps(tmp_path: Path) -> None:
    with TestServer() as server:
        status, events = run(tmp_path, {"p.yaml": PINGER}, {"url": server.url})
    result = ended(events)["pinger"]
    assert status is Status.PASSED, result.failure
    replies = [(e.received, e.sent, e.rule) for e in events if isinstance(e, AutoReplied)]
    assert replies == [
        ("2", "3", 1),
        ('{"type":"ping","id":1}', '{"type":"pong","id":1}', 0),
        ("2", "3", 1),
        ('{"type":"ping","id":2}', '{"type":"pong","id":2}', 0),
    ]
    assert result.unexpected == ()


def test_without_a_reply_rule_the_ping_stays_and_the_server_gives_up(tmp_path: Path) -> None:
    text = PINGER.replace('send: "3"', 'send: "4"')
    with TestServer() as server:
        status, events = run(tmp_path, {"p.yaml": text}, {"url": server.url})
    failure = ended(events)["pinger"].failure
    assert status is Status.FAILED and failure is not None
    assert failure.message.startswith("the connection 'default' closed before a matching message")
    assert "1008" in failure.message
    assert [(e.received, e.sent) for e in events if isinstance(e, AutoReplied)] == [("2", "4")]


def test_a_reply_naming_an_unknown_variable_fails_the_connect(tmp_path: Path) -> None:
    text = PINGER.replace('id: "${pid}"', 'id: "${pidd}"')
    with TestServer() as server:
        status, events = run(tmp_path, {"p.yaml": text}, {"url": server.url})
    failure = ended(events)["pinger"].failure
    assert status is Status.FAILED and failure is not None
    assert failure.message == (
        "reply 0: send uses unknown variable 'pidd' (neither the scenario's nor saved by its when)"
    )
    assert failure.kind == "connect"


LEFTOVER = """
name: leftover
fail_on_unexpected: {flag}
steps:
  - connect: "${{url}}/echo"
  - send: one
  - send: two
  - expect: two
"""


@pytest.mark.parametrize("flag", ["true", "false"])
def test_fail_on_unexpected_fails_a_scenario_that_left_messages(tmp_path: Path, flag: str) -> None:
    with TestServer() as server:
        status, events = run(tmp_path, {"l.yaml": LEFTOVER.format(flag=flag)}, {"url": server.url})
    result = ended(events)["leftover"]
    assert [u.data for u in result.unexpected] == ["one"]
    if flag == "false":
        assert status is Status.PASSED and result.failure is None
        return
    assert status is Status.FAILED and result.failure is not None
    assert result.failure.message == "1 message was left unexpected on default (fail_on_unexpected)"
    assert result.failure.closest == "one"


def test_fail_on_unexpected_passes_when_every_message_was_taken(tmp_path: Path) -> None:
    text = LEFTOVER.format(flag="true").replace("expect: two", "expect: one\n  - expect: two")
    with TestServer() as server:
        status, events = run(tmp_path, {"l.yaml": text}, {"url": server.url})
    assert status is Status.PASSED, ended(events)["leftover"].failure


HANDSHAKE = """
name: handshake
steps:
  - connect:
      url: "${url}/subprotocol"
      subprotocols: [chat.v2]
      expect_subprotocol: chat.v2
      expect_headers: {Server: "{{regex:websockets}}", UPGRADE: websocket}
      save: {accept: Sec-WebSocket-Accept}
  - expect: {json: {type: subprotocol, selected: chat.v2}}
  - send: "${accept}"
  - expect: {regex: "^[A-Za-z0-9+/]{27}=$"}
"""


def test_handshake_checks_and_header_saves(tmp_path: Path) -> None:
    with TestServer() as server:
        status, events = run(tmp_path, {"h.yaml": HANDSHAKE}, {"url": server.url})
    assert status is Status.PASSED, ended(events)["handshake"].failure


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            ("UPGRADE: websocket", "x-request-id: '{{any}}'"),
            "the handshake's response header x-request-id is missing",
        ),
        (("{{regex:websockets}}", "nginx"), "the handshake's response header server is "),
        (
            ("expect_subprotocol: chat.v2", "expect_subprotocol: chat.v1"),
            "expected the server to choose the subprotocol 'chat.v1', it chose 'chat.v2'",
        ),
        (
            ("Sec-WebSocket-Accept}", "X-Nope}"),
            "save accept: the handshake's response has no header x-nope",
        ),
    ],
)
def test_handshake_checks_fail_with_the_headers_shown(
    tmp_path: Path, change: tuple[str, str], message: str
) -> None:
    with TestServer() as server:
        text = HANDSHAKE.replace(*change)
        status, events = run(tmp_path, {"h.yaml": text}, {"url": server.url})
    failure = ended(events)["handshake"].failure
    assert status is Status.FAILED and failure is not None
    assert failure.message.startswith(message), failure.message
    assert failure.step == 0 and isinstance(failure.closest, str)
    assert "sec-websocket-accept: " in failure.closest


REFUSAL = """
name: refusal
steps:
  - connect:
      url: "${url}/auth"
      expect_status: 401
      expect_body: {regex: "^missing token"}
      expect_headers: {www-authenticate: "{{regex:^Bearer}}"}
"""


def test_an_expected_refusal_checks_body_and_headers_and_is_no_error(tmp_path: Path) -> None:
    with TestServer() as server:
        status, events = run(tmp_path, {"r.yaml": REFUSAL}, {"url": server.url})
    assert status is Status.PASSED, ended(events)["refusal"].failure
    refused = [e for e in events if isinstance(e, HandshakeRefused)]
    assert [(e.conn, e.status) for e in refused] == [("default", 401)]
    assert not [e for e in events if isinstance(e, ErrorOccurred)]
    assert "(HTTP 401, as expected)" in _console(events)


def test_a_refusal_with_another_body_fails(tmp_path: Path) -> None:
    text = REFUSAL.replace("^missing token", "^bad password")
    with TestServer() as server:
        status, events = run(tmp_path, {"r.yaml": text}, {"url": server.url})
    failure = ended(events)["refusal"].failure
    assert status is Status.FAILED and failure is not None
    assert failure.message == "the body of the refusal (HTTP 401) did not match"
    assert failure.expected == "text matching /^bad password/"
    assert isinstance(failure.closest, str) and failure.closest.startswith("missing token")


def test_keepalive_sends_pings_and_a_missing_pong_loses_the_link(tmp_path: Path) -> None:
    text = """
name: keepalive
steps:
  - connect: {url: "${url}", keepalive: {interval: 50ms, timeout: 100ms}}
  - expect_close: {code: 1006, timeout: 3s}
"""
    frames: list[int] = []
    with RawPeer() as peer:

        def serve() -> None:
            conn = peer.accept()
            frames.append(conn.recv_frame(timeout()).opcode)  # never answered

        thread = threading.Thread(target=serve)
        thread.start()
        status, events = run(tmp_path, {"k.yaml": text}, {"url": peer.url})
        thread.join(timeout())
    assert frames == [OP_PING]
    assert status is Status.PASSED, ended(events)["keepalive"].failure
    errors = [e.message for e in events if isinstance(e, ErrorOccurred)]
    assert errors == ["connection lost: no pong within 0.1s"]


def test_console_shows_auto_replies_except_under_quiet(tmp_path: Path) -> None:
    with TestServer() as server:
        _, events = run(tmp_path, {"p.yaml": PINGER}, {"url": server.url})
    assert 'default  · replied   {"type":"ping","id":1} ↺ {"type":"pong","id":1}' in (
        _console(events)
    )
    assert "replied" not in _console(events, QUIET)


def _console(events: list[Event], verbosity: int = 0) -> str:
    out = StringIO()
    reporter = ConsoleReporter(Console(file=out, width=120, color_system=None), verbosity)
    for event in events:
        reporter(event)
    return out.getvalue()


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("reply:\n  - when: {text: '2'}\n", 2, "send"),
        ("reply:\n  - when: {text: '2'}\n    send: '3'\n    sned: x\n", 4, "sned"),
        ("reply:\n  - when: {text: '2', save: {x: nope}}\n    send: '3'\n", 2, "nope"),
        ("reply:\n  - send: '3'\n    when: {}\n", 3, "expected at least one matcher"),
    ],
)
def test_validate_rejects_bad_reply_rules_at_their_line(
    tmp_path: Path, text: str, line: int, message: str
) -> None:
    (tmp_path / "b.yaml").write_text(text + "steps:\n  - connect: ws://x\n", encoding="utf-8")
    with pytest.raises(ScenarioErrors) as caught:
        load_suite([str(tmp_path)])
    [error] = caught.value.errors
    assert error.location is not None and error.location.line == line, str(error)
    assert message in str(error)


def test_validate_rejects_expect_body_without_a_refusal(tmp_path: Path) -> None:
    text = "steps:\n  - connect:\n      url: ws://x\n      expect_body: {text: hi}\n"
    (tmp_path / "b.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(ScenarioErrors) as caught:
        load_suite([str(tmp_path)])
    [error] = caught.value.errors
    assert "expect_body needs expect_status" in str(error) and error.location is not None
    assert error.location.line == 3  # the step's first key


def test_the_json_report_has_the_new_events_and_validates(tmp_path: Path) -> None:
    with TestServer() as server:
        _, events = run(tmp_path, {"p.yaml": PINGER, "r.yaml": REFUSAL}, {"url": server.url})
    reporter = JsonReporter(tmp_path / "report.json")
    for event in events:
        reporter(event)
    report = reporter.report()
    jsonschema.validate(report, report_json_schema())
    types = [e["type"] for e in report["events"]]
    assert types.count("auto_replied") == 4 and types.count("handshake_refused") == 1
    first = next(e for e in report["events"] if e["type"] == "auto_replied")
    assert (first["received"], first["sent"], first["rule"]) == ("2", "3", 1)
    broken = dict(first, rule="one")
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(dict(report, events=[broken]), report_json_schema())
