"""connect's compression, expect_extensions and tls.min_version, against the built-in server with
and without permessage-deflate."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.events import Status
from runner.scenario import validate_paths
from runner.server import TestServer
from tests.integration.executor.test_executor import ended, run


def scenario(*steps: str) -> str:
    return "\n".join(["name: c", "steps:", *(f"  - {step}" for step in steps)]) + "\n"


def go(tmp_path: Path, text: str, *, compression: bool) -> tuple[Status, str | None, str | None]:
    with TestServer(port=0, compression=compression) as server:
        status, events = run(tmp_path, {"c.yaml": text}, {"url": server.url})
    failure = ended(events)["c"].failure
    return status, failure.message if failure else None, failure.expected if failure else None


COMPRESSED = scenario(
    'connect: {url: "${url}/echo", compression: deflate, expect_extensions: [permessage-deflate]}',
    "send: {json: {text: hello hello hello hello hello}}",
    "expect: {json: {text: hello hello hello hello hello}}",
)


def test_a_server_that_agrees_compresses_and_the_step_passes(tmp_path: Path) -> None:
    assert go(tmp_path, COMPRESSED, compression=True) == (Status.PASSED, None, None)


def test_a_server_that_does_not_agree_fails_expect_extensions(tmp_path: Path) -> None:
    status, message, expected = go(tmp_path, COMPRESSED, compression=False)
    assert status is Status.FAILED
    assert message == (
        "expected the server to agree to the extensions permessage-deflate, it agreed to none"
    )
    assert expected == "Sec-WebSocket-Extensions: permessage-deflate"


def test_parameters_and_no_extension_expected(tmp_path: Path) -> None:
    text = scenario(
        'connect: {url: "${url}/echo", expect_extensions: []}',
        "connect:\n"
        "      conn: b\n"
        '      url: "${url}/echo"\n'
        "      compression: {client_no_context_takeover: true, client_max_window_bits: 12}\n"
        "      expect_extensions: [permessage-deflate]",
        "send: {conn: b, text: abcabcabcabc}",
        "expect: {conn: b, text: abcabcabcabc}",
    )
    assert go(tmp_path, text, compression=True) == (Status.PASSED, None, None)


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ("compression: {client_max_window_bits: 8}", "'client_max_window_bits' is out of range"),
        ("compression: {level: 3}", "unknown key 'level'"),
        ("compression: zlib", "deflate"),
        ('tls: {min_version: "1.4"}', "1.3"),
    ],
)
def test_bad_options_are_refused_at_their_line(tmp_path: Path, option: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(scenario(f"connect: {{url: ws://127.0.0.1:1/, {option}}}"), encoding="utf-8")
    errors = validate_paths([path])
    assert len(errors) == 1 and message in str(errors[0]), [str(e) for e in errors]
    assert errors[0].location is not None and errors[0].location.line == 3


def test_wire_sizes_per_message_and_per_connection(tmp_path: Path) -> None:
    from io import StringIO

    from rich.console import Console

    from runner.events import ConnectionClosed, EventBus, FrameReceived
    from runner.executor import RunOptions, run_suite
    from runner.report.console import ConsoleReporter
    from runner.scenario import load_suite

    (tmp_path / "c.yaml").write_text(COMPRESSED, encoding="utf-8")
    out = StringIO()
    with TestServer(port=0, compression=True) as server:
        suite = load_suite([str(tmp_path)], {"url": server.url})
        events: list[object] = []
        bus = EventBus()
        bus.subscribe(events.append)
        bus.subscribe(ConsoleReporter(Console(file=out, width=100, color_system=None)))
        run_suite(suite, suite.scenarios, RunOptions(), bus.emit)
    received = next(e for e in events if isinstance(e, FrameReceived))
    message = len(str(received.data).encode())
    assert received.wire_size is not None and 0 < received.wire_size < message
    closed = next(e for e in events if isinstance(e, ConnectionClosed))
    traffic = closed.traffic
    assert traffic is not None and traffic.sent == traffic.received == message
    assert traffic.sent_wire == traffic.received_wire == received.wire_size
    summary = out.getvalue().split("compression (message bytes → wire bytes)\n", 1)[1]
    share = f"{received.wire_size / message:.0%}"
    assert summary.startswith(
        f"  c default: sent {message} → {received.wire_size} B ({share}), received {message} → "
    )
