"""Matchers: does a received message match what an `expect` step (or an ignore rule) describes?

Each matcher is declared once, as a `MatcherKind` (its name, how its value is checked at load,
compiled, described and diffed); the language's model field that holds it carries that
declaration. `compile_matcher(source)` takes what a rendered step or rule wrote and returns a
`Matcher`. `core` holds the JSON subset rules, the compiled `Matcher`, saves and the first
matchers; `more` the matchers built on them (contains, json_schema, not, any_of, text_json);
`patterns` compiles every regular expression a file holds, with RE2 (linear time).
"""

from __future__ import annotations

from runner.matching.core import (
    BINARY,
    JSON,
    JSONPATH,
    PLACEHOLDER_TYPES,
    REGEX,
    TEXT,
    BinaryPatternValue,
    BinaryValue,
    ByteSlice,
    Check,
    Matcher,
    MatcherKind,
    MatcherSource,
    MatchResult,
    Written,
    check_expected,
    compare_json,
    compile_jsonpath,
    compile_matcher,
    describe_source,
    extract_saves,
    has_template,
    parse_json,
    select,
    show,
    show_message,
)
from runner.matching.more import (
    ANY_OF,
    CONTAINS,
    JSON_SCHEMA,
    NOT,
    TEXT_JSON,
    TextJsonValue,
    check_schema,
    load_schema,
)
from runner.matching.patterns import (
    MAX_PATTERN_LENGTH,
    Pattern,
    PatternError,
    PatternMatch,
    compile_pattern,
)

__all__ = [
    "ANY_OF",
    "BINARY",
    "CONTAINS",
    "JSON",
    "JSONPATH",
    "JSON_SCHEMA",
    "MAX_PATTERN_LENGTH",
    "NOT",
    "PLACEHOLDER_TYPES",
    "REGEX",
    "TEXT",
    "TEXT_JSON",
    "BinaryPatternValue",
    "BinaryValue",
    "ByteSlice",
    "Check",
    "MatchResult",
    "Matcher",
    "MatcherKind",
    "MatcherSource",
    "Pattern",
    "PatternError",
    "PatternMatch",
    "TextJsonValue",
    "Written",
    "check_expected",
    "check_schema",
    "compare_json",
    "compile_jsonpath",
    "compile_matcher",
    "compile_pattern",
    "describe_source",
    "extract_saves",
    "has_template",
    "load_schema",
    "parse_json",
    "select",
    "show",
    "show_message",
]
