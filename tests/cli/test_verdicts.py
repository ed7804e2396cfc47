"""Verdicts that cannot lie, end to end through the CLI against raw-socket fault servers.

A connection that ends abnormally fails its scenario unless a step expected it; the --timeout
is named when it ends a scenario and bounds the closing at its end; a protocol violation fails
the waiting step at once with its cause; the log says who closed each connection.
"""

from __future__ import annotations

import time
from io import StringIO
from pathlib import Path

import pytest
from rich.console import Console
from websockets.sync.server import ServerConnection

from runner.cli import ExitCode, main
from tests import faultpeers
from tests.support import echo, timeout, url_of, websockets_server


def cli(*argv: str, color: bool = False) -> tuple[int, str]:
    """Run `wsrun argv` in-process on a 100-column console; return (exit code, text)."""
    if color:
        console = Console(file=StringIO(), width=100, color_system="truecolor", force_terminal=True)
    else:
        console = Console(file=StringIO(), width=100, color_system=None)
    code = main(list(argv), console=console)
    return code, console.file.getvalue()  # type: ignore[attr-defined]


def scenario(folder: Path, text: str) -> str:
    path = folder / "s.yaml"
    path.write_text(text, encoding="utf-8")
    return str(path)


CLOSES = """
name: closes
steps:
  - connect: "${url}"
  - send: last words
  - close: {}
"""

SLEEPS = """
name: sleeps
steps:
  - connect: "${url}"
  - send: last words
  - sleep: 300ms
"""


def test_a_connection_lost_right_after_a_close_step_fails_the_scenario(tmp_path: Path) -> None:
    with faultpeers.FaultServer(faultpeers.crash_on_close) as server:
        for _ in range(3):  # it passed in 5 runs of 6: the verdict must not depend on timing
            code, out = cli(scenario(tmp_path, CLOSES), "--var", f"url={server.url}")
            assert code == ExitCode.FAILED, out
            assert "the connection 'default' was lost during its closing handshake" in out
            assert "(step 3, close on default)" in out
            assert "■ close     lost: 1006 (not clean)" in out


def test_a_connection_lost_between_steps_fails_the_scenario_and_says_when(tmp_path: Path) -> None:
    with faultpeers.FaultServer(faultpeers.crash_after_first) as server:
        code, out = cli(scenario(tmp_path, SLEEPS), "--var", f"url={server.url}")
    assert code == ExitCode.FAILED, out
    assert "✗ FAILED sleeps" in out
    assert "the connection 'default' was lost without a closing handshake (1006) at +0." in out
    assert ", during step " in out


def test_expect_close_with_code_1006_expects_the_loss(tmp_path: Path) -> None:
    expected = SLEEPS.replace("  - sleep: 300ms", "  - expect_close: {code: 1006, timeout: 5s}")
    bare = SLEEPS.replace("  - sleep: 300ms", "  - expect_close: {timeout: 5s}")
    with faultpeers.FaultServer(faultpeers.crash_after_first) as server:
        code, out = cli(scenario(tmp_path, expected), "--var", f"url={server.url}")
        assert code == ExitCode.OK, out
        code, out = cli(scenario(tmp_path, bare), "--var", f"url={server.url}")
    assert code == ExitCode.FAILED, out
    assert "ended with no closing handshake (1006); write 'code: 1006' to expect that" in out


WAITS = """
name: waits
steps:
  - connect: "${url}"
  - send: anyone
  - expect: {text: never, timeout: 60s}
"""


def test_the_timeout_is_named_and_the_close_wait_is_inside_it(tmp_path: Path) -> None:
    with faultpeers.FaultServer(faultpeers.never_answers_close) as server:
        started = time.monotonic()
        code, out = cli(scenario(tmp_path, WAITS), "--var", f"url={server.url}", "--timeout", "1s")
        took = time.monotonic() - started
    assert code == ExitCode.FAILED, out
    assert 1.0 <= took < 1.5, f"--timeout 1s ended after {took:.2f}s (the close wait is 2 s)"
    assert "the scenario ran out of its --timeout (1s) in step 3 (expect on 'default')" in out
    assert "matched within" not in out


def test_a_close_wait_the_timeout_cuts_fails_a_scenario_whose_steps_passed(
    tmp_path: Path,
) -> None:
    text = "name: quick\nsteps:\n  - connect: '${url}'\n  - sleep: 200ms\n"
    with faultpeers.FaultServer(faultpeers.never_answers_close) as server:
        started = time.monotonic()
        code, out = cli(scenario(tmp_path, text), "--var", f"url={server.url}", "--timeout", "1s")
        took = time.monotonic() - started
    assert code == ExitCode.FAILED, out
    assert took < 1.5
    assert "ran out of its --timeout (1s) while closing 'default'" in out


def test_a_sleep_the_timeout_cuts_short_fails(tmp_path: Path) -> None:
    text = "name: naps\nsteps:\n  - sleep: 60s\n"
    code, out = cli(scenario(tmp_path, text), "--timeout", "300ms")
    assert code == ExitCode.FAILED, out
    assert "✓ sleep" not in out
    assert "the scenario's --timeout cut sleep short after 0." in out
    assert "of its 60s" in out


VIOLATED = """
name: violated
steps:
  - connect: "${url}"
  - send: go
  - expect: {text: never, timeout: 10s}
"""


@pytest.mark.parametrize(
    ("behaviour", "code", "cause"),
    [
        (faultpeers.invalid_utf8_after_first, 1007, "text message is not valid UTF-8"),
        (faultpeers.huge_length_after_first, 1009, "frame of 9223372036854775808 bytes"),
        (faultpeers.masked_after_first, 1002, "server sent a masked frame"),
    ],
)
def test_a_protocol_violation_fails_the_waiting_step_at_once_with_its_cause(
    tmp_path: Path, behaviour: faultpeers.Behaviour, code: int, cause: str
) -> None:
    with faultpeers.FaultServer(behaviour) as server:
        started = time.monotonic()
        exit_code, out = cli(scenario(tmp_path, VIOLATED), "--var", f"url={server.url}")
        took = time.monotonic() - started
    assert exit_code == ExitCode.FAILED, out
    assert took < timeout(0.3), f"the step failed after {took:.2f}s, not at once"
    assert "the server broke the protocol on 'default' while expect waited: " + cause in out
    assert f"wsrun failed the connection (close {code}, RFC 6455 7.1.7)" in out
    assert "(step 3, expect on default)" in out


def test_a_protocol_violation_between_steps_fails_the_scenario(tmp_path: Path) -> None:
    with faultpeers.FaultServer(faultpeers.masked_after_first) as server:
        code, out = cli(scenario(tmp_path, SLEEPS), "--var", f"url={server.url}")
    assert code == ExitCode.FAILED, out
    assert "the server broke the protocol on 'default' at +0." in out
    assert "server sent a masked frame; wsrun failed the connection (close 1002" in out


def closes_with_4000(conn: ServerConnection) -> None:
    conn.recv()
    conn.close(4000, "bye")


def test_the_log_says_who_closed_each_connection(tmp_path: Path) -> None:
    text = (
        "name: both\nsteps:\n"
        "  - connect: {conn: mine, url: '${echo}'}\n  - close: {conn: mine, reason: done}\n"
        "  - connect: {conn: theirs, url: '${closer}'}\n  - send: {conn: theirs, text: hi}\n"
        "  - expect_close: {conn: theirs, code: 4000}\n"
    )
    with websockets_server(echo) as a, websockets_server(closes_with_4000) as b:
        code, out = cli(
            scenario(tmp_path, text), "--var", f"echo={url_of(a)}", "--var", f"closer={url_of(b)}"
        )
    assert code == ExitCode.OK, out
    assert "mine     ■ close     by client: 1000 done" in out
    assert "theirs   ■ close     by server: 4000 bye" in out


REFUSED = "name: refused\nsteps:\n  - connect: {url: '${url}', expect_status: 403}\n"


def test_an_expected_refusal_is_logged_as_expected_and_a_failing_one_shows_the_body(
    tmp_path: Path,
) -> None:
    body = b"forbidden: the token expired " + b"x" * 400
    refuse = faultpeers.refuse_with(403, body)
    with faultpeers.FaultServer(refuse, handshake=False) as server:
        code, out = cli(scenario(tmp_path, REFUSED), "--var", f"url={server.url}", color=True)
        assert code == ExitCode.OK, out
        [line] = [line for line in out.splitlines() if "refused" in line and "HTTP" in line]
        assert "as expected" in line and "\x1b[31m" not in line  # not red
        assert "error" not in out
        unexpected = REFUSED.replace(", expect_status: 403", "")
        code, out = cli(scenario(tmp_path, unexpected), "--var", f"url={server.url}")
        assert code == ExitCode.FAILED, out
        assert "the response's body: forbidden: the token expired xxx" in out
        assert f"… ({len(body)} bytes)" in out
        wrong = REFUSED.replace("403", "401")
        code, out = cli(scenario(tmp_path, wrong), "--var", f"url={server.url}")
    assert code == ExitCode.FAILED, out
    assert "closest:  HTTP 403 forbidden: the token expired" in out
