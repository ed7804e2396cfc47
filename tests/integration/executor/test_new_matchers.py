"""The newer matchers against a real echo server on loopback: each passes, and each fails with
the expected value, the closest message, the reason and (where it helps) a diff."""

from __future__ import annotations

from pathlib import Path

from runner.events import ScenarioEnded, Status
from tests.integration.executor.test_executor import ended, run
from tests.support import echo, url_of, websockets_server


def scenario(*steps: str) -> str:
    lines = ["name: m", "timeout: 300ms", "steps:", '  - connect: "${url}"']
    return "\n".join([*lines, *(f"  - {s}" for s in steps)]) + "\n"


def run_echo(tmp_path: Path, text: str, **files: str) -> tuple[Status, ScenarioEnded]:
    with websockets_server(echo) as server:
        status, events = run(tmp_path, {"m.yaml": text, **files}, {"url": url_of(server)})
    return status, ended(events)["m"]


def failure_of(tmp_path: Path, *steps: str, **files: str) -> ScenarioEnded:
    status, result = run_echo(tmp_path, scenario(*steps), **files)
    assert status is Status.FAILED and result.failure is not None
    return result


def test_every_new_matcher_passes(tmp_path: Path) -> None:
    (tmp_path / "schemas").mkdir()
    (tmp_path / "schemas" / "n.json").write_text('{"properties": {"n": {"type": "integer"}}}')
    text = scenario(
        "send: the room is open",
        'expect: {contains: "is open", not: {contains: closed}}',
        "send: {json: {n: 3}}",
        "expect: {json_schema: schemas/n.json, any_of: [{text: x}, {json: {n: 3}}]}",
        """send: '42["chat",{"user":"alice"}]'""",
        'expect: {text_json: {prefix: "42", json: [chat, {user: alice}]}}',
        'send: {binary: {hex: "90 03 00 2a 01"}}',
        'expect: {binary: {hex: "90 ?? 00", prefix: true}, save: {pid: {bytes: [2, 3]}}}',
        'send: {binary: {hex: "40 ${pid}"}}',
        'expect: {binary: {hex: "40 00 2a"}}',
    )
    status, result = run_echo(tmp_path, text)
    assert status is Status.PASSED, result.failure


def test_contains_fails_with_the_closest_message(tmp_path: Path) -> None:
    result = failure_of(tmp_path, "send: the room is closed", "expect: {contains: is open}")
    assert result.failure is not None
    assert result.failure.expected == 'text containing "is open"'
    assert result.failure.closest == "the room is closed"
    assert result.failure.reason == 'expected text containing "is open", found "the room is closed"'


def test_json_schema_fails_naming_the_keyword_and_the_path(tmp_path: Path) -> None:
    result = failure_of(
        tmp_path,
        'send: {json: {items: [1, "two"]}}',
        "expect: {json_schema: {properties: {items: {items: {type: integer}}}}}",
    )
    assert result.failure is not None
    assert result.failure.reason == (
        "at $.items[1]: 'two' is not of type 'integer' (schema keyword type)"
    )


def test_not_fails_on_the_message_it_refuses(tmp_path: Path) -> None:
    result = failure_of(tmp_path, "send: error", "expect: {not: {regex: ^err}, next: true}")
    assert result.failure is not None
    assert result.failure.expected == "not text matching /^err/"
    assert result.failure.reason == 'expected not text matching /^err/, found "error"'


def test_any_of_fails_with_the_diff_of_its_closest_alternative(tmp_path: Path) -> None:
    result = failure_of(
        tmp_path,
        "send: {json: {type: tick, n: 2}}",
        "expect: {any_of: [{text: stop}, {json: {type: tick, n: 1}}]}",
    )
    failure = result.failure
    assert failure is not None
    assert failure.expected == 'any of: text "stop" | JSON containing {"type": "tick", "n": 1}'
    assert failure.reason is not None and failure.reason.startswith("matched none of: ")
    assert failure.diff is not None and '-  "n": 1,' in failure.diff


def test_text_json_fails_with_a_json_diff(tmp_path: Path) -> None:
    result = failure_of(
        tmp_path,
        """send: '42["chat",{"user":"bob"}]'""",
        'expect: {text_json: {prefix: "42", json: [chat, {user: alice}]}}',
    )
    failure = result.failure
    assert failure is not None
    assert failure.reason == 'at $[1].user: expected "alice", found "bob"'
    assert failure.diff is not None and '+    "user": "bob"' in failure.diff


def test_binary_wildcards_fail_showing_the_pattern(tmp_path: Path) -> None:
    result = failure_of(
        tmp_path, 'send: {binary: {hex: "31 00"}}', 'expect: {binary: {hex: "32 ??"}}'
    )
    failure = result.failure
    assert failure is not None
    assert failure.expected == "binary 32 ??"
    assert failure.reason == "expected binary 32 ??, found 31 00"


def test_a_byte_save_beyond_the_message_is_an_error_at_its_step(tmp_path: Path) -> None:
    status, result = run_echo(
        tmp_path,
        scenario(
            'send: {binary: {hex: "90 03"}}',
            'expect: {binary: {hex: "90", prefix: true}, save: {pid: {bytes: [2, 3]}}}',
        ),
    )
    assert status is not Status.PASSED and result.failure is not None
    assert "save pid: bytes 2..3 are beyond the message (2 bytes)" in result.failure.message
    assert result.failure.location is not None and result.failure.location.endswith("m.yaml:6:5")
