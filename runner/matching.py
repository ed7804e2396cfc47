"""Matchers: does a received message match what an `expect` step (or an ignore rule) describes?

`compile_matcher(spec)` takes the rendered matcher part of a step (any object with the fields
`text`, `regex`, `json_`, `jsonpath`, `binary` and a `matchers()` method naming those written) and
returns a `Matcher`. Every matcher written must hold. A result also says why a message did not
match and how close it came (`score`), so that a failure can show the closest message.

JSON expectations are subsets: a mapping may have more keys than expected, lists match element by
element, and these placeholders stand for values (write them in quotes in YAML):

    "{{any}}"  any value     "{{string}}"  "{{number}}"  "{{integer}}"  "{{boolean}}"
    "{{object}}"  "{{array}}"  "{{null}}"   a value of that JSON type
    "{{regex:PATTERN}}"  a string in which PATTERN is found

JSONPath queries follow RFC 9535 (the `python-jsonpath` library in strict mode). A query that can
select at most one node (a "singular query", RFC 9535 section 2.3.5.1) is compared with that node;
any other query is compared with the list of the nodes it selects.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Protocol

import jsonpath

from runner.errors import ExecutionError, Location

__all__ = [
    "PLACEHOLDER_TYPES",
    "MatchResult",
    "Matcher",
    "MatcherSpec",
    "check_expected",
    "compile_jsonpath",
    "compile_matcher",
    "extract_saves",
]

_ENV = jsonpath.JSONPathEnvironment(strict=True)
_PLACEHOLDER = re.compile(r"\{\{(.*)\}\}", re.DOTALL)
_MAX_SHOWN = 80
_MISSING = object()


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


#: The typed placeholders, each with the test of its JSON type.
PLACEHOLDER_TYPES: dict[str, Callable[[Any], bool]] = {
    "any": lambda value: True,
    "string": lambda value: isinstance(value, str),
    "number": _is_number,
    "integer": lambda value: _is_number(value) and float(value).is_integer(),
    "boolean": lambda value: isinstance(value, bool),
    "object": lambda value: isinstance(value, dict),
    "array": lambda value: isinstance(value, list),
    "null": lambda value: value is None,
}


class MatcherSpec(Protocol):
    """The matcher fields of an `ExpectStep` or an `IgnoreRule`."""

    text: str | None
    regex: str | None
    json_: Any
    jsonpath: dict[str, Any] | None
    binary: Any  # a BinaryData: has to_bytes() and hex/base64

    def matchers(self) -> list[str]:
        """The names of the matchers written."""
        ...


@dataclass
class MatchResult:
    """Whether a message matched; if not, why, and how close it came (0 to 1)."""

    ok: bool
    captures: dict[str, Any] = field(default_factory=dict)
    reason: str = ""
    score: float = 1.0


def compile_jsonpath(query: str) -> jsonpath.JSONPath:
    """Compile an RFC 9535 JSONPath query; raises ValueError with the parser's reason."""
    return _compile_jsonpath(query)


@lru_cache(maxsize=1024)
def _compile_jsonpath(query: str) -> jsonpath.JSONPath:
    try:
        compiled = _ENV.compile(query)
    except jsonpath.JSONPathError as exc:
        reason = str(exc).splitlines()[0]
        raise ValueError(f"invalid JSONPath {query!r}: {reason}") from exc
    if not isinstance(compiled, jsonpath.JSONPath):
        raise ValueError(f"invalid JSONPath {query!r}: expected a single query")
    return compiled


def _placeholder(value: Any) -> str | None:
    if isinstance(value, str) and (match := _PLACEHOLDER.fullmatch(value)):
        return match[1]
    return None


def check_expected(value: Any) -> None:
    """Check the placeholders inside a JSON expectation; raises ValueError for a bad one."""
    if isinstance(value, dict):
        for item in value.values():
            check_expected(item)
    elif isinstance(value, list):
        for item in value:
            check_expected(item)
    elif (inner := _placeholder(value)) is not None and "${" not in inner:
        _check_placeholder(inner)


def _check_placeholder(inner: str) -> None:
    if inner.startswith("regex:"):
        try:
            re.compile(inner[6:])
        except re.error as exc:
            raise ValueError(f"invalid regular expression in {{{{{inner}}}}}: {exc}") from exc
    elif inner not in PLACEHOLDER_TYPES:
        names = [*PLACEHOLDER_TYPES, "regex:"]
        close = difflib.get_close_matches(inner, names, n=1)
        hint = f" (did you mean {{{{{close[0]}}}}}?)" if close else ""
        raise ValueError(f"unknown placeholder {{{{{inner}}}}}{hint}")


def _show(value: Any) -> str:
    if value is _MISSING:
        return "nothing"
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 3] + "..."


def _json_path(parent: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{parent}[{key}]"
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
        return f"{parent}.{key}"
    return f"{parent}[{json.dumps(key)}]"


class _Comparison:
    """Compares a JSON value with an expectation, counting the leaves that match."""

    def __init__(self) -> None:
        self.checked = 0
        self.matched = 0
        self.failures: list[str] = []

    def compare(self, expected: Any, actual: Any, path: str) -> None:
        inner = _placeholder(expected)
        if inner is not None:
            self._leaf(_placeholder_holds(inner, actual), expected, actual, path)
        elif isinstance(expected, dict):
            self._mapping(expected, actual, path)
        elif isinstance(expected, list):
            self._list(expected, actual, path)
        else:
            self._leaf(_same(expected, actual), expected, actual, path)

    def _mapping(self, expected: dict[str, Any], actual: Any, path: str) -> None:
        if not isinstance(actual, dict):
            self._leaf(False, expected, actual, path, weight=_leaves(expected))
            return
        for key, value in expected.items():
            self.compare(value, actual.get(key, _MISSING), _json_path(path, key))

    def _list(self, expected: list[Any], actual: Any, path: str) -> None:
        if not isinstance(actual, list):
            self._leaf(False, expected, actual, path, weight=_leaves(expected))
            return
        if len(actual) != len(expected):
            self.failures.append(f"at {path}: expected {len(expected)} items, found {len(actual)}")
            self.checked += 1
        for index, value in enumerate(expected):
            item = actual[index] if index < len(actual) else _MISSING
            self.compare(value, item, _json_path(path, index))

    def _leaf(self, ok: bool, expected: Any, actual: Any, path: str, weight: int = 1) -> None:
        self.checked += weight
        if ok:
            self.matched += weight
        else:
            self.failures.append(f"at {path}: expected {_show(expected)}, found {_show(actual)}")

    def result(self) -> MatchResult:
        score = self.matched / self.checked if self.checked else 1.0
        reason = "; ".join(self.failures[:3])
        if len(self.failures) > 3:
            reason += f"; and {len(self.failures) - 3} more"
        return MatchResult(not self.failures, reason=reason, score=score)


def _leaves(value: Any) -> int:
    if isinstance(value, dict) and _placeholder(value) is None:
        return sum(_leaves(v) for v in value.values()) or 1
    if isinstance(value, list):
        return sum(_leaves(v) for v in value) or 1
    return 1


def _same(expected: Any, actual: Any) -> bool:
    if isinstance(expected, bool) or isinstance(actual, bool):
        return type(expected) is type(actual) and expected == actual
    if _is_number(expected):
        return _is_number(actual) and expected == actual
    return bool(type(expected) is type(actual) and expected == actual)


def _placeholder_holds(inner: str, actual: Any) -> bool:
    if actual is _MISSING:
        return False
    if inner.startswith("regex:"):
        return isinstance(actual, str) and re.search(inner[6:], actual) is not None
    return PLACEHOLDER_TYPES[inner](actual)


def compare_json(expected: Any, actual: Any, path: str = "$") -> MatchResult:
    """Compare a JSON value with an expectation (subset rules and placeholders)."""
    comparison = _Comparison()
    comparison.compare(expected, actual, path)
    return comparison.result()


_Check = Callable[[str | bytes], MatchResult]


class Matcher:
    """A compiled matcher: every check must hold. `description` says what it expects."""

    def __init__(self, checks: list[_Check], spec: MatcherSpec) -> None:
        self.checks = checks
        self._spec = spec

    @property
    def description(self) -> str:
        """What the matcher expects, for a person (built only when a failure shows it)."""
        return ", ".join(_DESCRIBE[name](self._spec) for name in self._spec.matchers())

    def match(self, payload: str | bytes) -> MatchResult:
        """Match one message (text as str, binary as bytes)."""
        if len(self.checks) == 1:  # the common case, without merging
            return self.checks[0](payload)
        results = [check(payload) for check in self.checks]
        captures: dict[str, Any] = {}
        for result in results:
            captures.update(result.captures)
        failed = [r.reason for r in results if not r.ok]
        score = sum(r.score for r in results) / len(results) if results else 1.0
        return MatchResult(not failed, captures if not failed else {}, "; ".join(failed), score)


_BUILD: dict[str, Callable[[MatcherSpec], _Check]] = {
    "text": lambda s: _text_check(s.text or ""),
    "regex": lambda s: _regex_check(s.regex or ""),
    "json": lambda s: _json_check(s.json_),
    "jsonpath": lambda s: _jsonpath_check(s.jsonpath or {}),
    "binary": lambda s: _binary_check(s.binary.to_bytes()),
}

_DESCRIBE: dict[str, Callable[[MatcherSpec], str]] = {
    "text": lambda s: f"text {_show(s.text)}",
    "regex": lambda s: f"text matching /{s.regex}/",
    "json": lambda s: f"JSON containing {_show(s.json_)}",
    "jsonpath": lambda s: f"JSON with {_show(s.jsonpath)}",
    "binary": lambda s: "binary " + _hex(s.binary.to_bytes()),
}


def compile_matcher(spec: MatcherSpec) -> Matcher:
    """Compile the (rendered) matchers of an expect step or ignore rule.

    Raises:
        ValueError: when a regular expression, JSONPath or binary value is invalid (possible
            only once templates have been rendered into them).
    """
    return Matcher([_BUILD[name](spec) for name in spec.matchers()], spec)


def _hex(data: bytes) -> str:
    text = data.hex(" ")
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 3] + "..."


def _not_text(payload: bytes) -> MatchResult:
    return MatchResult(
        False, reason=f"expected a text message, found binary ({len(payload)} bytes)", score=0.0
    )


def _text_check(expected: str) -> _Check:
    def check(payload: str | bytes) -> MatchResult:
        if isinstance(payload, bytes):
            return _not_text(payload)
        if payload == expected:
            return MatchResult(True)
        return MatchResult(
            False,
            reason=f"expected text {_show(expected)}, found {_show(payload)}",
            score=_similarity(expected, payload),
        )

    return check


def _similarity(expected: str, actual: str) -> float:
    matcher = difflib.SequenceMatcher(None, expected, actual, autojunk=False)
    if len(expected) + len(actual) > 4000:
        return matcher.quick_ratio() * 0.99
    return matcher.ratio() * 0.99  # only an exact match scores 1


def _regex_check(pattern: str) -> _Check:
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"invalid regular expression {pattern!r}: {exc}") from exc

    def check(payload: str | bytes) -> MatchResult:
        if isinstance(payload, bytes):
            return _not_text(payload)
        found = compiled.search(payload)
        if found is None:
            return MatchResult(
                False,
                reason=f"expected text matching /{pattern}/, found {_show(payload)}",
                score=0.0,
            )
        return MatchResult(True, captures=found.groupdict())

    return check


def _parse_json(payload: str | bytes) -> tuple[Any, MatchResult | None]:
    if isinstance(payload, bytes):
        return None, _not_text(payload)
    try:
        return json.loads(payload), None
    except json.JSONDecodeError as exc:
        return None, MatchResult(
            False, reason=f"expected JSON, found {_show(payload)} ({exc.msg})", score=0.0
        )


def _json_check(expected: Any) -> _Check:
    check_expected(expected)

    def check(payload: str | bytes) -> MatchResult:
        data, failure = _parse_json(payload)
        return failure or compare_json(expected, data)

    return check


def _jsonpath_check(queries: Mapping[str, Any]) -> _Check:
    compiled = {query: compile_jsonpath(query) for query in queries}
    for expected in queries.values():
        check_expected(expected)

    def check(payload: str | bytes) -> MatchResult:
        data, failure = _parse_json(payload)
        if failure:
            return failure
        comparison = _Comparison()
        for query, expected in queries.items():
            comparison.compare(expected, _select(compiled[query], data), query)
        return comparison.result()

    return check


def _select(query: jsonpath.JSONPath, data: Any) -> Any:
    nodes = query.findall(data)
    if query.singular_query():
        return nodes[0] if nodes else _MISSING
    return nodes


def _binary_check(expected: bytes) -> _Check:
    def check(payload: str | bytes) -> MatchResult:
        if isinstance(payload, str):
            return MatchResult(
                False, reason=f"expected a binary message, found text {_show(payload)}", score=0.0
            )
        if payload == expected:
            return MatchResult(True)
        return MatchResult(
            False,
            reason=f"expected binary {_hex(expected)}, found {_hex(payload)}",
            score=_similarity(expected.hex(), payload.hex()),
        )

    return check


def extract_saves(
    step_save: Mapping[str, str],
    payload: str | bytes,
    captures: Mapping[str, Any],
    location: Location | None = None,
) -> dict[str, Any]:
    """The variables an expect step saves from the message it matched.

    A source starting with `$` is a JSONPath into the message's JSON (one node for a singular
    query, else the list of nodes); any other source names a regex group in `captures`.

    Raises:
        ExecutionError: at `location`, when the message is not JSON or a source finds nothing.
    """
    saved: dict[str, Any] = {}
    data: Any = _MISSING
    for name, source in step_save.items():
        if not source.startswith("$"):
            if source not in captures:
                raise ExecutionError(f"save {name}: the regex has no group {source!r}", location)
            saved[name] = captures[source]
            continue
        if data is _MISSING:
            data, failure = _parse_json(payload)
            if failure:
                raise ExecutionError(f"save {name}: {failure.reason}", location)
        value = _select(compile_jsonpath(source), data)
        if value is _MISSING:
            raise ExecutionError(f"save {name}: {source} selects nothing in the message", location)
        saved[name] = value
    return saved
