"""The runners of expect_all, expect_sequence and poll: waits that take several messages.

Each takes the messages it needs from the inbox as they come (`Verdict.more`), so a step over a
long inbox or a long stream scans each message once. A failure lists what matched and what did
not.
"""

from __future__ import annotations

from collections.abc import Callable

from runner.client import BusinessError
from runner.executor.clock import Deadline
from runner.executor.context import ScenarioContext
from runner.executor.expect import InboxWait, close_detail
from runner.executor.failures import ConnectionFailed, StepFailed
from runner.executor.inbox import Message, NoMatch, Verdict
from runner.executor.step_registry import Outcome, Wait, runs
from runner.matching import Matcher, MatchResult, extract_saves
from runner.scenario.steps_expect import (
    ExpectAllStep,
    ExpectEntry,
    ExpectSequenceStep,
    PollStep,
)

__all__ = ["ExpectAllWait", "ExpectSequenceWait", "PollWait"]


class _EntriesWait(InboxWait):
    """What expect_all and expect_sequence share: entries, noise, saves, the failure block."""

    spec: ExpectAllStep | ExpectSequenceStep
    what = "messages"

    def __init__(
        self, ctx: ScenarioContext, step: ExpectAllStep | ExpectSequenceStep, first_only: bool
    ) -> None:
        self.spec = spec = ctx.rendered(step)
        super().__init__(ctx, step, ctx.deadline(spec.timeout), first_only=first_only)
        self.matchers: list[Matcher] = [
            ctx.matcher(written, rendered)
            for written, rendered in zip(step.messages, spec.messages, strict=True)
        ]
        self.noise = ctx.compile_ignore(spec.ignore, step.location) if spec.ignore else []
        self.held: list[Message | None] = [None] * len(self.matchers)

    def _miss(self, message: Message, waiting: list[int]) -> Verdict:
        """A message no waiting entry took: noise is dropped, others stay (closest kept)."""
        if self.ctx.is_noise(message.data, self.noise):
            return Verdict(False, ignore=True)
        results = [(self.matchers[e].match(message.data), e) for e in waiting]
        best, entry = max(results, key=lambda pair: pair[0].score)
        return Verdict(False, score=best.score, reason=f"#{entry + 1}: {best.reason}")

    def finish(self) -> Outcome:
        if isinstance(self.outcome, NoMatch):
            raise self._failed(self.outcome.why, self.outcome.detail)
        entries = zip(self.spec.messages, self.matchers, self.held, strict=True)
        for entry, matcher, message in entries:
            assert message is not None
            self._save(entry, matcher, message)
        at = max(m.at for m in self.held if m is not None)
        return Outcome(conn=self.conn.name, latency=max(0.0, at - self.start))

    def expired(self) -> Outcome:
        raise self._failed("timeout")

    def _save(self, entry: ExpectEntry, matcher: Matcher, message: Message) -> None:
        captures = matcher.match(message.data).captures
        self.ctx.variables.update(captures)
        if entry.save:
            saved = extract_saves(entry.save, message.data, captures, self.spec.location)
            self.ctx.variables.update(saved)

    def _failed(self, why: str, detail: str = "") -> StepFailed:
        conn, waited = self.conn.name, self.ctx.clock.now() - self.start
        done = sum(message is not None for message in self.held)
        total = len(self.held)
        head = {
            "timeout": f"{done} of {total} {self.what} matched on {conn!r} within {waited:.3f}s",
            "closed": f"the connection {conn!r} closed with {done} of {total} {self.what} "
            f"matched{close_detail(self.conn)}",
            "not-next": f"the next message on {conn!r} did not match entry "
            f"#{done + 1} (strict: true)",
            "malformed": f"a malformed frame arrived on {conn!r}: {detail}",
            "refused": f"the server refused on {conn!r}: {detail}",
        }[why]
        closest = self.closest
        return StepFailed(
            head,
            self.spec.location,
            conn=conn,
            expected="; ".join(self._entry_lines()),
            closest=closest.message.data if closest else None,
            reason=closest.reason if closest else None,
        )

    def _entry_lines(self) -> list[str]:
        return [
            f"#{i + 1} {'matched' if held is not None else 'waiting'}: {m.description}"
            for i, (m, held) in enumerate(zip(self.matchers, self.held, strict=True))
        ]


@runs(ExpectAllStep, inline=True)
def run_expect_all(ctx: ScenarioContext, step: ExpectAllStep) -> ExpectAllWait:
    """Wait until every entry has matched a different message, in any order."""
    return ExpectAllWait(ctx, step)


class ExpectAllWait(_EntriesWait):
    """Entries and messages are paired as a bipartite matching (augmenting paths): a message
    that fits an entry already held moves the message there to another entry it fits, so the
    order of arrival never makes a possible pairing fail."""

    spec: ExpectAllStep

    def __init__(self, ctx: ScenarioContext, step: ExpectAllStep) -> None:
        super().__init__(ctx, step, first_only=False)
        self._fits: dict[int, list[int]] = {}  # id of a held message -> entries it fits

    def judge(self, message: Message) -> Verdict:
        fits = [e for e, m in enumerate(self.matchers) if m.match(message.data).ok]
        if fits:
            self._fits[id(message)] = fits
            if self._place(message, set()):
                return Verdict(True, more=any(held is None for held in self.held))
            del self._fits[id(message)]
        waiting = [e for e, held in enumerate(self.held) if held is None]
        return self._miss(message, waiting or list(range(len(self.held))))

    def _place(self, message: Message, visited: set[int]) -> bool:
        for entry in self._fits[id(message)]:
            if entry in visited:
                continue
            visited.add(entry)
            holder = self.held[entry]
            if holder is None or self._place(holder, visited):
                self.held[entry] = message
                return True
        return False


@runs(ExpectSequenceStep, inline=True)
def run_expect_sequence(ctx: ScenarioContext, step: ExpectSequenceStep) -> ExpectSequenceWait:
    """Wait for messages matching the entries in order."""
    return ExpectSequenceWait(ctx, step)


class ExpectSequenceWait(_EntriesWait):
    """The next entry takes the first message that matches it; with `strict`, each next message
    (not noise) must match the next entry."""

    spec: ExpectSequenceStep

    def __init__(self, ctx: ScenarioContext, step: ExpectSequenceStep) -> None:
        super().__init__(ctx, step, first_only=ctx.rendered(step).strict)
        self.position = 0

    def judge(self, message: Message) -> Verdict:
        if self.matchers[self.position].match(message.data).ok:
            self.held[self.position] = message
            self.position += 1
            return Verdict(True, more=self.position < len(self.held))
        return self._miss(message, [self.position])

    def _entry_lines(self) -> list[str]:
        lines = super()._entry_lines()
        return [f"in order: {lines[0]}", *lines[1:]]


@runs(PollStep)
def run_poll(ctx: ScenarioContext, step: PollStep) -> PollWait:
    """Send, and wait for an answer that matches `until`; send again every `every`."""
    return PollWait(ctx, step)


class PollWait(InboxWait):
    """One round at a time: each sends, then takes every answer (a message that came after the
    send, not noise) until one matches `until` or the round ends; `expired` starts the next
    round, or fails with the last answer when the poll's own timeout has passed."""

    spec: PollStep

    def __init__(self, ctx: ScenarioContext, step: PollStep) -> None:
        self.spec = spec = ctx.rendered(step)
        self.overall = ctx.deadline(spec.timeout)
        super().__init__(ctx, step, self._round(), first_only=False)
        self.matcher: Matcher = ctx.matcher(step.until, spec.until)
        self.noise = ctx.compile_ignore(spec.ignore, step.location) if spec.ignore else []
        self.rounds = 0
        self.sent_at = 0.0
        self.last: Message | None = None
        self._result: MatchResult | None = None

    def _round(self) -> Deadline:
        return Deadline.after(float(self.spec.every)).earliest(self.overall)

    def begin(self, on_settle: Callable[[Wait], None]) -> bool:
        self._send()
        return super().begin(on_settle)

    def _send(self) -> None:
        self.rounds += 1
        self.sent_at = self.ctx.clock.now()  # before the frame goes: its answer can be quick
        try:
            self.conn.send_outgoing(self.spec.send)  # an envelope on a protocol connection
        except ValueError as error:
            message = f"cannot send on {self.conn.name!r}: {error}"
            raise StepFailed(message, self.spec.location, conn=self.conn.name) from None
        except BusinessError as error:
            message = f"cannot send on {self.conn.name!r}: {error.message}"
            raise ConnectionFailed(message, self.conn.name, self.spec.location) from None

    def judge(self, message: Message) -> Verdict:
        if message.at < self.sent_at:
            return Verdict(False)  # not an answer to this poll: it stays
        if self.ctx.is_noise(message.data, self.noise):
            return Verdict(False, ignore=True)
        result = self.matcher.match(message.data)
        if result.ok:
            self._result = result
            return Verdict(True)
        self.last = message
        return Verdict(True, more=True, score=result.score, reason=result.reason)

    def finish(self) -> Outcome:
        outcome = self.outcome
        if isinstance(outcome, NoMatch):
            conn = self.conn.name
            message = f"the connection {conn!r} closed while polling{close_detail(self.conn)}"
            raise ConnectionFailed(message, conn, self.spec.location)
        assert isinstance(outcome, Message) and self._result is not None
        captures = self._result.captures
        self.ctx.variables.update(captures)
        if self.spec.until.save:
            saved = extract_saves(self.spec.until.save, outcome.data, captures, self.spec.location)
            self.ctx.variables.update(saved)
        return Outcome(
            conn=self.conn.name,
            latency=max(0.0, outcome.at - self.start),
            latency_from_send=max(0.0, outcome.at - self.sent_at),
        )

    def expired(self) -> Outcome | Wait:
        if self.overall.expired():
            raise self._failed()
        self.deadline = self._round()
        self.outcome = None
        return self  # the next round: begun (it sends) by the scenario runner

    def _failed(self) -> StepFailed:
        conn, waited = self.conn.name, self.ctx.clock.now() - self.start
        last = self.last
        answers = "no answer" if last is None else "no answer matched"
        reason = self.matcher.match(last.data).reason if last is not None else None
        return StepFailed(
            f"{answers} on {conn!r} in {self.rounds} polls over {waited:.3f}s",
            self.spec.location,
            conn=conn,
            expected=f"an answer: {self.matcher.description}",
            closest=last.data if last is not None else None,
            reason=reason,
            diff=self.matcher.diff(last.data) if last is not None else None,
        )
