"""The matchers built on the core: `contains`, `json_schema`, `not`, `any_of` and `text_json`.

`not` and `any_of` hold sets of matchers (any `MatcherSource`), compiled like a step's own.
`json_schema` uses the `jsonschema` package, imported the first time a schema is checked (the
CLI starts without it); a schema is checked (its metaschema) at load, and a schema file is read
once per run.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

from runner.matching.core import (
    SCORED_PREFIX,
    Check,
    Matcher,
    MatcherKind,
    MatcherSource,
    MatchResult,
    check_expected,
    compare_json,
    describe_source,
    show,
    show_message,
)

__all__ = [
    "ANY_OF",
    "CONTAINS",
    "JSON_SCHEMA",
    "NOT",
    "TEXT_JSON",
    "TextJsonValue",
    "check_schema",
    "load_schema",
]


def _binary_found(payload: bytes) -> MatchResult:
    return MatchResult(
        False, reason=f"expected a text message, found binary ({len(payload)} bytes)", score=0.0
    )


# -- contains ----------------------------------------------------------------------------------


def _contains_check(expected: str) -> Check:
    def check(payload: str | bytes) -> MatchResult:
        if isinstance(payload, bytes):
            return _binary_found(payload)
        if expected in payload:
            return MatchResult(True)
        return MatchResult(
            False,
            reason=f"expected text containing {show(expected)}, found {show(payload)}",
            score=_overlap(expected, payload),
        )

    return check


def _overlap(expected: str, payload: str) -> float:
    """How much of `expected` appears in one piece in `payload` (0 to 0.99), judged on the
    first `SCORED_PREFIX` characters of each: time and memory stay bounded."""
    import difflib

    if not expected:
        return 0.0
    head, seen = expected[:SCORED_PREFIX], payload[:SCORED_PREFIX]
    matcher = difflib.SequenceMatcher(None, head, seen, autojunk=False)
    longest = matcher.find_longest_match(0, len(head), 0, len(seen))
    return longest.size / len(head) * 0.99


# -- json_schema -------------------------------------------------------------------------------


def check_schema(schema: Any) -> None:
    """Check a JSON Schema against its metaschema; raises ValueError naming the problem."""
    from jsonschema import exceptions, validators  # type: ignore[import-untyped]

    if not isinstance(schema, dict | bool):
        raise ValueError(f"expected a JSON Schema (a mapping), found {show(schema)}")
    try:
        validators.validator_for(schema).check_schema(schema)
    except exceptions.SchemaError as exc:
        where = exc.json_path
        raise ValueError(f"invalid JSON Schema at {where}: {exc.message}") from None


@lru_cache(maxsize=64)
def load_schema(path: str) -> Any:
    """The checked JSON Schema in the file at `path` (read once); raises ValueError."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ValueError(f"cannot read the schema file {path}: {exc.strerror}") from None
    try:
        schema = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"the schema file {path} is not JSON: {exc}") from None
    check_schema(schema)
    return schema


def _schema_of(value: dict[str, Any] | str) -> Any:
    return load_schema(value) if isinstance(value, str) else value


class _Validator(Protocol):
    """What is used of a `jsonschema` validator (the package has no type stubs)."""

    def iter_errors(self, instance: Any) -> Iterator[Any]:
        """Every way `instance` breaks the schema."""
        ...


def _validator(schema: Any) -> _Validator:
    from jsonschema import validators

    check_schema(schema)  # again: a rendered template may have changed it
    validator: _Validator = validators.validator_for(schema)(schema)
    return validator


def _json_schema_check(value: dict[str, Any] | str) -> Check:
    validator = _validator(_schema_of(value))

    def check(payload: str | bytes) -> MatchResult:
        if isinstance(payload, bytes):
            return _binary_found(payload)
        try:
            data = json.loads(payload)
        except json.JSONDecodeError as exc:
            return MatchResult(
                False, reason=f"expected JSON, found {show(payload)} ({exc.msg})", score=0.0
            )
        errors = list(validator.iter_errors(data))
        if not errors:
            return MatchResult(True)
        return MatchResult(False, reason=_schema_reason(errors), score=0.9 / (1 + len(errors)))

    return check


def _schema_reason(errors: Sequence[Any]) -> str:
    from jsonschema.exceptions import best_match  # type: ignore[import-untyped]

    first = best_match(errors)
    reason = f"at {first.json_path}: {first.message} (schema keyword {first.validator})"
    if len(errors) > 1:
        reason += f"; and {len(errors) - 1} more"
    return reason


def _check_schema_value(value: dict[str, Any] | str) -> None:
    """At load: an inline schema is checked now (unless it holds a template, then once
    rendered); a path is checked by the model, which knows the scenario's folder."""
    if isinstance(value, dict) and "${" not in json.dumps(value):
        check_schema(value)


def _describe_schema(value: dict[str, Any] | str) -> str:
    if isinstance(value, str):
        return f"JSON valid against the schema {_short_path(value)}"
    return f"JSON valid against the schema {show(value)}"


def _short_path(path: str) -> str:
    try:
        relative = Path(path).relative_to(Path.cwd())
    except ValueError:
        return path
    return str(relative)


# -- not, any_of -------------------------------------------------------------------------------


def _described(source: MatcherSource) -> str:
    text = describe_source(source)
    return f"({text})" if len(source.written_matchers()) > 1 else text


_MATCHED = MatchResult(True)


def _not_check(source: MatcherSource) -> Check:
    inner = Matcher(source)

    def check(payload: str | bytes) -> MatchResult:
        if inner.match(payload).ok:
            return MatchResult(
                False,
                reason=f"expected not {_described(source)}, found {show_message(payload)}",
                score=0.0,
            )
        return MatchResult(True)

    return check


def _any_of_check(sources: Sequence[MatcherSource]) -> Check:
    alternatives = [Matcher(source) for source in sources]

    def check(payload: str | bytes) -> MatchResult:
        results = []
        for alternative in alternatives:
            result = alternative.match(payload)
            if result.ok:
                # Not its captures: which alternative matches is known only at run time, and
                # the loader checks every variable a step uses before anything runs.
                return _MATCHED
            results.append(result)
        reasons = " | ".join(result.reason for result in results)
        score = max((result.score for result in results), default=0.0)
        return MatchResult(False, reason=f"matched none of: {reasons}", score=score)

    return check


def _any_of_diff(sources: Sequence[MatcherSource], payload: str | bytes) -> str | None:
    """The diff of the alternative that came closest."""
    alternatives = [Matcher(source) for source in sources]
    closest = max(alternatives, key=lambda alternative: alternative.match(payload).score)
    return closest.diff(payload)


def _check_any_of(sources: Sequence[MatcherSource]) -> None:
    if not sources:
        raise ValueError("expected at least one set of matchers in any_of, found none")


def _describe_any_of(sources: Sequence[MatcherSource]) -> str:
    return "any of: " + " | ".join(_described(source) for source in sources)


# -- text_json ---------------------------------------------------------------------------------


class TextJsonValue(Protocol):
    """JSON after a fixed prefix in a text message (Socket.IO ``42[...]``, Engine.IO ``0{...}``)."""

    @property
    def prefix(self) -> str:
        """The text the message starts with."""
        ...

    @property
    def json_(self) -> Any:
        """The JSON expected after the prefix (subset rules and placeholders, like `json`)."""
        ...


def _after_prefix(value: TextJsonValue, payload: str | bytes) -> tuple[Any, MatchResult | None]:
    if isinstance(payload, bytes):
        return None, _binary_found(payload)
    prefix = value.prefix
    if not payload.startswith(prefix):
        reason = f"expected text starting with {show(prefix)}, found {show(payload)}"
        return None, MatchResult(False, reason=reason, score=0.0)
    try:
        return json.loads(payload[len(prefix) :]), None
    except json.JSONDecodeError as exc:
        reason = f"expected JSON after {show(prefix)}, found {show(payload)} ({exc.msg})"
        return None, MatchResult(False, reason=reason, score=0.0)


def _text_json_check(value: TextJsonValue) -> Check:
    check_expected(value.json_)

    def check(payload: str | bytes) -> MatchResult:
        data, failure = _after_prefix(value, payload)
        return failure or compare_json(value.json_, data)

    return check


def _text_json_diff(value: TextJsonValue, payload: str | bytes) -> str | None:
    from runner.matching.core import JSON

    data, failure = _after_prefix(value, payload)
    if failure is not None or JSON.diff is None:
        return None
    return JSON.diff(value.json_, json.dumps(data))


CONTAINS: MatcherKind[str] = MatcherKind(
    "contains", _contains_check, lambda v: f"text containing {show(v)}"
)
JSON_SCHEMA: MatcherKind[dict[str, Any] | str] = MatcherKind(
    "json_schema", _json_schema_check, _describe_schema, check=_check_schema_value
)
NOT: MatcherKind[MatcherSource] = MatcherKind("not", _not_check, lambda v: f"not {_described(v)}")
ANY_OF: MatcherKind[Sequence[MatcherSource]] = MatcherKind(
    "any_of", _any_of_check, _describe_any_of, check=_check_any_of, diff=_any_of_diff
)
TEXT_JSON: MatcherKind[TextJsonValue] = MatcherKind(
    "text_json",
    _text_json_check,
    lambda v: f"text {show(v.prefix)} then JSON containing {show(v.json_)}",
    check=lambda v: check_expected(v.json_),
    diff=_text_json_diff,
)
