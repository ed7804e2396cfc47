"""Matchers: text, regex, JSON subsets with placeholders, JSONPath, binary; saves; scores."""

from __future__ import annotations

import re
from typing import Any

import pytest

from runner.errors import ExecutionError, Location
from runner.matching import MatchResult, check_expected, compile_matcher, extract_saves
from runner.scenario.steps import ExpectStep, IgnoreRule


def match(payload: str | bytes, **spec: Any) -> MatchResult:
    return compile_matcher(ExpectStep.model_validate({"kind": "expect", **spec})).match(payload)


def test_text() -> None:
    assert match("hello", text="hello").ok
    result = match("hallo", text="hello")
    assert not result.ok
    assert result.reason == 'expected text "hello", found "hallo"'
    assert 0.5 < result.score < 1
    assert match(b"hello", text="hello").reason == "expected a text message, found binary (5 bytes)"


def test_regex_searches_and_captures() -> None:
    result = match("ack 42 ok", regex=r"ack (?P<id>\d+)")
    assert result.ok
    assert result.captures == {"id": "42"}
    failed = match("nack", regex=r"^ack \d+$")
    assert not failed.ok
    assert failed.score == 0
    assert failed.reason == 'expected text matching /^ack \\d+$/, found "nack"'


@pytest.mark.parametrize(
    ("expected", "payload"),
    [
        ({"type": "said"}, '{"type": "said", "id": 3}'),
        ({"a": {"b": [1, {"c": 2}]}}, '{"a": {"b": [1, {"c": 2, "d": 3}]}, "e": 0}'),
        ([1, 2], "[1, 2]"),
        ("hi", '"hi"'),
        (None, "null"),
        (1, "1.0"),
        ({"id": "{{any}}"}, '{"id": null}'),
        ({"id": "{{integer}}"}, '{"id": 7}'),
        ({"id": "{{integer}}"}, '{"id": 7.0}'),
        ({"x": "{{number}}"}, '{"x": 1.5}'),
        ({"x": "{{string}}"}, '{"x": ""}'),
        ({"x": "{{boolean}}"}, '{"x": false}'),
        ({"x": "{{object}}"}, '{"x": {}}'),
        ({"x": "{{array}}"}, '{"x": []}'),
        ({"x": "{{null}}"}, '{"x": null}'),
        ({"x": "{{regex:^a\\d+$}}"}, '{"x": "a12"}'),
    ],
)
def test_json_subset_matches(expected: Any, payload: str) -> None:
    assert match(payload, json=expected).ok


@pytest.mark.parametrize(
    ("expected", "payload", "reason"),
    [
        ({"text": "hello"}, '{"text": "hi"}', 'at $.text: expected "hello", found "hi"'),
        ({"a": 1}, "{}", "at $.a: expected 1, found nothing"),
        ({"a": True}, '{"a": 1}', "at $.a: expected true, found 1"),
        ({"a": 1}, '{"a": true}', "at $.a: expected 1, found true"),
        ({"a": "1"}, '{"a": 1}', 'at $.a: expected "1", found 1'),
        ([1, 2], "[1]", "at $: expected 2 items, found 1; at $[1]: expected 2, found nothing"),
        ({"a": {"b": 1}}, '{"a": 3}', 'at $.a: expected {"b": 1}, found 3'),
        ({"my key": 1}, '{"my key": 2}', 'at $["my key"]: expected 1, found 2'),
        ({"x": "{{any}}"}, "{}", 'at $.x: expected "{{any}}", found nothing'),
        ({"x": "{{integer}}"}, '{"x": 1.5}', 'at $.x: expected "{{integer}}", found 1.5'),
        ({"x": "{{boolean}}"}, '{"x": 0}', 'at $.x: expected "{{boolean}}", found 0'),
        ({"x": "{{regex:^a}}"}, '{"x": "b"}', 'at $.x: expected "{{regex:^a}}", found "b"'),
        ({"a": 1}, "not json", 'expected JSON, found "not json" (Expecting value)'),
    ],
)
def test_json_mismatches_say_where(expected: Any, payload: str, reason: str) -> None:
    result = match(payload, json=expected)
    assert not result.ok
    assert result.reason == reason


def test_json_score_counts_matching_leaves() -> None:
    result = match('{"a": 1, "b": 2, "c": 0, "d": 0}', json={"a": 1, "b": 2, "c": 3, "d": 4})
    assert result.score == 0.5
    assert result.reason.count("at $.") == 2


def test_jsonpath() -> None:
    payload = '{"items": [{"id": 1, "n": "a"}, {"id": 2, "n": "b"}], "total": 2}'
    assert match(payload, jsonpath={"$.total": 2, "$.items[0].n": "a"}).ok
    assert match(payload, jsonpath={"$.items[*].id": [1, 2]}).ok
    assert match(payload, jsonpath={"$.items[?@.id > 1].n": ["b"]}).ok
    assert match(payload, jsonpath={"$.items[1]": {"id": "{{integer}}"}}).ok
    missing = match(payload, jsonpath={"$.nope": 1})
    assert missing.reason == "at $.nope: expected 1, found nothing"
    assert match(payload, jsonpath={"$.total": 3}).reason == "at $.total: expected 3, found 2"


def test_binary() -> None:
    assert match(b"\x01\x02", binary={"hex": "01 02"}).ok
    assert match(b"hi", binary={"base64": "aGk="}).ok
    result = match(b"\x01\x03", binary={"hex": "0102"})
    assert result.reason == "expected binary 01 02, found 01 03"
    assert (
        match("hi", binary={"hex": "6869"}).reason == 'expected a binary message, found text "hi"'
    )


def test_all_matchers_must_hold() -> None:
    spec = {"regex": "(?P<w>h.)", "json": {"a": "{{string}}"}}
    both = match('{"a": "hi"}', **spec)
    assert both.ok
    assert both.captures == {"w": "hi"}
    one = match('{"a": 1, "hm": 0}', **spec)
    assert not one.ok
    assert one.captures == {}
    assert 0 < one.score < 1


def test_ignore_rules_compile_too() -> None:
    rule = IgnoreRule.model_validate({"json": {"type": "heartbeat"}})
    assert compile_matcher(rule).match('{"type": "heartbeat", "t": 1}').ok
    assert compile_matcher(rule).description == 'JSON containing {"type": "heartbeat"}'


def test_invalid_patterns_after_rendering_raise_value_error() -> None:
    step = ExpectStep.model_validate({"kind": "expect", "regex": "${r}"})
    step.regex = "("
    with pytest.raises(ValueError, match="invalid regular expression"):
        compile_matcher(step)


@pytest.mark.parametrize(
    ("expected", "message"),
    [
        ({"a": "{{strin}}"}, "unknown placeholder {{strin}} (did you mean {{string}}?)"),
        (["{{regex:(}}"], "invalid regular expression in {{regex:(}}"),
    ],
)
def test_check_expected(expected: Any, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        check_expected(expected)


def test_extract_saves() -> None:
    payload = '{"id": 7, "tags": ["a", "b"], "user": {"n": "al"}}'
    saves = {"id": "$.id", "tags": "$.tags[*]", "user": "$.user", "word": "w", "all": "$"}
    saved = extract_saves(saves, payload, {"w": "hi"})
    assert saved == {
        "id": 7,
        "tags": ["a", "b"],
        "user": {"n": "al"},
        "word": "hi",
        "all": {"id": 7, "tags": ["a", "b"], "user": {"n": "al"}},
    }


def test_extract_saves_errors_carry_the_location() -> None:
    where = Location("s.yaml", 4, 5)
    with pytest.raises(ExecutionError, match=r"s.yaml:4:5: save x: \$.nope selects nothing"):
        extract_saves({"x": "$.nope"}, "{}", {}, where)
    with pytest.raises(ExecutionError, match="save x: expected JSON"):
        extract_saves({"x": "$.a"}, "text", {}, where)
    with pytest.raises(ExecutionError, match="save x: the regex has no group 'g'"):
        extract_saves({"x": "g"}, "text", {}, where)
