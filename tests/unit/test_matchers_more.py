"""contains, json_schema, not, any_of, binary wildcards and prefixes, byte saves, text_json."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from runner.errors import ExecutionError
from runner.matching import Matcher, MatchResult, compile_matcher, extract_saves
from runner.scenario import validate_paths
from runner.scenario.matchers import file_context
from runner.scenario.steps import ExpectStep, SendStep


def compiled(**spec: Any) -> Matcher:
    return compile_matcher(ExpectStep.model_validate({"kind": "expect", **spec}))


def match(payload: str | bytes, **spec: Any) -> MatchResult:
    return compiled(**spec).match(payload)


def refused(**spec: Any) -> str:
    with pytest.raises(ValidationError) as error:
        ExpectStep.model_validate({"kind": "expect", **spec})
    return str(error.value)


def test_contains() -> None:
    assert match("the room is open", contains="is open").ok
    failed = match("the room is closed", contains="is open")
    assert failed.reason == 'expected text containing "is open", found "the room is closed"'
    assert 0 < failed.score < 1
    assert not match(b"is open", contains="is open").ok
    assert compiled(contains="x").description == 'text containing "x"'


SCHEMA = {"type": "object", "properties": {"price": {"type": "number"}}, "required": ["price"]}


def test_json_schema_inline() -> None:
    assert match('{"price": 3.5, "more": 1}', json_schema=SCHEMA).ok
    failed = match('{"price": "3.5"}', json_schema=SCHEMA)
    assert failed.reason == "at $.price: '3.5' is not of type 'number' (schema keyword type)"
    missing = match("{}", json_schema=SCHEMA)
    assert missing.reason == "at $: 'price' is a required property (schema keyword required)"
    assert match("not json", json_schema=SCHEMA).reason.startswith('expected JSON, found "not')
    assert compiled(json_schema={"type": "array"}).description == (
        'JSON valid against the schema {"type": "array"}'
    )


def test_an_invalid_schema_is_refused_at_load() -> None:
    message = refused(json_schema={"type": "numbr"})
    assert "invalid JSON Schema at $.type: 'numbr' is not valid under any of the given" in message


def test_json_schema_from_a_file_relative_to_the_scenario(tmp_path: Path) -> None:
    (tmp_path / "schemas").mkdir()
    (tmp_path / "schemas" / "price.json").write_text('{"required": ["price"]}')
    spec = {"kind": "expect", "json_schema": "schemas/price.json"}
    step = ExpectStep.model_validate(spec, context=file_context(tmp_path / "s.yaml"))
    assert step.json_schema == str(tmp_path / "schemas" / "price.json")
    matcher = compile_matcher(step)
    assert matcher.match('{"price": 1}').ok
    assert "'price' is a required property" in matcher.match("{}").reason
    assert "the schema " in matcher.description and "price.json" in matcher.description


def test_a_schema_path_is_checked_at_its_line(tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text('{"type": 5}')
    lines = ["name: s", "steps:", "  - connect: ws://127.0.0.1:1/"]
    lines += ["  - expect: {json_schema: missing.json}", "  - expect: {json_schema: bad.json}"]
    lines += ["  - expect: {json_schema: {minimum: x}}"]
    path = tmp_path / "s.yaml"
    path.write_text("\n".join(lines) + "\n")
    errors = sorted(validate_paths([path]), key=lambda e: e.location.line if e.location else 0)
    assert [(e.location.line, e.location.column) for e in errors if e.location] == [
        (4, 27),
        (5, 27),
        (6, 27),
    ]
    assert errors[0].message.startswith("cannot read the schema file ")
    assert errors[0].message.endswith("missing.json: No such file or directory")
    assert (
        errors[1].message
        == "invalid JSON Schema at $.type: 5 is not valid under any of the given schemas"
    )
    assert errors[2].message == "invalid JSON Schema at $.minimum: 'x' is not of type 'number'"


def test_a_relative_schema_path_needs_a_file() -> None:
    assert "cannot resolve the json_schema path 'x.json': no file" in refused(json_schema="x.json")


def test_not() -> None:
    assert match("hello", **{"not": {"text": "error"}}).ok
    failed = match("error", **{"not": {"text": "error"}})
    assert failed.reason == 'expected not text "error", found "error"'
    assert failed.score == 0
    both = compiled(**{"not": {"text": "a", "regex": "b"}})
    assert both.description == 'not (text "a", text matching /b/)'
    assert not match(b"\x01", **{"not": {"binary": {"hex": "01"}}}).ok
    assert "found binary 01" in match(b"\x01", **{"not": {"binary": {"hex": "01"}}}).reason
    assert "expected at least one matcher" in refused(**{"not": {}})


def test_any_of() -> None:
    spec = {"any_of": [{"text": "ok"}, {"regex": r"^done (?P<n>\d+)$"}]}
    assert match("ok", **spec).ok
    done = match("done 3", **spec)
    assert done.ok and done.captures == {}  # only the step's own regex saves its groups
    failed = match("nope", **spec)
    assert failed.reason == (
        'matched none of: expected text "ok", found "nope" | '
        'expected text matching /^done (?P<n>\\d+)$/, found "nope"'
    )
    assert compiled(**spec).description == (
        'any of: text "ok" | text matching /^done (?P<n>\\d+)$/'
    )
    assert "expected at least one set of matchers in any_of" in refused(any_of=[])
    assert "unknown" in refused(any_of=[{"txt": "a"}]) or "Extra inputs" in refused(
        any_of=[{"txt": "a"}]
    )


def test_any_of_diffs_its_closest_alternative() -> None:
    matcher = compiled(any_of=[{"text": "zzz"}, {"json": {"type": "tick", "n": 1}}])
    diff = matcher.diff('{"type": "tick", "n": 2}')
    assert diff is not None and '-  "n": 1,' in diff and '+  "n": 2,' in diff


def test_binary_wildcards_and_prefix() -> None:
    pattern = {"hex": "32 ?? 00 05"}
    assert match(b"\x32\x07\x00\x05", binary=pattern).ok
    assert not match(b"\x32\x07\x00\x05\x01", binary=pattern).ok
    failed = match(b"\x32\x07\x00\x06", binary=pattern)
    assert failed.reason == "expected binary 32 ?? 00 05, found 32 07 00 06"
    prefix = {"hex": "32??", "prefix": True}
    assert match(b"\x32\x00\xff\xff", binary=prefix).ok
    assert not match(b"\x31\x00", binary=prefix).ok
    assert not match(b"\x32", binary=prefix).ok
    assert compiled(binary=prefix).description == "binary starting with 32 ??"
    assert match(b"\xde\xad\xbe\xef", binary={"base64": "3q0=", "prefix": True}).ok
    assert match(b"\x0a", binary={"hex": "0a"}).ok  # plain equality as before
    assert "expected a binary message" in match("text", binary=pattern).reason
    assert "an odd number of digits" in refused(binary={"hex": "32 ?? 0"})


def test_send_refuses_wildcards_and_prefix() -> None:
    with pytest.raises(ValidationError, match=r"a \?\? wildcard matches any byte in expect"):
        SendStep.model_validate({"kind": "send", "binary": {"hex": "32 ??"}})
    with pytest.raises(ValidationError, match="prefix"):
        SendStep.model_validate({"kind": "send", "binary": {"hex": "32", "prefix": True}})


def saves(save: dict[str, Any], payload: str | bytes) -> dict[str, Any]:
    step = ExpectStep.model_validate({"kind": "expect", "binary": {"hex": "00"}, "save": save})
    return extract_saves(step.save, payload, {})


def test_saving_bytes() -> None:
    packet = bytes.fromhex("90 03 00 05 01")
    assert saves({"pid": {"bytes": [2, 3]}}, packet) == {"pid": "0005"}
    assert saves({"pid": {"bytes": [2, 3], "as": "int"}}, packet) == {"pid": 5}
    assert saves({"pid": {"bytes": [2, 3], "as": "int", "order": "little"}}, packet) == {
        "pid": 1280
    }
    with pytest.raises(ExecutionError, match=r"save pid: bytes 3\.\.5 are beyond the message"):
        saves({"pid": {"bytes": [3, 5]}}, packet)
    with pytest.raises(ExecutionError, match=r"save pid: bytes 0\.\.1 of a text message"):
        saves({"pid": {"bytes": [0, 1]}}, "ab")


def test_bad_byte_saves_are_refused() -> None:
    assert "0 <= first <= last, found [3, 2]" in refused(
        binary={"hex": "00"}, save={"p": {"bytes": [3, 2]}}
    )
    assert "as" in refused(binary={"hex": "00"}, save={"p": {"bytes": [0, 1], "as": "b64"}})


def test_text_json() -> None:
    spec = {"text_json": {"prefix": "42", "json": ["chat", {"user": "alice"}]}}
    assert match('42["chat", {"user": "alice", "text": "hi"}]', **spec).ok
    failed = match('42["chat", {"user": "bob"}]', **spec)
    assert failed.reason == 'at $[1].user: expected "alice", found "bob"'
    assert (
        match('2["chat"]', **spec).reason
        == 'expected text starting with "42", found "2[\\"chat\\"]"'
    )
    assert match("42x", **spec).reason.startswith('expected JSON after "42", found "42x"')
    assert compiled(**spec).description == (
        'text "42" then JSON containing ["chat", {"user": "alice"}]'
    )
    diff = compiled(**spec).diff('42["chat", {"user": "bob"}]')
    assert diff is not None and '-    "user": "alice"' in diff and '+    "user": "bob"' in diff
    assert "unknown placeholder {{strin}}" in refused(
        text_json={"prefix": "0", "json": {"sid": "{{strin}}"}}
    )
