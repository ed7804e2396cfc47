"""Choosing scenarios: ``-k EXPR`` on names, ``--tag T`` and ``--exclude-tag T`` on tags.

``-k`` takes words joined by ``and``, ``or``, ``not`` and parentheses, like pytest's; a word
matches a scenario whose name contains it, ignoring case (``-k "chat and not slow"``). A phrase
in double or single quotes is one word, spaces, parentheses and operators included
(``-k '"Engine.IO open" and not slow'``).

`scenario_id` names a scenario the same way on every machine and from every working folder:
``path/of/file.yaml::name[row]``, the path relative to the scenario's project root (the nearest
folder above it holding ``.git``, ``pyproject.toml`` or ``wsrun.toml``, as the suite file lookup
uses). ``--shard`` splits by it and ``--last-failed`` remembers it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol, TypeVar

from runner.scenario.loader import ROOT_MARKERS

__all__ = [
    "Identified",
    "KeywordError",
    "Selectable",
    "compile_keyword",
    "scenario_id",
    "scenario_ids",
    "select",
]


_TOKEN = re.compile(r"\(|\)|\"[^\"]*\"|'[^']*'|[^\s()\"']+|[\"']")

Predicate = Callable[[str], bool]


class Selectable(Protocol):
    """What selection reads of a scenario (`runner.scenario.Scenario` is one)."""

    @property
    def name(self) -> str: ...
    @property
    def tags(self) -> Sequence[str]: ...


SelectableT = TypeVar("SelectableT", bound=Selectable)


class Identified(Protocol):
    """What `scenario_id` reads of a scenario."""

    @property
    def name(self) -> str: ...
    @property
    def file(self) -> Path: ...


def scenario_id(scenario: Identified) -> str:
    """``path/of/file.yaml::name[row]``: the scenario's file relative to its project root (or to
    the working folder when no folder above it marks one), in POSIX form, and its name."""
    return scenario_ids([scenario])[0]


def scenario_ids(scenarios: Sequence[Identified]) -> list[str]:
    """`scenario_id` of each scenario (each folder's project root is looked up once)."""
    roots: dict[str, str] = {}
    ids = []
    for scenario in scenarios:
        folder = os.path.abspath(scenario.file.parent)
        if folder not in roots:
            roots[folder] = _relative_to_root(Path(folder))
        path = f"{roots[folder]}/{scenario.file.name}" if roots[folder] else scenario.file.name
        ids.append(f"{path}::{scenario.name}")
    return ids


def _relative_to_root(folder: Path) -> str:
    """`folder` (absolute) relative to its project root, POSIX, "" for the root itself."""
    current = folder
    while True:
        if any((current / marker).exists() for marker in ROOT_MARKERS):
            return _posix(folder.relative_to(current))
        if current.parent == current:
            break
        current = current.parent
    relative = os.path.relpath(folder)
    return _posix(folder if relative.startswith("..") else Path(relative))


def _posix(path: Path) -> str:
    text = path.as_posix()
    return "" if text == "." else text


class KeywordError(ValueError):
    """A ``-k`` expression that cannot be parsed; the message says where."""


def compile_keyword(expression: str) -> Predicate:
    """Compile a ``-k`` expression into a test on scenario names.

    Raises:
        KeywordError: the expression is empty or malformed.
    """
    tokens = _TOKEN.findall(expression)
    quotes = [t for t in tokens if t in ('"', "'")]
    if quotes:
        raise KeywordError(f"-k {expression!r}: the quote {quotes[0]} is not closed")
    if not tokens:
        raise KeywordError("-k expects an expression, found nothing")
    parser = _Parser(tokens, expression)
    predicate = parser.parse_or()
    if parser.pos != len(tokens):
        raise KeywordError(f"-k {expression!r}: unexpected {tokens[parser.pos]!r}")
    return predicate


class _Parser:
    """Recursive descent: or_expr := and_expr ('or' and_expr)*, and so on down to words."""

    def __init__(self, tokens: list[str], expression: str) -> None:
        self.tokens = tokens
        self.expression = expression
        self.pos = 0

    def _peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def _take(self) -> str:
        token = self._peek()
        if token is None:
            raise KeywordError(f"-k {self.expression!r}: expected a word, found the end")
        self.pos += 1
        return token

    def parse_or(self) -> Predicate:
        left = self.parse_and()
        while self._peek() == "or":
            self.pos += 1
            left = _either(left, self.parse_and())
        return left

    def parse_and(self) -> Predicate:
        left = self.parse_not()
        while self._peek() == "and":
            self.pos += 1
            left = _both(left, self.parse_not())
        return left

    def parse_not(self) -> Predicate:
        if self._peek() == "not":
            self.pos += 1
            inner = self.parse_not()
            return lambda name: not inner(name)
        return self.parse_atom()

    def parse_atom(self) -> Predicate:
        token = self._take()
        if token == "(":
            inner = self.parse_or()
            if self._take() != ")":
                raise KeywordError(f"-k {self.expression!r}: expected ')'")
            return inner
        if token in (")", "and", "or"):
            raise KeywordError(f"-k {self.expression!r}: expected a word, found {token!r}")
        if len(token) >= 2 and token[0] == token[-1] and token[0] in "\"'":
            token = token[1:-1]  # a quoted phrase: one word, operators and all
            if not token.strip():
                raise KeywordError(f"-k {self.expression!r}: an empty phrase matches everything")
        word = token.lower()
        return lambda name: word in name.lower()


def _either(left: Predicate, right: Predicate) -> Predicate:
    return lambda name: left(name) or right(name)


def _both(left: Predicate, right: Predicate) -> Predicate:
    return lambda name: left(name) and right(name)


def select(
    scenarios: Sequence[SelectableT],
    keyword: str | None,
    tags: Sequence[str],
    exclude_tags: Sequence[str] = (),
) -> list[SelectableT]:
    """The scenarios whose name satisfies `keyword`, that carry any of `tags` (if given) and
    none of `exclude_tags`."""
    accept = compile_keyword(keyword) if keyword else (lambda _name: True)
    wanted, unwanted = set(tags), set(exclude_tags)
    return [
        s
        for s in scenarios
        if accept(s.name) and (not wanted or wanted & set(s.tags)) and not unwanted & set(s.tags)
    ]
