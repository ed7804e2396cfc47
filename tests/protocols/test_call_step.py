"""The `call` step's own rules, through the CLI against the built-in server's `/rpc` (json-rpc)
on loopback: a reply that does not match, saves, and a call on a connection that speaks no
protocol when only the run can know it.
"""

from __future__ import annotations

from collections.abc import Iterator
from io import StringIO
from pathlib import Path

import pytest
from rich.console import Console

from runner.cli import ExitCode, main
from runner.server.running import TestServer


@pytest.fixture(scope="module")
def builtin() -> Iterator[TestServer]:
    server = TestServer().start()
    try:
        yield server
    finally:
        server.stop()


def run(tmp_path: Path, text: str) -> tuple[int, str]:
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(text, encoding="utf-8")
    console = Console(file=StringIO(), width=250, color_system=None)
    code = main([str(scenario)], console=console)
    return code, console.file.getvalue()  # type: ignore[attr-defined]


def test_a_reply_that_does_not_match_shows_the_request_the_reply_and_a_diff(
    tmp_path: Path, builtin: TestServer
) -> None:
    code, output = run(
        tmp_path,
        f"""
name: mismatch
steps:
  - connect: {{url: "{builtin.url}/rpc", protocol: json-rpc}}
  - call: {{method: upper, params: [abc], save: {{up: $.result}}}}
  - call: {{method: echo, params: ["${{up}}"], expect: {{json: {{result: [abd]}}}}}}
""",
    )
    assert code == ExitCode.FAILED, output
    assert (
        "the reply to the json-rpc call on 'default' did not match (request: "
        '{"method":"echo","params":["ABC"]})' in output
    )
    assert 'closest:  {"jsonrpc":"2.0","id":2,"result":["ABC"]}' in output
    assert '-    "abd"' in output and '+    "ABC"' in output  # the diff


def test_a_call_on_a_connection_without_protocol_fails_when_it_runs(
    tmp_path: Path, builtin: TestServer
) -> None:
    # The loop's second call runs on the raw connection its first iteration reopened: the file
    # reads as if it used json-rpc, only the run knows.
    code, output = run(
        tmp_path,
        f"""
name: reconnected raw
steps:
  - connect: {{url: "{builtin.url}/rpc", conn: a, protocol: json-rpc}}
  - repeat:
      count: 2
      steps:
        - call: {{conn: a, method: add, params: [1, 1]}}
        - close: {{conn: a}}
        - connect: {{url: "{builtin.url}/rpc", conn: a}}
""",
    )
    assert code == ExitCode.FAILED, output
    assert "call on 'a', which speaks no protocol (its connect has no `protocol:`)" in output
    assert "iteration 2" in output
