"""`correlate`: a reply must hold, at a JSONPath, the value the last message sent holds there."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from runner.matching import MatchResult, select

__all__ = ["Correlation"]

_MISSING = object()


@dataclass(frozen=True, slots=True)
class Correlation:
    """The path and the value it must hold in a reply."""

    path: str
    value: Any

    @classmethod
    def of(cls, path: str, sent: str | bytes | None) -> Correlation:
        """The correlation of the message `sent`.

        Raises:
            ValueError: nothing was sent yet, the message sent is not JSON, or the path selects
                nothing in it.
        """
        if sent is None:
            raise ValueError(f"{path} needs a JSON message sent on the connection before")
        try:
            json.loads(sent)
        except (ValueError, UnicodeDecodeError):
            raise ValueError("the last message sent is not JSON") from None
        value = _value(path, sent)
        if value is _MISSING:
            raise ValueError(f"{path} selects nothing in the last message sent")
        return cls(path, value)

    def check(self, payload: str | bytes) -> MatchResult:
        """Whether a message holds the value at the path (it matched the step otherwise)."""
        found = _value(self.path, payload)
        if found is not _MISSING and found == self.value and type(found) is type(self.value):
            return MatchResult(True)
        shown = "nothing" if found is _MISSING else json.dumps(found, default=str)
        return MatchResult(
            False,
            reason=f"correlate {self.path}: expected {self.describe_value()}, found {shown}",
            score=0.9,
        )

    def describe(self) -> str:
        """What the correlation expects, for a person."""
        return f"{self.path} = {self.describe_value()} (as sent)"

    def describe_value(self) -> str:
        return json.dumps(self.value, ensure_ascii=False, default=str)


def _value(path: str, payload: str | bytes) -> Any:
    try:
        data = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        return _MISSING
    found, value = select(path, data)
    return value if found else _MISSING
