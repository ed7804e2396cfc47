"""Time for the executor: a run clock and deadlines, both on the monotonic clock."""

from __future__ import annotations

import math
import threading
import time
import weakref
from dataclasses import dataclass

from runner.events import _quick_init

__all__ = [
    "POLL",
    "WATCHED_POLL",
    "Clock",
    "Deadline",
    "Interrupted",
    "StopFlag",
    "check_stop",
    "sleep",
    "watch_stop",
]

#: The longest any wait blocks before it looks at the run's stop flag again (seconds).
POLL = 0.1
#: The same for a wait whose condition the run's `StopFlag` notifies: only a safety net.
WATCHED_POLL = 5.0


class StopFlag(threading.Event):
    """The run's stop flag (Ctrl-C), which also wakes the waits registered with `watch_stop`.

    A wait on a plain `threading.Event` stop flag wakes every `POLL` to look at it: 1,000
    scenarios waiting in `expect` steps spent most of a CPU on those wake-ups alone (and the
    round trips of the others waited for the GIL). A registered wait is notified instead.
    """

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._watchers: weakref.WeakSet[threading.Condition] = weakref.WeakSet()

    def watch(self, condition: threading.Condition) -> None:
        """Notify `condition` (all its waiters) when the flag is set; kept while it lives."""
        with self._lock:
            self._watchers.add(condition)

    def set(self) -> None:
        """Set the flag, then wake every watched wait."""
        super().set()
        with self._lock:
            watchers = list(self._watchers)
        for condition in watchers:
            with condition:
                condition.notify_all()


def watch_stop(stop: threading.Event, condition: threading.Condition) -> float:
    """Have `stop` wake waits on `condition` if it can (a `StopFlag`); return how long such a
    wait may block before it looks at `stop` again."""
    if isinstance(stop, StopFlag):
        stop.watch(condition)
        return WATCHED_POLL
    return POLL


class Interrupted(Exception):
    """The run was stopped (Ctrl-C) while a step waited."""


class Clock:
    """Seconds since the run started; every event's `at` comes from here."""

    def __init__(self) -> None:
        self.start = time.monotonic()

    def now(self) -> float:
        """Seconds since the run started."""
        return time.monotonic() - self.start


@dataclass(frozen=True, slots=True)
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


_quick_init(Deadline)  # one an expect step: set through its slot, no `__dict__` made


def check_stop(stop: threading.Event) -> None:
    """Raise `Interrupted` once the run has been told to stop."""
    if stop.is_set():
        raise Interrupted


def sleep(seconds: float, stop: threading.Event) -> None:
    """Sleep, but wake up and raise `Interrupted` as soon as the run stops."""
    if stop.wait(seconds):
        raise Interrupted
