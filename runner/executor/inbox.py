"""A connection's inbox: every message from the moment it opens, until a step takes it.

The `message` listener (on the connection's own thread) puts messages in. An expect step calls
`take_or_wait` with a `Waiter`: the first waiting message the waiter's judge accepts is taken
at once; otherwise the waiter stays in the inbox, and the next message that matches (or the
connection's close, or a message that breaks `first_only`) settles it, on the connection's
thread, through `Waiter.settle`. Messages passed over stay for later steps; noise is dropped.

The inbox is bounded (`MAX_WAITING_MESSAGES`, `MAX_WAITING_BYTES`): a server that sends faster
than the steps take must not eat the machine. Once full, it keeps no more messages and fails
the waiting step, and every later one, with a message that says so (`Inbox.full`); whoever
owns the connection may drop it then (`Inbox.on_full`).

Settling on the connection's thread lets the scenario go on right there (see `scenario_run`):
a round trip then costs no wake-up of another thread. Whoever removes a waiter owns what
follows: the connection's thread by settling it, the scenario's thread by `cancel` (at its
deadline, or on Ctrl-C).
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass

from runner.client import BusinessError, CloseResult, ErrorCode
from runner.events import _quick_init
from runner.executor.clock import POLL, Deadline, Interrupted

__all__ = [
    "MAX_WAITING_BYTES",
    "MAX_WAITING_MESSAGES",
    "Closest",
    "Inbox",
    "Message",
    "NoMatch",
    "Verdict",
    "Waiter",
]

#: The most messages an inbox keeps waiting for a step (a flood beyond it fails the scenario).
MAX_WAITING_MESSAGES = 100_000
#: The most payload an inbox keeps waiting, in characters of text and bytes of binary (256 MiB).
MAX_WAITING_BYTES = 256 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Message:
    """A received message: `at` is the run-clock time it arrived.

    On a connection with a protocol, `data` is the envelope as JSON text (what the steps
    match), `frame` the frame it came in, and `reply_to` the key of the `call` it answers.
    """

    at: float
    data: str | bytes
    frame: str | bytes | None = None
    reply_to: str | None = None


_quick_init(Message)  # one a message received: set through its slots, not `object.__setattr__`


@dataclass(frozen=True, slots=True)
class Verdict:
    """What a step thinks of one message: take it, drop it (noise), or leave it.

    `more`: the message is taken, and the step goes on waiting for others (`count`,
    `expect_all`, `expect_sequence`): the waiter is settled only by a message taken without it.
    """

    ok: bool
    more: bool = False
    ignore: bool = False
    score: float = 0.0
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Closest:
    """The waiting message that came closest to matching, and why it did not."""

    message: Message
    reason: str
    score: float


class NoMatch(Exception):
    """No message matched; `why` is ``timeout``, ``closed``, ``not-next``, ``malformed``
    (`detail` then says what the protocol could not decode) or ``refused`` (the peer answered
    with a refusal its protocol knows, e.g. an MQTT SUBACK 0x80: `detail` says which)."""

    def __init__(self, why: str, closest: Closest | None, detail: str = "") -> None:
        self.why = why
        self.closest = closest
        self.detail = detail
        super().__init__(why)


class Waiter(ABC):
    """A step waiting on an inbox: a subclass judges each message and takes the outcome.

    An expect step's `ExpectWait` is one. The inbox settles a waiter once (the connection's
    thread, with the matching `Message` or a `NoMatch`), unless it was cancelled first. A
    subclass keeps its state in itself rather than in callbacks: a waiter that referred back to
    its step through a closure would make a reference cycle per step, left to the cyclic
    garbage collector, whose passes over a long scenario's models cost more than the step.

    Args:
        deadline: when the step gives up (the scenario's thread enforces it).
        first_only: the oldest waiting message that is not noise must match (``next: true``).
    """

    def __init__(self, deadline: Deadline, *, first_only: bool = False) -> None:
        self.deadline = deadline
        self.first_only = first_only
        self.closest: Closest | None = None

    @abstractmethod
    def judge(self, message: Message) -> Verdict:
        """What the step thinks of one message."""

    @abstractmethod
    def settle(self, outcome: Message | NoMatch) -> None:
        """Take the outcome, on the thread that settled the waiter."""

    def consider(self, message: Message) -> Verdict:
        """Judge one message and remember the closest miss."""
        verdict = self.judge(message)
        if not verdict.ok and not verdict.ignore:
            closest = self.closest
            if closest is None or verdict.score > closest.score:
                self.closest = Closest(message, verdict.reason, verdict.score)
        return verdict


class Inbox:
    """The messages of one connection that no step has taken yet, oldest first."""

    def __init__(
        self,
        stop: threading.Event,
        *,
        max_messages: int | None = None,
        max_bytes: int | None = None,
    ) -> None:
        self._stop = stop
        # `wait_closed` waits on the condition; the rest takes its lock alone (a C call, where
        # the condition's own `with` is two Python calls: once per message, per step).
        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._waiting: list[Message] = []
        self._waiter: Waiter | None = None
        self._max_messages = MAX_WAITING_MESSAGES if max_messages is None else max_messages
        self._max_bytes = MAX_WAITING_BYTES if max_bytes is None else max_bytes
        self._bytes = 0  # the payload waiting: len() of each message (characters or bytes)
        self.closed: CloseResult | None = None
        self.error: BusinessError | None = None
        #: Why the inbox keeps no more messages (None while it does): it overflowed.
        self.full: str | None = None
        #: A malformed frame's problem no waiting step has failed with yet (see set_malformed).
        self.malformed: tuple[str, str] | None = None  # (why, detail)
        #: Called once, on the connection's thread, when the inbox overflows (e.g. to drop the
        #: connection, which stops the flood); set by the inbox's owner.
        self.on_full: Callable[[], None] | None = None

    # -- the connection's thread ---------------------------------------------------------------

    def put(self, message: Message) -> None:
        """Add a message, or settle the waiting step with it (called by the listener)."""
        if self.full is not None:
            return  # dropped: the steps were told, and memory stays bounded
        settled: tuple[Waiter, Message | NoMatch] | None
        with self._lock:  # no notify: a message changes nothing `wait_closed` waits for
            waiter = self._waiter
            if waiter is None:
                settled = self._keep(message)
            else:  # the step waiting takes it, most often (`_offer` decides the rest)
                verdict = waiter.consider(message)
                if verdict.ok and not verdict.more:
                    self._waiter = None
                    settled = waiter, message
                else:
                    settled = self._offer(waiter, message, verdict)
        if settled is not None:
            settled[0].settle(settled[1])
        if self.full is not None and self.on_full is not None:
            self.on_full()

    def _keep(self, message: Message) -> tuple[Waiter, NoMatch] | None:
        """Keep `message` waiting, unless that overflows the inbox: then fail the waiter."""
        waiting = self._waiting
        self._bytes += len(message.data)
        if len(waiting) < self._max_messages and self._bytes <= self._max_bytes:
            waiting.append(message)
            return None
        self.full = (
            f"more than {self._max_messages:,} messages or {self._max_bytes:,} bytes waited "
            f"that no step took ({len(waiting):,} messages, {self._bytes:,} bytes); wsrun keeps "
            "no more (the inbox's limit)"
        )
        self.error = BusinessError(ErrorCode.OTHER, f"inbox full: {self.full}")
        waiter, self._waiter = self._waiter, None
        return (waiter, NoMatch("closed", waiter.closest)) if waiter is not None else None

    def _offer(
        self, waiter: Waiter, message: Message, verdict: Verdict
    ) -> tuple[Waiter, Message | NoMatch] | None:
        """What the waiting step's `verdict` on `message` means, unless it settles it."""
        if verdict.ok:
            return None  # taken; the waiter goes on waiting (`more`)
        if not verdict.ignore:
            overflow = self._keep(message)
            if overflow is not None:
                return overflow
            if waiter.first_only:  # it waits only when no message was waiting
                self._waiter = None
                return waiter, NoMatch("not-next", waiter.closest)
        return None

    def set_closed(self, result: CloseResult) -> None:
        """Record the connection's close; a waiting step fails, blocked waits wake up."""
        with self._cond:
            self.closed = result
            waiter, self._waiter = self._waiter, None
            self._cond.notify_all()
        if waiter is not None:
            waiter.settle(NoMatch("closed", waiter.closest))

    def set_malformed(self, detail: str, why: str = "malformed") -> None:
        """A frame the connection's protocol could not decode (or, with `why` ``refused``, a
        refusal it decoded): the waiting step fails now with `detail`; with none waiting, the
        next step that waits fails with it."""
        with self._cond:
            waiter, self._waiter = self._waiter, None
            if waiter is None:
                self.malformed = (why, detail)
            self._cond.notify_all()
        if waiter is not None:
            waiter.settle(NoMatch(why, waiter.closest, detail))

    def set_error(self, error: BusinessError) -> None:
        """Record the connection's last error; a close (or a failed connect) follows. After an
        overflow the inbox's own error stays: it is the cause (dropping the link follows it)."""
        with self._cond:
            if self.full is None:
                self.error = error
            self._cond.notify_all()

    # -- the step's side -------------------------------------------------------------------------

    def take_or_wait(self, waiter: Waiter) -> Message | None:
        """Take the first waiting message `waiter` accepts; if none, leave `waiter` waiting.

        Returns the message, or None when the waiter now waits (it will be settled or
        cancelled). Messages judged as noise are dropped; others that do not match stay.

        Raises:
            NoMatch: the connection is closed, or (first_only) the oldest message did not match,
                or a malformed frame came since the last step waited.
        """
        with self._lock:
            if self.malformed is not None:  # it came first: the next step that waits fails
                (why, detail), self.malformed = self.malformed, None
                raise NoMatch(why, waiter.closest, detail)
            index, waiting = 0, self._waiting
            while waiting and index < len(waiting):  # (an empty inbox, most often: no len)
                message = waiting[index]
                verdict = waiter.consider(message)
                if verdict.ok:
                    taken = self._waiting.pop(index)
                    self._bytes -= len(taken.data)
                    if not verdict.more:
                        return taken
                    continue
                if verdict.ignore:
                    self._bytes -= len(message.data)
                    del self._waiting[index]
                    continue
                if waiter.first_only:
                    raise NoMatch("not-next", waiter.closest)
                index += 1
            if self.closed is not None or self.full is not None:
                raise NoMatch("closed", waiter.closest)
            self._waiter = waiter
            return None

    def cancel(self, waiter: Waiter) -> bool:
        """Withdraw `waiter` unless it was settled already; True when this call removed it."""
        with self._lock:
            if self._waiter is not waiter:
                return False
            self._waiter = None
            return True

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
