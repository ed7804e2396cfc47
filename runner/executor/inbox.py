"""A connection's inbox: every message from the moment it opens, until a step takes it.

The `message` listener (on the connection's own thread) puts messages in; the scenario's thread
takes them out with `take`, which scans the waiting messages oldest first, takes the first that
matches, leaves the others for later steps, and otherwise waits for new ones until its deadline.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from runner.client import BusinessError, CloseResult
from runner.executor.clock import POLL, Deadline, Interrupted

__all__ = ["Closest", "Inbox", "Message", "NoMatch", "Verdict"]


@dataclass(frozen=True, slots=True)
class Message:
    """A received message: `at` is the run-clock time it arrived."""

    at: float
    data: str | bytes


@dataclass(frozen=True, slots=True)
class Verdict:
    """What a step thinks of one message: take it, drop it (noise), or leave it."""

    ok: bool
    ignore: bool = False
    score: float = 0.0
    reason: str = ""


Judge = Callable[[Message], Verdict]


@dataclass(frozen=True, slots=True)
class Closest:
    """The waiting message that came closest to matching, and why it did not."""

    message: Message
    reason: str
    score: float


class NoMatch(Exception):
    """`take` found no matching message; `why` is timeout, closed or not-next."""

    def __init__(self, why: str, closest: Closest | None) -> None:
        self.why = why
        self.closest = closest
        super().__init__(why)


class Inbox:
    """The messages of one connection that no step has taken yet, oldest first."""

    def __init__(self, stop: threading.Event) -> None:
        self._stop = stop
        self._cond = threading.Condition()
        self._waiting: list[Message] = []
        self.closed: CloseResult | None = None
        self.error: BusinessError | None = None

    def put(self, message: Message) -> None:
        """Add a message (called by the `message` listener)."""
        with self._cond:
            self._waiting.append(message)
            self._cond.notify_all()

    def set_closed(self, result: CloseResult) -> None:
        """Record the connection's close; waiting steps wake up."""
        with self._cond:
            self.closed = result
            self._cond.notify_all()

    def set_error(self, error: BusinessError) -> None:
        """Record the connection's last error; a close (or a failed connect) follows."""
        with self._cond:
            self.error = error
            self._cond.notify_all()

    def take(self, judge: Judge, deadline: Deadline, *, first_only: bool = False) -> Message:
        """Take the first waiting message `judge` accepts, waiting for new ones until `deadline`.

        Messages judged as noise (`ignore`) are dropped; the others that do not match stay.
        With `first_only`, the oldest waiting message that is not noise must match.

        Raises:
            NoMatch: the deadline passed, the connection closed, or (first_only) the oldest
                message did not match; it carries the closest message seen.
            Interrupted: the run was stopped.
        """
        scanned, closest = 0, None
        with self._cond:
            while True:
                index = scanned
                while index < len(self._waiting):
                    message = self._waiting[index]
                    verdict = judge(message)
                    if verdict.ok:
                        return self._waiting.pop(index)
                    if verdict.ignore:
                        del self._waiting[index]
                        continue
                    closest = _closer(closest, message, verdict)
                    if first_only:
                        raise NoMatch("not-next", closest)
                    index += 1
                scanned = index
                self._wait_for_more(deadline, closest)

    def _wait_for_more(self, deadline: Deadline, closest: Closest | None) -> None:
        if self._stop.is_set():
            raise Interrupted
        if self.closed is not None:
            raise NoMatch("closed", closest)
        if deadline.expired():
            raise NoMatch("timeout", closest)
        self._cond.wait(min(POLL, deadline.remaining()))

    def wait_closed(self, deadline: Deadline) -> CloseResult | None:
        """Wait for the connection's close until `deadline`; None when it has not closed."""
        with self._cond:
            while self.closed is None and not deadline.expired():
                if self._stop.is_set():
                    raise Interrupted
                self._cond.wait(min(POLL, deadline.remaining()))
            return self.closed

    def leftovers(self) -> list[Message]:
        """The messages no step took, oldest first."""
        with self._cond:
            return list(self._waiting)


def _closer(best: Closest | None, message: Message, verdict: Verdict) -> Closest:
    if best is None or verdict.score > best.score:
        return Closest(message, verdict.reason, verdict.score)
    return best
