"""Time for the executor: a run clock and deadlines, both on the monotonic clock."""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass

__all__ = ["POLL", "Clock", "Deadline", "Interrupted", "check_stop", "sleep"]

#: The longest any wait blocks before it looks at the run's stop flag again (seconds).
POLL = 0.1


class Interrupted(Exception):
    """The run was stopped (Ctrl-C) while a step waited."""


class Clock:
    """Seconds since the run started; every event's `at` comes from here."""

    def __init__(self) -> None:
        self.start = time.monotonic()

    def now(self) -> float:
        """Seconds since the run started."""
        return time.monotonic() - self.start


@dataclass(frozen=True)
class Deadline:
    """A point on the monotonic clock by which a wait must end."""

    when: float

    @classmethod
    def after(cls, seconds: float | None) -> Deadline:
        """The deadline `seconds` from now (never, when None)."""
        return cls(math.inf if seconds is None else time.monotonic() + seconds)

    def remaining(self) -> float:
        """Seconds left, never below 0."""
        return max(0.0, self.when - time.monotonic())

    def expired(self) -> bool:
        """Whether the deadline has passed."""
        return time.monotonic() >= self.when

    def earliest(self, other: Deadline) -> Deadline:
        """The earlier of two deadlines."""
        return self if self.when <= other.when else other


def check_stop(stop: threading.Event) -> None:
    """Raise `Interrupted` once the run has been told to stop."""
    if stop.is_set():
        raise Interrupted


def sleep(seconds: float, stop: threading.Event) -> None:
    """Sleep, but wake up and raise `Interrupted` as soon as the run stops."""
    if stop.wait(seconds):
        raise Interrupted
