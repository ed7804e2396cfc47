"""runner.matching.patterns: every regular expression a file holds is RE2 (linear time)."""

from __future__ import annotations

import json
import time

import pytest

from runner.errors import ServiceError
from runner.matching import compile_matcher
from runner.matching.patterns import (
    MAX_PATTERN_LENGTH,
    Pattern,
    PatternError,
    compile_pattern,
)
from runner.scenario.steps import ExpectStep, IgnoreRule, regex_groups
from runner.supervisor import _compile as compile_ready_log

#: `^(a+)+$` backtracks exponentially in Python's `re` on 40 a's and a b (minutes of CPU).
CATASTROPHIC = "^(a+)+$"
HOSTILE = "a" * 40 + "b"


def test_a_catastrophic_pattern_ends_at_once() -> None:
    started = time.monotonic()
    assert compile_pattern(CATASTROPHIC).search(HOSTILE) is None
    assert compile_pattern("(x+x+)+y").search("x" * 5000) is None
    assert time.monotonic() - started < 0.5


@pytest.mark.parametrize(
    ("pattern", "lacking"),
    [
        (r"(a)\1", "backreferences"),
        ("(?P<x>a)(?P=x)", "backreferences"),
        ("(?=a)", "lookahead"),
        ("(?!a)", "negative lookahead"),
        ("(?<=a)b", "lookbehind"),
        ("(?<!a)b", "negative lookbehind"),
        ("(?>a)", "atomic groups"),
        ("a++", "possessive quantifiers"),
        ("(?x) a", "verbose mode"),
        (r"a\Z", r"\Z (write \z"),
        ("a{1001}", "repeating more than 1000 times"),
        ("((ab){100}){20}", "repeating more than 1000 times"),
    ],
)
def test_what_re2_lacks_is_said(pattern: str, lacking: str) -> None:
    with pytest.raises(PatternError) as caught:
        compile_pattern(pattern)
    assert str(caught.value).startswith("invalid regular expression: RE2 does not support ")
    assert lacking in caught.value.reason


def test_huge_and_deep_patterns_are_errors_or_fine_but_never_crash() -> None:
    with pytest.raises(PatternError, match="the limit is 10,000"):
        compile_pattern("a" * (MAX_PATTERN_LENGTH + 1))
    assert isinstance(compile_pattern("(" * 1000 + ")" * 1000), Pattern)  # re: RecursionError
    assert compile_pattern("a{4294967296}").search("a{4294967296}") is not None  # re: Overflow
    with pytest.raises(PatternError, match="invalid regular expression: missing \\)"):
        compile_pattern("(")


def test_flags_inline_and_as_options() -> None:
    assert compile_pattern("(?i)^hello$").search("HeLLo") is not None
    assert compile_pattern("^b$", multiline=True).search("a\nb\nc") is not None
    assert compile_pattern("^b$").search("a\nb\nc") is None
    assert compile_pattern("(?m)^b$").search("a\nb\nc") is not None
    assert compile_pattern("a.b").search("a\nb") is None
    assert compile_pattern("(?s)a.b").search("a\nb") is not None
    assert compile_pattern("hello", ignore_case=True).search("HELLO") is not None
    assert compile_pattern(r"\d+").search("é 42").text == "42"  # type: ignore[union-attr]


def test_named_groups_become_captures_in_both_spellings() -> None:
    found = compile_pattern(r"(?P<id>\d+)-(?<word>[a-z]+)(?P<none>x)?").search("é 12-ab")
    assert found is not None
    assert found.groupdict() == {"id": "12", "word": "ab", "none": None}
    assert (found.start, found.end) == (2, 7)
    assert regex_groups(r"(?P<id>\d+)-(?<word>[a-z]+)") == ["id", "word"]
    assert regex_groups("${r}(?P<t>.)") == ["t"]  # templated: read from the text


def test_the_regex_matcher_placeholder_and_ignore_rule_are_bounded() -> None:
    started = time.monotonic()
    step = ExpectStep.model_validate({"kind": "expect", "regex": CATASTROPHIC})
    assert not compile_matcher(step).match(HOSTILE).ok
    placeholder = ExpectStep.model_validate({"kind": "expect", "json": {"x": "{{regex:^(a+)+$}}"}})
    assert not compile_matcher(placeholder).match(json.dumps({"x": HOSTILE})).ok
    rule = IgnoreRule.model_validate({"regex": CATASTROPHIC})
    assert not compile_matcher(rule).match(HOSTILE).ok
    assert time.monotonic() - started < 1.0
    captured = ExpectStep.model_validate({"kind": "expect", "regex": r"(?i)ACK (?P<n>\d+)"})
    assert compile_matcher(captured).match("ack 7").captures == {"n": "7"}


def test_the_ready_log_is_re2_too() -> None:
    pattern = compile_ready_log("svc", CATASTROPHIC)
    assert pattern is not None
    started = time.monotonic()
    assert pattern.search(HOSTILE) is None
    assert time.monotonic() - started < 0.5
    with pytest.raises(ServiceError, match="RE2 does not support lookahead"):
        compile_ready_log("svc", "(?=x)")
