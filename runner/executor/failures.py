"""Failures of steps, with the details a person needs: what was expected, what came closest.

`StepFailed` is raised by steps; the scenario runner adds the step's place and the connection's
transcript and turns it into a `runner.events.Failure` for the reporters.
"""

from __future__ import annotations

from runner.errors import ExecutionError, ExpectationFailed, Location

__all__ = ["ConnectionFailed", "StepFailed"]


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
