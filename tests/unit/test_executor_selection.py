"""``-k`` expressions and ``--tag`` selection."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from runner.executor.selection import KeywordError, compile_keyword, select


@dataclass
class Named:
    name: str
    tags: list[str] = field(default_factory=list)


@pytest.mark.parametrize(
    ("expression", "name", "expected"),
    [
        ("chat", "Chat broadcast", True),
        ("chat and not slow", "chat slow", False),
        ("chat and not slow", "chat fast", True),
        ("echo or chat", "echo text", True),
        ("not (echo or chat)", "rpc", True),
        ("not (echo or chat)", "echo", False),
        ("a and b or c", "c", True),
        ("a and (b or c)", "c", False),
    ],
)
def test_keyword_expressions(expression: str, name: str, expected: bool) -> None:
    assert compile_keyword(expression)(name) is expected


@pytest.mark.parametrize("expression", ["", "a and", "(a", "a b", "or a", "a )"])
def test_malformed_keywords_are_refused(expression: str) -> None:
    with pytest.raises(KeywordError, match="-k"):
        compile_keyword(expression)


def test_select_by_keyword_and_tags() -> None:
    scenarios = [Named("chat", ["smoke"]), Named("echo", ["slow"]), Named("rpc")]
    assert [s.name for s in select(scenarios, None, [])] == ["chat", "echo", "rpc"]
    assert [s.name for s in select(scenarios, None, ["smoke", "slow"])] == ["chat", "echo"]
    assert [s.name for s in select(scenarios, "not chat", ["smoke"])] == []
