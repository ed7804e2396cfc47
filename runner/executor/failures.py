"""Failures of steps, with the details a person needs: what was expected, what came closest.

`StepFailed` is raised by steps; the scenario runner adds the step's place and the connection's
transcript and turns it into a `runner.events.Failure` for the reporters.
"""

from __future__ import annotations

import difflib
import json
from typing import Any

from runner.errors import ExecutionError, ExpectationFailed, Location

__all__ = ["ConnectionFailed", "StepFailed", "json_diff"]


class StepFailed(ExpectationFailed):
    """An expect or expect_close step did not hold; the fields say what it expected and saw.

    Attributes:
        conn: the connection the step waited on.
        expected: what the step expected, for a person.
        closest: the message that came closest, if any.
        reason: why `closest` did not match.
        diff: a unified diff of expected and closest JSON.
    """

    def __init__(
        self,
        message: str,
        location: Location | None = None,
        *,
        conn: str | None = None,
        expected: str | None = None,
        closest: str | bytes | None = None,
        reason: str | None = None,
        diff: str | None = None,
    ) -> None:
        super().__init__(message, location)
        self.conn = conn
        self.expected = expected
        self.closest = closest
        self.reason = reason
        self.diff = diff


class ConnectionFailed(ExecutionError):
    """A step could not use its connection (refused, reset, closed, not open)."""

    def __init__(self, message: str, conn: str, location: Location | None = None) -> None:
        super().__init__(message, location)
        self.conn = conn


def json_diff(expected: Any, data: str | bytes) -> str | None:
    """A unified diff of the expected JSON and a received message, or None if it is not JSON."""
    try:
        received = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        return None
    left = _pretty(expected).splitlines()
    right = _pretty(_project(expected, received)).splitlines()
    lines = difflib.unified_diff(left, right, "expected", "received", lineterm="", n=2)
    return "\n".join(lines) or None


def _project(expected: Any, received: Any) -> Any:
    """`received` cut to the keys `expected` names: `json` matches a subset, so keys it does not
    mention cannot be wrong, and showing them would hide the line that is."""
    if isinstance(expected, dict) and isinstance(received, dict):
        return {k: _project(expected[k], received[k]) for k in expected if k in received}
    if isinstance(expected, list) and isinstance(received, list):
        head = [_project(e, r) for e, r in zip(expected, received, strict=False)]
        return head + received[len(expected) :]
    return received


def _pretty(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str)
