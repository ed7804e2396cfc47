"""The core of matching: the JSON subset rules, `MatcherKind`, compiled `Matcher`s, the first
matchers (text, regex, json, jsonpath, binary) and saves.

Matchers: does a received message match what an `expect` step (or an ignore rule) describes?

Each matcher is declared once, as a `MatcherKind` (its name, how its value is checked at load,
compiled, described and diffed); the language's model field that holds it carries that
declaration. `compile_matcher(source)` takes what a rendered step or rule wrote and returns a
`Matcher`. Every matcher written must hold. A result also says why a message did not
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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from runner.errors import ExecutionError, Location
from runner.matching.patterns import PatternError, compile_pattern

if TYPE_CHECKING:  # imported on first use: python-jsonpath takes ~50 ms to import
    import jsonpath

__all__ = [
    "BINARY",
    "JSON",
    "JSONPATH",
    "PLACEHOLDER_TYPES",
    "REGEX",
    "SCORED_PREFIX",
    "TEXT",
    "BinaryPatternValue",
    "BinaryValue",
    "ByteSlice",
    "Check",
    "MatchResult",
    "Matcher",
    "MatcherKind",
    "MatcherSource",
    "Written",
    "check_expected",
    "compare_json",
    "compile_jsonpath",
    "compile_matcher",
    "describe_source",
    "extract_saves",
    "has_template",
    "parse_json",
    "select",
    "show",
    "show_message",
]

_PLACEHOLDER = re.compile(r"\{\{(.*)\}\}", re.DOTALL)
_MAX_SHOWN = 80
_MISSING = object()
#: Scores and diffs look at this many characters (or bytes) of a message at most: a closest-match
#: score over a whole 60 MB message took gigabytes and stretched the step's timeout.
SCORED_PREFIX = 4096
#: A diff shows strings cut to this many characters, and this many extra list items.
_DIFF_STRING = 200
_DIFF_ITEMS = 20


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
    import jsonpath

    try:
        compiled = _environment().compile(query)
    except jsonpath.JSONPathError as exc:
        reason = str(exc).splitlines()[0]
        raise ValueError(f"invalid JSONPath {query!r}: {reason}") from exc
    if not isinstance(compiled, jsonpath.JSONPath):
        raise ValueError(f"invalid JSONPath {query!r}: expected a single query")
    return compiled


@lru_cache(maxsize=1)
def _environment() -> jsonpath.JSONPathEnvironment:
    import jsonpath

    return jsonpath.JSONPathEnvironment(strict=True)


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
            compile_pattern(inner[6:])
        except PatternError as exc:
            where = f"{{{{{_cut(inner)}}}}}"
            raise ValueError(f"invalid regular expression in {where}: {exc.reason}") from None
    elif inner not in PLACEHOLDER_TYPES:
        names = [*PLACEHOLDER_TYPES, "regex:"]
        close = difflib.get_close_matches(inner, names, n=1)
        hint = f" (did you mean {{{{{close[0]}}}}}?)" if close else ""
        raise ValueError(f"unknown placeholder {{{{{inner}}}}}{hint}")


def show(value: Any) -> str:
    """A JSON value for a person, cut to a line."""
    return _show(value)


def show_message(payload: str | bytes) -> str:
    """A message for a person: text as JSON text, binary as hex."""
    return f"binary {_hex(payload)}" if isinstance(payload, bytes) else _show(payload)


def parse_json(payload: str | bytes) -> tuple[Any, MatchResult | None]:
    """The JSON of a text message, or None and the failed result that says why not."""
    return _parse_json(payload)


def _cut(text: str) -> str:
    """A text written in a file, cut to a line for a message."""
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 3] + "..."


_SHOW_ENCODER = json.JSONEncoder(ensure_ascii=False, default=str)


def _show(value: Any) -> str:
    """`value` as JSON cut to a line; only its first pieces are encoded, so that showing a part
    of a 60 MB message costs what the line costs."""
    if value is _MISSING:
        return "nothing"
    if isinstance(value, str):
        return _cut(json.dumps(value[:_MAX_SHOWN], ensure_ascii=False))
    pieces: list[str] = []
    size = 0
    try:
        for piece in _SHOW_ENCODER.iterencode(value):
            if len(piece) > _MAX_SHOWN:  # a long string inside: its start is enough
                piece = piece[:_MAX_SHOWN]
            pieces.append(piece)
            size += len(piece)
            if size > _MAX_SHOWN:
                break
    except (RecursionError, ValueError):  # nested too deeply; an integer too long to print
        pieces.append("...")
    return _cut("".join(pieces))


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
        return isinstance(actual, str) and compile_pattern(inner[6:]).search(actual) is not None
    return PLACEHOLDER_TYPES[inner](actual)


def compare_json(expected: Any, actual: Any, path: str = "$") -> MatchResult:
    """Compare a JSON value with an expectation (subset rules and placeholders)."""
    comparison = _Comparison()
    comparison.compare(expected, actual, path)
    return comparison.result()


Check = Callable[[str | bytes], MatchResult]
_V = TypeVar("_V")


def _no_check(value: object) -> None:
    """A matcher whose values the field's type checks fully."""


@dataclass(frozen=True, slots=True)
class MatcherKind(Generic[_V]):
    """One matcher of the language, declared once: the model's field that holds it carries this
    declaration in its `Annotated` metadata, and everything else follows from it.

    Attributes:
        name: the matcher's name as written (``json``).
        build: the compiled check of a rendered value; raises ValueError for a bad one.
        describe: what the matcher expects, for a person.
        check: the check at load time (raises ValueError); values still holding a ``${...}``
            template are checked as far as they can be, and again by `build` once rendered.
        diff: a diff of the expected value and a message that did not match, if it helps.
    """

    name: str
    build: Callable[[_V], Check]
    describe: Callable[[_V], str]
    check: Callable[[_V], None] = _no_check
    diff: Callable[[_V, str | bytes], str | None] | None = None


@dataclass(frozen=True, slots=True)
class Written(Generic[_V]):
    """A matcher written in a step or rule, with its value."""

    kind: MatcherKind[_V]
    value: _V


class MatcherSource(Protocol):
    """What holds matchers: an `expect` step or an `ignore` rule (rendered)."""

    def written_matchers(self) -> Sequence[Written[Any]]:
        """The matchers written, in the order of their declarations."""
        ...


class Matcher:
    """A compiled matcher: every check must hold. `description` says what it expects."""

    def __init__(self, source: MatcherSource) -> None:
        # Only the source is kept, not its list of matchers: one compiled matcher per step is
        # alive for the whole run, and every object more per step slows the garbage collector.
        self._source = source
        self.checks = [item.kind.build(item.value) for item in source.written_matchers()]

    @property
    def description(self) -> str:
        """What the matcher expects, for a person (built only when a failure shows it)."""
        return describe_source(self._source)

    def diff(self, payload: str | bytes) -> str | None:
        """The first diff a matcher of this one offers for a message that did not match."""
        try:
            for item in self._source.written_matchers():
                if item.kind.diff is not None and (found := item.kind.diff(item.value, payload)):
                    return found
        except RecursionError:  # a hostile message nested too deeply: no diff
            return None
        return None

    def match(self, payload: str | bytes) -> MatchResult:
        """Match one message (text as str, binary as bytes)."""
        try:
            return self._match(payload)
        except RecursionError:  # JSON nested too deeply for a recursive walk (JSONPath's ..)
            return MatchResult(False, reason="the message is nested too deeply to match", score=0.0)

    def _match(self, payload: str | bytes) -> MatchResult:
        if len(self.checks) == 1:  # the common case, without merging
            return self.checks[0](payload)
        results = [check(payload) for check in self.checks]
        captures: dict[str, Any] = {}
        for result in results:
            captures.update(result.captures)
        failed = [r.reason for r in results if not r.ok]
        score = sum(r.score for r in results) / len(results) if results else 1.0
        return MatchResult(not failed, captures if not failed else {}, "; ".join(failed), score)


def describe_source(source: MatcherSource) -> str:
    """What the matchers of `source` expect, for a person."""
    return ", ".join(item.kind.describe(item.value) for item in source.written_matchers())


def compile_matcher(source: MatcherSource) -> Matcher:
    """Compile the (rendered) matchers of an expect step or ignore rule.

    Raises:
        ValueError: when a regular expression, JSONPath or binary value is invalid (possible
            only once templates have been rendered into them).
    """
    return Matcher(source)


def _hex(data: bytes) -> str:
    text = data[: _MAX_SHOWN // 3 + 1].hex(" ")
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 3] + "..."


def _not_text(payload: bytes) -> MatchResult:
    return MatchResult(
        False, reason=f"expected a text message, found binary ({len(payload)} bytes)", score=0.0
    )


def _text_check(expected: str) -> Check:
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
    """How alike two texts are (0 to 0.99; only an exact match scores 1), judged on their first
    `SCORED_PREFIX` characters and their lengths: time and memory stay bounded."""
    return _alike(expected[:SCORED_PREFIX], actual[:SCORED_PREFIX], len(expected), len(actual))


def _byte_similarity(expected: bytes, actual: bytes) -> float:
    """`_similarity` of two byte strings: the hex of their first bytes, and their lengths."""
    half = SCORED_PREFIX // 2
    return _alike(expected[:half].hex(), actual[:half].hex(), len(expected), len(actual))


def _alike(head: str, other: str, length: int, other_length: int) -> float:
    if not length and not other_length:
        return 0.99
    matcher = difflib.SequenceMatcher(None, head, other, autojunk=False)
    ratio = matcher.quick_ratio() if len(head) + len(other) > 4000 else matcher.ratio()
    if len(head) == length and len(other) == other_length:
        return ratio * 0.99  # both whole: the ratio says it all
    lengths = min(length, other_length) / max(length, other_length)
    return ratio * (0.5 + 0.5 * lengths) * 0.99


def _regex_check(pattern: str) -> Check:
    try:
        compiled = compile_pattern(pattern)
    except PatternError as exc:
        raise ValueError(f"invalid regular expression /{_cut(pattern)}/: {exc.reason}") from None

    def check(payload: str | bytes) -> MatchResult:
        if isinstance(payload, bytes):
            return _not_text(payload)
        found = compiled.search(payload)
        if found is None:
            return MatchResult(
                False,
                reason=f"expected text matching /{_cut(pattern)}/, found {_show(payload)}",
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
    except (RecursionError, ValueError) as exc:  # a server's hostile JSON: too deep, huge ints
        why = "nested too deeply" if isinstance(exc, RecursionError) else str(exc).split(":")[0]
        return None, MatchResult(
            False, reason=f"expected JSON, found {_show(payload)} ({why.lower()})", score=0.0
        )


def _json_check(expected: Any) -> Check:
    check_expected(expected)

    def check(payload: str | bytes) -> MatchResult:
        data, failure = _parse_json(payload)
        return failure or compare_json(expected, data)

    return check


def _jsonpath_check(queries: Mapping[str, Any]) -> Check:
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


def select(query: str, data: Any) -> tuple[bool, Any]:
    """What an RFC 9535 query selects in JSON `data`: the node of a singular query (found is
    False when there is none), or the list of nodes of any other query."""
    value = _select(compile_jsonpath(query), data)
    return (False, None) if value is _MISSING else (True, value)


def _select(query: jsonpath.JSONPath, data: Any) -> Any:
    nodes = query.findall(data)
    if query.singular_query():
        return nodes[0] if nodes else _MISSING
    return nodes


def _binary_check(expected: bytes) -> Check:
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
            score=_byte_similarity(expected, payload),
        )

    return check


class BinaryValue(Protocol):
    """A binary value as the language holds it (hex or base64)."""

    def to_bytes(self) -> bytes:
        """The bytes; raises ValueError when the text does not decode."""
        ...


class BinaryPatternValue(Protocol):
    """A binary matcher as the language holds it: bytes, some of them wildcards (None), and
    whether the message need only start with them."""

    @property
    def prefix(self) -> bool:
        """Whether the message need only start with the pattern."""
        ...

    def pattern(self) -> list[int | None]:
        """The bytes, None for a wildcard; raises ValueError when the text does not decode."""
        ...


def _pattern_hex(pattern: Sequence[int | None]) -> str:
    text = " ".join("??" if byte is None else f"{byte:02x}" for byte in pattern)
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 3] + "..."


def _binary_kind_check(value: BinaryPatternValue) -> Check:
    pattern = value.pattern()
    if not value.prefix and None not in pattern:  # plain equality: the fast path, as before
        return _binary_check(bytes(b for b in pattern if b is not None))
    return _binary_pattern_check(pattern, value.prefix)


def _binary_pattern_check(pattern: list[int | None], prefix: bool) -> Check:
    # One compiled regular expression over bytes: a wildcard is any byte (DOTALL).
    parts = [b"." if byte is None else re.escape(bytes([byte])) for byte in pattern]
    compiled = re.compile(b"".join(parts), re.DOTALL)
    test = compiled.match if prefix else compiled.fullmatch
    wanted = ("starting with " if prefix else "") + _pattern_hex(pattern)
    shown = "".join("??" if byte is None else f"{byte:02x}" for byte in pattern)

    def check(payload: str | bytes) -> MatchResult:
        if isinstance(payload, str):
            return MatchResult(
                False, reason=f"expected a binary message, found text {_show(payload)}", score=0.0
            )
        if test(payload) is not None:
            return MatchResult(True)
        return MatchResult(
            False,
            reason=f"expected binary {wanted}, found {_hex(payload)}",
            score=_similarity(shown, payload[:SCORED_PREFIX].hex()),
        )

    return check


def _describe_binary(value: BinaryPatternValue) -> str:
    return "binary " + ("starting with " if value.prefix else "") + _pattern_hex(value.pattern())


def has_template(text: str) -> bool:
    """Whether `text` holds a ``${...}`` template (``$${`` is a literal ``${``): the language
    renders it at run time, so what it will be is checked then."""
    return "${" in text.replace("$${", "")


def _check_regex(pattern: str) -> None:
    if not has_template(pattern):
        compile_pattern(pattern)  # a PatternError is a ValueError: the model locates it


def _check_queries(queries: Mapping[str, Any]) -> None:
    for query, expected in queries.items():
        if not has_template(query):
            compile_jsonpath(query)
        check_expected(expected)


def _json_diff(expected: Any, payload: str | bytes) -> str | None:
    """A unified diff of the expected JSON and a received message, or None if it is not JSON.

    The received side is cut to what `expected` names, long strings to their start and long
    lists to a few more items than expected: the diff of a 60 MB message stays a few lines."""
    try:
        received = json.loads(payload)
        left = _pretty(expected).splitlines()
        right = _pretty(_project(expected, received)).splitlines()
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    lines = difflib.unified_diff(left, right, "expected", "received", lineterm="", n=2)
    return "\n".join(lines) or None


def _project(expected: Any, received: Any) -> Any:
    """`received` cut to the keys `expected` names: `json` matches a subset, so keys it does not
    mention cannot be wrong, and showing them would hide the line that is."""
    if isinstance(expected, dict) and isinstance(received, dict):
        return {k: _project(expected[k], received[k]) for k in expected if k in received}
    if isinstance(expected, list) and isinstance(received, list):
        head = [_project(e, r) for e, r in zip(expected, received, strict=False)]
        tail = [_bounded(item) for item in received[len(expected) : len(expected) + _DIFF_ITEMS]]
        more = len(received) - len(expected) - len(tail)
        return head + tail + ([f"... {more} more items"] if more > 0 else [])
    return _bounded(received)


def _bounded(value: Any, depth: int = 0) -> Any:
    """`value` with long strings cut, long lists and mappings cut, deep nesting elided."""
    if isinstance(value, str):
        return (
            value
            if len(value) <= _DIFF_STRING
            else f"{value[:_DIFF_STRING]}... ({len(value):,} characters)"
        )
    if depth > 8 and isinstance(value, dict | list):
        return "..."
    if isinstance(value, list):
        head = [_bounded(item, depth + 1) for item in value[:_DIFF_ITEMS]]
        return head + (
            [f"... {len(value) - _DIFF_ITEMS} more items"] if len(value) > _DIFF_ITEMS else []
        )
    if isinstance(value, dict):
        items = list(value.items())[:_DIFF_ITEMS]
        shown = {k: _bounded(v, depth + 1) for k, v in items}
        if len(value) > _DIFF_ITEMS:
            shown["..."] = f"{len(value) - _DIFF_ITEMS} more keys"
        return shown
    return value


def _pretty(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str)


# -- the matchers of the language, one declaration each -------------------------------------

TEXT: MatcherKind[str] = MatcherKind("text", _text_check, lambda v: f"text {_show(v)}")
REGEX: MatcherKind[str] = MatcherKind(
    "regex", _regex_check, lambda v: f"text matching /{_cut(v)}/", check=_check_regex
)
JSON: MatcherKind[Any] = MatcherKind(
    "json",
    _json_check,
    lambda v: f"JSON containing {_show(v)}",
    check=check_expected,
    diff=_json_diff,
)
JSONPATH: MatcherKind[Mapping[str, Any]] = MatcherKind(
    "jsonpath", _jsonpath_check, lambda v: f"JSON with {_show(v)}", check=_check_queries
)
BINARY: MatcherKind[BinaryPatternValue] = MatcherKind(
    "binary", _binary_kind_check, _describe_binary
)


class ByteSlice(Protocol):
    """A save from a binary message: bytes `first` to `last` (inclusive, from 0), read as
    `as_` (``hex``: lowercase hex digits; ``int``: an unsigned integer in byte `order`)."""

    @property
    def bytes_(self) -> Sequence[int]:
        """The first and the last byte."""
        ...

    @property
    def as_(self) -> str:
        """``hex`` or ``int``."""
        ...

    @property
    def order(self) -> str:
        """``big`` or ``little`` (for ``int``)."""
        ...


def _take_bytes(name: str, source: ByteSlice, payload: str | bytes, where: Location | None) -> Any:
    first, last = source.bytes_
    if isinstance(payload, str):
        raise ExecutionError(f"save {name}: bytes {first}..{last} of a text message", where)
    if last >= len(payload):
        raise ExecutionError(
            f"save {name}: bytes {first}..{last} are beyond the message ({len(payload)} bytes)",
            where,
        )
    chunk = payload[first : last + 1]
    if source.as_ == "int":
        return int.from_bytes(chunk, "little" if source.order == "little" else "big")
    return chunk.hex()


def extract_saves(
    step_save: Mapping[str, str | ByteSlice],
    payload: str | bytes,
    captures: Mapping[str, Any],
    location: Location | None = None,
) -> dict[str, Any]:
    """The variables an expect step saves from the message it matched.

    A source starting with `$` is a JSONPath into the message's JSON (one node for a singular
    query, else the list of nodes); a `ByteSlice` takes bytes of a binary message; any other
    source names a regex group in `captures`.

    Raises:
        ExecutionError: at `location`, when the message is not JSON (or not binary, for bytes),
            or a source finds nothing.
    """
    saved: dict[str, Any] = {}
    data: Any = _MISSING
    for name, source in step_save.items():
        if not isinstance(source, str):
            saved[name] = _take_bytes(name, source, payload, location)
            continue
        if not source.startswith("$"):
            if source not in captures:
                raise ExecutionError(f"save {name}: the regex has no group {source!r}", location)
            saved[name] = captures[source]
            continue
        if data is _MISSING:
            data, failure = _parse_json(payload)
            if failure:
                raise ExecutionError(f"save {name}: {failure.reason}", location)
        try:
            value = _select(compile_jsonpath(source), data)
        except RecursionError:
            raise ExecutionError(
                f"save {name}: the message is nested too deeply for {source}", location
            ) from None
        if value is _MISSING:
            raise ExecutionError(f"save {name}: {source} selects nothing in the message", location)
        saved[name] = value
    return saved
