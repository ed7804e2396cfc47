"""Regular expressions written in a file: compiled by RE2, which runs in linear time.

Every regular expression a scenario, library or suite file can hold (`regex`, ``{{regex:...}}``,
an `ignore` rule, a service's `ready.log`) is compiled here, by one engine: RE2 (the
`google-re2` package). RE2 has no backtracking, so no pattern can pin a CPU on a hostile
message: a search takes time linear in the message, whatever the pattern. The price is what RE2
lacks: backreferences (``\\1``, ``(?P=name)``), lookaround (``(?=``, ``(?!``, ``(?<=``,
``(?<!``), atomic groups and possessive quantifiers, conditionals, comments and verbose mode
(``(?x)``), and a few escapes (``\\Z``: write ``\\z``). A pattern that needs one of them is a
`PatternError`, which the models turn into a located error at load time.

Limits: a pattern is at most `MAX_PATTERN_LENGTH` characters, a counted repetition at most
1,000 (RE2's own limit; nested counts multiply: ``((ab){100}){20}`` is 2,000), and its compiled
program must fit in `MAX_PROGRAM_MEMORY`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import re2  # type: ignore[import-untyped]

__all__ = [
    "MAX_PATTERN_LENGTH",
    "MAX_PROGRAM_MEMORY",
    "Pattern",
    "PatternError",
    "PatternMatch",
    "compile_pattern",
]

#: The longest pattern accepted, in characters.
MAX_PATTERN_LENGTH = 10_000
#: The memory RE2 may use for one compiled pattern (its program and its DFA caches).
MAX_PROGRAM_MEMORY = 8 << 20

#: What RE2 reports (the start of its message), and what the pattern asked for in words.
_LACKS = (
    ("invalid perl operator: (?=", "lookahead (?=...)"),
    ("invalid perl operator: (?!", "negative lookahead (?!...)"),
    ("invalid perl operator: (?<=", "lookbehind (?<=...)"),
    ("invalid perl operator: (?<!", "negative lookbehind (?<!...)"),
    ("invalid perl operator: (?>", "atomic groups (?>...)"),
    ("invalid perl operator: (?#", "comments (?#...)"),
    ("invalid perl operator: (?(", "conditionals (?(...)...)"),
    ("invalid perl operator: (?x", "verbose mode (?x)"),
    ("bad repetition operator: ++", "possessive quantifiers (++)"),
    ("bad repetition operator: *+", "possessive quantifiers (*+)"),
    ("bad repetition operator: ?+", "possessive quantifiers (?+)"),
    ("invalid escape sequence: \\Z", "\\Z (write \\z for the end of the text)"),
    ("invalid repetition size", "repeating more than 1000 times (nested counts multiply)"),
)


class PatternError(ValueError):
    """A regular expression RE2 cannot take; the message says what it lacks or what is wrong.

    A ValueError, so that a model's validator reports it at the value's location.
    """

    def __init__(self, pattern: str, reason: str) -> None:
        self.pattern = pattern
        self.reason = reason  # without the leading "invalid regular expression: "
        super().__init__(reason)

    def __str__(self) -> str:
        return f"invalid regular expression: {self.reason}"


@dataclass(frozen=True, slots=True)
class PatternMatch:
    """Where a pattern was found: the text matched and its named groups (None when a group
    took no part in the match)."""

    text: str
    start: int
    end: int
    groups: Mapping[str, str | None]

    def groupdict(self) -> dict[str, str | None]:
        """The named groups, as `re.Match.groupdict` gives them."""
        return dict(self.groups)


class Pattern:
    """A compiled regular expression (RE2): `search` finds it in a text in linear time."""

    __slots__ = ("_compiled", "pattern")

    def __init__(self, pattern: str, compiled: Any) -> None:
        self.pattern = pattern
        self._compiled = compiled

    @property
    def groupindex(self) -> dict[str, int]:
        """The named groups, each with its number."""
        return dict(self._compiled.groupindex)

    def search(self, text: str) -> PatternMatch | None:
        """The first place where the pattern is found in `text`, or None."""
        found = self._compiled.search(text)
        if found is None:
            return None
        start, end = found.span()
        return PatternMatch(found.group(0), start, end, found.groupdict())

    def fullmatch(self, text: str) -> bool:
        """Whether the pattern matches the whole of `text`."""
        return self._compiled.fullmatch(text) is not None

    def __repr__(self) -> str:
        return f"Pattern({self.pattern!r})"


def compile_pattern(text: str, *, ignore_case: bool = False, multiline: bool = False) -> Pattern:
    """Compile a regular expression written in a file (RE2's syntax; see the module's doc).

    `ignore_case` and `multiline` are the flags ``(?i)`` and ``(?m)`` (inline flags written in
    the pattern work too).

    Raises:
        PatternError: the pattern is too long, invalid, or needs what RE2 lacks.
    """
    if not isinstance(text, str):
        raise PatternError(str(text), f"expected a string, found {type(text).__name__}")
    if len(text) > MAX_PATTERN_LENGTH:
        raise PatternError(
            text,
            f"{len(text):,} characters long; the limit is {MAX_PATTERN_LENGTH:,}",
        )
    flags = ("i" if ignore_case else "") + ("m" if multiline else "")
    return _compile(f"(?{flags}){text}" if flags else text, text)


@lru_cache(maxsize=512)
def _compile(source: str, written: str) -> Pattern:
    options = re2.Options()
    options.log_errors = False  # RE2 would print every error on stderr
    options.max_mem = MAX_PROGRAM_MEMORY
    try:
        compiled = re2.compile(source, options)
    except re2.error as exc:
        raise PatternError(written, _reason(exc, written)) from None
    return Pattern(written, compiled)


def _reason(exc: Exception, pattern: str) -> str:
    raw = exc.args[0] if exc.args else ""
    message = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    if message.startswith("invalid perl operator: (?P") and "(?P=" in pattern:
        return "RE2 does not support backreferences ((?P=name))"
    for start, lacking in _LACKS:
        if message.startswith(start):
            return f"RE2 does not support {lacking} ({message})"
    if message.startswith("invalid escape sequence: \\") and message[-1:].isdigit():
        return f"RE2 does not support backreferences ({message})"
    if message.startswith("pattern too large"):
        return f"too large for RE2 (its program would take over {MAX_PROGRAM_MEMORY >> 20} MiB)"
    return message
