"""The runners of `expect` (wait for a message that matches, then save what the step asks for)
and `expect_none` (no message may match for a while).

The step returns an `ExpectWait`: it takes a matching message that is waiting already, or
parks itself (a `Waiter`) in the connection's inbox, which the connection's thread settles with
the next message that matches (or the close, or a message that breaks ``next: true``).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable

from runner.executor.clock import Deadline
from runner.executor.connection import Connection
from runner.executor.context import ScenarioContext
from runner.executor.correlation import Correlation
from runner.executor.failures import ConnectionFailed, StepFailed
from runner.executor.inbox import Message, NoMatch, Verdict, Waiter
from runner.executor.step_registry import Outcome, Wait, runs
from runner.matching import Matcher, MatchResult, compile_matcher, extract_saves
from runner.scenario.matchers import declared_by_name  # the one list of a model's matchers
from runner.scenario.steps import ConnectionStep, ExpectNoneStep, ExpectStep

__all__ = [
    "ExpectNoneWait",
    "ExpectWait",
    "InboxWait",
    "close_detail",
    "run_expect",
    "run_expect_none",
    "violation_message",
]


class InboxWait(Wait, Waiter):
    """A step that waits on its connection's inbox: it is its own `Waiter` there.

    A subclass judges messages and says what a settled or expired wait means; this class
    parks it, keeps the outcome the inbox settles it with, and withdraws it.
    """

    def __init__(
        self, ctx: ScenarioContext, step: ConnectionStep, deadline: Deadline, *, first_only: bool
    ) -> None:
        self.deadline, self.first_only, self.closest = deadline, first_only, None  # a Waiter's
        self.ctx = ctx
        self.conn: Connection = ctx.connection(step)
        self.start = ctx.clock.now()
        self.outcome: Message | NoMatch | None = None
        self._on_settle: Callable[[Wait], None] | None = None

    def begin(self, on_settle: Callable[[Wait], None]) -> bool:
        self._on_settle = on_settle
        try:
            message = self.conn.inbox.take_or_wait(self)
        except NoMatch as miss:
            self.outcome = miss
            return True
        if message is None:
            return False  # parked: the connection's thread settles it
        self.outcome = message
        return True

    def settle(self, outcome: Message | NoMatch) -> None:
        self.outcome = outcome
        if self._on_settle is not None:
            self._on_settle(self)

    def cancel(self) -> bool:
        return self.conn.inbox.cancel(self)


#: The verdicts of a message taken: the step's last, or one of its `count` with more to come.
_TAKEN, _TAKEN_MORE = Verdict(True), Verdict(True, more=True)
_NOISE = Verdict(False, ignore=True)
#: What the text matcher says of a message equal to its text (no captures).
_HIT = MatchResult(True)
#: The run clock's `Clock.now` is ``monotonic() - clock.start``: read inline here.
_monotonic = time.monotonic


class _Prepared:
    """What an expect step's runs share: its compiled matcher and, when `text` is its only
    matcher, that text. A step without templates keeps one on its plan (`StepPlan.prepared`);
    a text-only one compiles its matcher only when a run first needs it (a message not equal to
    its text, a failure to describe): one that takes its text never compiles it."""

    __slots__ = ("matcher", "text")

    matcher: Matcher | None
    text: str | None


class ExpectWait(InboxWait):
    """An expect step's wait: its rendered matchers, noise rules, deadline and result.

    With `count`, each matching message is taken as it comes and the step goes on until it has
    them all; with `correlate`, a match must also hold the value of the last message sent.

    A step without templates is not rendered, and what its runs share is kept on the step's
    plan (`_Prepared`): for a step whose only matcher is `text`, that text, which a message is
    compared with directly (`consider`), and its matcher, compiled once, if ever needed.
    """

    def __init__(self, ctx: ScenarioContext, step: ExpectStep) -> None:
        plan = ctx.plan
        if plan is not None and (plan.step is not step or not plan.plain):
            plan = None  # the step is rendered each run: nothing kept on its plan
        prepared: _Prepared | None = None
        if plan is not None:
            spec: ExpectStep = step
            prepared = plan.prepared  # (what this class keeps there)
        else:
            spec = ctx.rendered(step)
        if prepared is None:  # a rendered run, or a plain step's first: what its runs share
            text = spec.text  # when `text` is its only matcher
            if text is not None and not spec.__pydantic_fields_set__.isdisjoint(
                _other_matchers(spec.__class__)
            ):
                text = None
            prepared = _Prepared()  # (no `__init__`: no Python call, once a step)
            if plan is not None:  # kept; a text-only step's matcher compiled if a run needs it
                prepared.matcher = None if text is not None else ctx.matcher(step, step, keep=False)
                plan.prepared = prepared
            else:  # compiled at once: a rendered regex may not compile
                prepared.matcher = ctx.matcher(step, spec)
            prepared.text = text
        self.spec = spec
        # `InboxWait.__init__`, inline (the hot path of every expect)
        self.ctx = ctx
        named = step.conn
        conn = ctx.connections.get(named) if named else None
        self.conn: Connection = conn if conn is not None else ctx.connection(step)
        now = _monotonic()
        self.start = now - ctx.clock.start  # `ctx.clock.now()`
        self.deadline = ctx.deadline(spec.timeout, now)
        self.first_only, self.closest = spec.next, None  # a Waiter's
        self.outcome: Message | NoMatch | None = None
        self._on_settle: Callable[[Wait], None] | None = None
        self._prepared = prepared
        self.noise = ctx.compile_ignore(spec.ignore, step.location) if spec.ignore else []
        self._taken: MatchResult | None = None
        self.matched = 0  # messages taken so far (of `count`)
        self._correlation = _correlation(self.conn, spec) if spec.correlate else None
        #: The step's text when `text` is its only matcher (and nothing is correlated).
        self._text = prepared.text if self._correlation is None else None

    @property
    def matcher(self) -> Matcher:
        """The step's compiled matcher (a text-only step's compiled the first time it is
        needed, and kept with its plan)."""
        prepared = self._prepared
        if prepared.matcher is None:
            prepared.matcher = compile_matcher(self.spec)
        return prepared.matcher

    def consider(self, message: Message) -> Verdict:
        """`Waiter.consider`, with a text-only step's match inline: a message equal to its text
        is taken with no call to the matcher, which judges every other message as before."""
        text = self._text
        if text is not None:
            data = message.data
            if data.__class__ is str and data == text:  # what the text matcher would say
                self._taken = _HIT
                self.matched += 1
                return _TAKEN_MORE if self.matched < self.spec.count else _TAKEN
        return Waiter.consider(self, message)

    def judge(self, message: Message) -> Verdict:
        result = (self._prepared.matcher or self.matcher).match(message.data)
        if result.ok and self._correlation is not None:
            result = self._correlation.check(message.data)
        if result.ok:
            self._taken = result
            self.matched += 1
            return _TAKEN_MORE if self.matched < self.spec.count else _TAKEN
        if self.ctx.is_noise(message.data, self.noise):
            return _NOISE
        return Verdict(False, score=result.score, reason=result.reason)

    def finish(self) -> Outcome:
        outcome = self.outcome
        if outcome.__class__ is not Message and isinstance(outcome, NoMatch):
            if self.spec.optional and outcome.why not in ("closed", "malformed", "refused"):
                return self._missed(outcome)
            raise self._failed(outcome)
        taken = self._taken
        assert outcome is not None and taken is not None, "finish before settled"
        spec = self.spec
        if taken.captures or spec.save:
            self._save(outcome, taken.captures)
        # The latencies (`_latencies`, inline): from the step's start, and from the last send.
        at, start = outcome.at, self.start
        latency = at - start if at > start else 0.0
        sent = self.conn.last_send_at
        from_send = at - sent if sent is not None and at >= sent else None
        limit = spec.max_latency
        if limit is not None and (from_send is None or from_send > limit):
            raise self._too_late(from_send, limit, outcome)
        return Outcome(self.conn.name, latency, from_send)

    def expired(self) -> Outcome:
        miss = NoMatch("timeout", self.closest)
        if self.spec.optional:
            return self._missed(miss)
        raise self._failed(miss)

    def _missed(self, miss: NoMatch) -> Outcome:
        """An optional expect that did not match: it passes, and says so."""
        why = "no message matched" if miss.why == "timeout" else "the next message did not match"
        return Outcome(conn=self.conn.name, note=f"optional: {why}")

    def _save(self, message: Message, captures: dict[str, object]) -> None:
        ctx, spec = self.ctx, self.spec
        ctx.variables.update(captures)  # named groups of `regex` become variables
        if spec.save:
            data = message.data
            if spec.text_json is not None and isinstance(data, str):  # JSONPaths see the JSON
                data = data.removeprefix(spec.text_json.prefix)
            ctx.variables.update(extract_saves(spec.save, data, captures, spec.location))

    def _too_late(self, from_send: float | None, limit: float, message: Message) -> StepFailed:
        conn = self.conn.name
        measured = "with no send before it" if from_send is None else f"{from_send:.3f}s"
        return StepFailed(
            f"the message on {conn!r} matched {measured} after the last send, over "
            f"max_latency {limit:g}s",
            self.spec.location,
            conn=conn,
            expected=f"{self.matcher.description}, within {limit:g}s of the last send",
            closest=message.data,
        )

    def _failed(self, miss: NoMatch) -> StepFailed:
        """Why no message matched, what the step expected, the closest message, a diff."""
        conn, closest, count = self.conn, miss.closest, self.spec.count
        waited = self.ctx.clock.now() - self.start
        what = "no message" if count == 1 else f"{self.matched} of {count} messages"
        if miss.why == "closed" and conn.abnormal is not None and conn.abnormal.violation:
            why = violation_message(conn, "expect")
        else:
            why = {
                "timeout": f"{what} on {conn.name!r} matched within {waited:.3f}s",
                "closed": f"the connection {conn.name!r} closed before a matching message"
                f"{close_detail(conn)}" + (f" ({self.matched} of {count})" if count > 1 else ""),
                "not-next": f"the next message on {conn.name!r} did not match (next: true)",
                "malformed": f"a malformed frame arrived on {conn.name!r}: {miss.detail}",
                "refused": f"the server refused on {conn.name!r}: {miss.detail}",
            }[miss.why]
        expected = self.matcher.description
        if self._correlation is not None:
            expected += f", with {self._correlation.describe()}"
        return StepFailed(
            why,
            self.spec.location,
            conn=conn.name,
            expected=expected if count == 1 else f"{count} messages: {expected}",
            closest=closest.message.data if closest else None,
            reason=closest.reason if closest else None,
            diff=self.matcher.diff(closest.message.data) if closest else None,
        )


#: The runner of `expect` (wait for a message that matches the step on its connection) is the
#: wait's class itself: making the step's `ExpectWait` is all it does, with no call around it.
run_expect = runs(ExpectStep, inline=True)(ExpectWait)


@functools.cache  # (a hit is a C call: no Python frame an expect)
def _other_matchers(model: type) -> frozenset[str]:
    """The fields of a model of matchers that hold a matcher other than `text`."""
    return frozenset(declared_by_name(model)) - {"text"}


def _correlation(conn: Connection, spec: ExpectStep) -> Correlation:
    """What `correlate` compares with: the value at its path in the last message sent."""
    assert spec.correlate is not None
    sent = conn.last_sent
    try:
        return Correlation.of(spec.correlate, sent)
    except ValueError as error:
        raise StepFailed(f"correlate: {error}", spec.location, conn=conn.name) from None


def violation_message(conn: Connection, step: str) -> str:
    """The failure of a step whose connection the server broke the protocol on."""
    abnormal = conn.abnormal
    assert abnormal is not None
    return (
        f"the server broke the protocol on {conn.name!r} while {step} waited: {abnormal.reason}; "
        f"wsrun failed the connection (close {abnormal.code}, RFC 6455 7.1.7)"
    )


def close_detail(conn: Connection) -> str:
    """`` (close CODE REASON; error CODE MESSAGE)`` as far as the connection knows them, or
    what the server did when it broke the protocol."""
    abnormal = conn.abnormal
    if abnormal is not None and abnormal.violation:
        return (
            f" (the server broke the protocol: {abnormal.reason}; wsrun failed the connection, "
            f"close {abnormal.code})"
        )
    closed, error = conn.inbox.closed, conn.inbox.error
    parts = []
    if closed is not None:
        parts.append(f"close {closed.code} {closed.reason}".rstrip())
    if error is not None:
        parts.append(f"error {error.code} {error.message}")
    return f" ({'; '.join(parts)})" if parts else ""


@runs(ExpectNoneStep, inline=True)
def run_expect_none(ctx: ScenarioContext, step: ExpectNoneStep) -> ExpectNoneWait:
    """Watch `step`'s connection for `for`: a message that matches fails the step at once."""
    return ExpectNoneWait(ctx, step)


class ExpectNoneWait(InboxWait):
    """An expect_none step's watch: it passes when its window ends with no matching message.

    The window is cut short by the scenario's ``--timeout`` too; then the step fails, since
    it did not watch as long as it says.
    """

    def __init__(self, ctx: ScenarioContext, step: ExpectNoneStep) -> None:
        self.spec = spec = ctx.rendered(step)
        self.window = Deadline.after(spec.for_)
        super().__init__(ctx, step, self.window.earliest(ctx.limit), first_only=False)
        self.matcher: Matcher = ctx.matcher(step, spec)

    def judge(self, message: Message) -> Verdict:
        return Verdict(self.matcher.match(message.data).ok)

    def finish(self) -> Outcome:
        """Only a matching message or the close settles this wait: both fail the step."""
        outcome, conn, spec = self.outcome, self.conn, self.spec
        if isinstance(outcome, Message):
            after = max(0.0, outcome.at - self.start)
            raise StepFailed(
                f"a message on {conn.name!r} matched {after:.3f}s into expect_none "
                f"(for: {spec.for_:g}s)",
                spec.location,
                conn=conn.name,
                expected=f"no message: {self.matcher.description}",
                closest=outcome.data,
            )
        message = f"the connection {conn.name!r} closed during expect_none{close_detail(conn)}"
        raise ConnectionFailed(message, conn.name, spec.location)

    def expired(self) -> Outcome:
        if not self.window.expired():  # the scenario's --timeout came first
            watched = self.ctx.clock.now() - self.start
            raise StepFailed(
                f"the scenario's --timeout ended expect_none after {watched:.3f}s of its "
                f"{self.spec.for_:g}s",
                self.spec.location,
                conn=self.conn.name,
                expected=f"no message for {self.spec.for_:g}s: {self.matcher.description}",
            )
        return Outcome(conn=self.conn.name)
