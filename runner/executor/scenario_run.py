"""Running one scenario: its steps in order, events for each, and a result.

A failing step ends the scenario; whatever happens, its connections are closed at the end (and
dropped when the peer does not answer), and messages nobody expected are listed.

Verdicts cannot lie: a scenario whose steps all passed still fails when one of its connections
ended abnormally (lost with no closing handshake, or failed after a protocol violation) and no
step expected it, when the server did not answer the closing handshake at the end, and when it
ran out of its ``--timeout``, which bounds the closing at the end too. A step that the
``--timeout`` cuts short fails saying so.

The steps run on the scenario's thread, except for one shortcut. When a step has to wait, its
runner returns a `Wait`, parked where a connection's thread settles it (an expect step's waiter
in the inbox), and the scenario's thread sleeps. The connection's thread that settles it
finishes the step and goes on with the next steps whose runners are ``inline`` (send, expect)
itself, until one has to wait again, or a step that is not inline comes, which it hands back.
A request/response round trip then costs no wake-up of another thread (that hand-off alone
halves the rate of a tight loop: see bench/README.md).

Invariants of that shortcut:
- Only one thread runs steps at a time: the one that settled the wait, or the scenario's
  thread after it cancelled the wait (deadline, Ctrl-C). Whoever withdraws a wait owns the
  steps that follow.
- While steps run on a connection's thread, that connection reads nothing: pings wait for
  their pong and a close frame for its answer. Only runners marked ``inline`` run there, and
  they do no more than render, send and match; one that would wait parks a `Wait` and returns
  at once, so the thread goes back to reading. A send blocks only while the peer's receive
  window is full, as it would on any thread; connect, close, expect_close and sleep, which wait
  on the peer or the clock, always run on the scenario's thread.
"""

from __future__ import annotations

import dataclasses
import math
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from typing import Any

from runner.errors import ExecutionError, ExpectationFailed, ScenarioError, WsrunError
from runner.events import (
    Event,
    Failure,
    ScenarioEnded,
    ScenarioStarted,
    Status,
    StepEnded,
    StepStarted,
    Unexpected,
    _step_ended,
    taken,
)
from runner.executor import expect as _expect  # noqa: F401  (registers the expect runners)
from runner.executor import expect_many as _expect_many  # noqa: F401  (and these)
from runner.executor import flow as _flow  # noqa: F401  (registers the repeat runner)
from runner.executor import steps as _steps  # noqa: F401  (registers the other runners)
from runner.executor.clock import POLL, Clock, Deadline, Interrupted, watch_stop
from runner.executor.connection import Connection
from runner.executor.context import CLOSING_AT_END, ScenarioContext
from runner.executor.failures import ConnectionFailed, StepFailed
from runner.executor.flow import Enter, Loop
from runner.executor.step_registry import Outcome, StepPlan, Wait
from runner.scenario.kinds import StepModel
from runner.scenario.loader import Scenario
from runner.scenario.rendering import render_variables

__all__ = ["CLOSE_WAIT", "ScenarioRunner", "StepPlan"]

_DONE, _PARKED, _HANDED_BACK = "done", "parked", "handed back"
_PASSED = Status.PASSED
#: The run clock's `Clock.now` is ``monotonic() - clock.start``: the step path reads it inline.
_monotonic = time.monotonic

#: How long the end of a scenario waits for each connection's closing handshake (seconds).
CLOSE_WAIT = 2.0


class ScenarioRunner:
    """Runs one scenario on the calling thread and emits its events.

    Args:
        scenario: the validated scenario model.
        index: its position in the run.
        variables: what the services provide; the scenario's own (suite, file, row and
            ``--var`` values, rendered when it starts) come on top.
        clock, emit, stop: the run's clock, event sink and stop flag (Ctrl-C).
        limit: the longest the scenario may run (``--timeout``), None for no limit.
    """

    def __init__(
        self,
        scenario: Scenario,
        index: int,
        variables: dict[str, Any],
        *,
        clock: Clock,
        emit: Callable[[Event], None],
        stop: threading.Event,
        limit: float | None = None,
    ) -> None:
        self.scenario = scenario
        self.ctx = ScenarioContext(
            index=index,
            variables=dict(variables),
            timeout=float(scenario.timeout),
            clock=clock,
            emit=emit,
            stop=stop,
            limit=Deadline.after(limit),
            limit_seconds=limit,
            replies=list(scenario.reply),
        )
        self._limited = limit is not None
        self._announce = taken(emit, StepStarted)  # no listener takes them with -q
        self._start = 0.0
        self.passed = 0
        self._step_start = 0.0
        self._location = ""
        self._summary = ""  # the step running's, as its StepStarted says
        self._pos = 0  # the next step to run, in `_steps`
        self._steps: Sequence[StepModel] = scenario.steps  # the list running: a loop's, inside
        self._loops: list[Loop] = []  # the loops running, outermost first
        self._index: int = -1  # the step running (or failed)
        self._step: StepModel | None = None
        self._conn: str | None = None  # the connection the step running names
        # Each list of steps (the scenario's, a repeat's) with its steps' plans, by its id: made
        # as the list first starts, and each found by its step's position after that.
        self._plans: dict[int, tuple[Sequence[StepModel], list[StepPlan]]] = {}
        self._step_plans = self._plans_of(scenario.steps)  # of `_steps`
        # The wait's hand-over takes the condition's lock alone (a C call; the condition's own
        # `with` is two Python calls, twice a pair); `_sleep_until_back` waits on the condition.
        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._poll = watch_stop(stop, self._cond)  # the run's StopFlag wakes `_sleep_until_back`
        self._wait: Wait | None = None  # the step waiting, if any
        self._back: list[BaseException | None] = []  # the steps came back to this thread
        self._wake_at = math.inf

    def run(self) -> ScenarioEnded:
        """Run every step; return (and emit) the scenario's result."""
        ctx, scenario = self.ctx, self.scenario
        start = self._start = ctx.clock.now()
        location = scenario.location
        ctx.emit(
            ScenarioStarted(
                at=start,
                scenario=ctx.index,
                name=scenario.name,
                file=str(location.file),
                line=int(location.line),
                steps=len(scenario.steps),
            )
        )
        status, failure = self._run_steps()
        dropped = self._finish()
        unexpected = self._unexpected()
        if status is Status.PASSED:
            failure = self._end_failure(dropped)
            status = Status.PASSED if failure is None else Status.FAILED
        if unexpected and status is Status.PASSED and scenario.fail_on_unexpected:
            status, failure = Status.FAILED, _unexpected_failure(unexpected)
        ended = ScenarioEnded(
            at=ctx.clock.now(),
            scenario=ctx.index,
            name=scenario.name,
            status=status,
            duration=ctx.clock.now() - start,
            steps_passed=self.passed,
            steps_total=len(scenario.steps),
            failure=failure,
            unexpected=tuple(unexpected),
        )
        ctx.emit(ended)
        return ended

    def _run_steps(self) -> tuple[Status, Failure | None]:
        try:
            self.ctx.variables = render_variables(
                self.scenario.variables, self.ctx.variables, self.scenario.location
            )
            ignore = list(self.scenario.ignore or [])
            self.ctx.ignore = self.ctx.compile_ignore(ignore, self.scenario.location)
            while self._advance(on_connection=False) is _PARKED:
                self._await_steps()
        except Interrupted:
            self._step_ended(self._index, self._step, Status.INTERRUPTED)
            return Status.INTERRUPTED, Failure("interrupted (Ctrl-C)")
        except Exception as error:  # every failure of a step, wsrun's own bugs included
            cut = self.ctx.limit_reached() and isinstance(error, WsrunError)
            status = Status.FAILED if cut else _status_of(error)
            self._step_ended(self._index, self._step, status)
            failure = self._failure(error, self._index, self._step)
            if cut and "--timeout" not in failure.message:  # else the step said it itself
                failure = self._cut_short(failure)
            return status, failure
        return Status.PASSED, None

    def _cut_short(self, failure: Failure) -> Failure:
        """A step's failure once the ``--timeout`` ran out: that is the cause, named first."""
        ctx, step = self.ctx, self._step
        if step is None:
            where = "before its first step"
        else:
            conn = step.conn_named()
            on = f" on {conn!r}" if conn else ""
            in_step = ctx.clock.now() - self._step_start
            where = f"in step {self._index + 1} ({step.kind}{on}), {in_step:.3f}s into it"
        message = f"the scenario ran out of its --timeout ({_seconds(ctx)}) {where}"
        return dataclasses.replace(failure, message=message)

    def _advance(self, *, on_connection: bool) -> str:
        """Run steps from `_pos` until the end, a step that waits, or (on a connection's
        thread) a step whose runner is not inline.

        Each step begins here: its plan looked up (made as its list started), the scenario's state
        and the context set for it (what `_begin` did, inline), its runner run, and a `Wait`
        it returns watched (what `_watch` does, inline) and begun."""
        ctx, stopped = self.ctx, self.ctx.stop.is_set
        origin = ctx.clock.start  # `Clock.now()` is `_monotonic() - origin`
        while True:
            steps, pos = self._steps, self._pos
            if pos >= len(steps):
                if not self._loops:
                    return _DONE
                self._loop_step_done(self._loops[-1])
                continue
            step = steps[pos]
            plan = self._step_plans[pos]
            if stopped():
                if on_connection:
                    return _HANDED_BACK
                raise Interrupted
            if on_connection and not plan.inline:
                return _HANDED_BACK
            loops = self._loops
            index = loops[0].index if loops else pos
            self._index, self._step, self._conn = index, step, plan.conn
            ctx.step_index, ctx.step_kind, ctx.plan = index, plan.kind, plan
            self._step_start = _monotonic() - origin
            self._location = plan.location
            # `expect default (repeat iteration 3 of 10)` inside loops
            self._summary = self._in_loops(plan.summary) if loops else plan.summary
            if self._announce:
                self._begin(index, plan)
            if self._limited and ctx.limit.expired():
                raise _OutOfTime("out of time", step.location)
            result = plan.run(ctx, step)
            if result.__class__ is not Outcome and not isinstance(result, Outcome):  # a Wait
                with self._lock:  # `_watch`: before it can be settled
                    self._wait = result
                    if result.deadline.when < self._wake_at:
                        self._cond.notify()
                if not result.begin(self._settled):
                    return _PARKED  # from here on, the wait's settler runs the steps
                result = result.finish()
            self._passed(result)

    def _plans_of(self, steps: Sequence[StepModel]) -> list[StepPlan]:
        """The plans of a list of steps, made as it first starts and kept for the run."""
        kept = self._plans.get(id(steps))
        if kept is None or kept[0] is not steps:
            kept = self._plans[id(steps)] = (steps, StepPlan.all_of(steps))
        return kept[1]

    def _in_loops(self, summary: str) -> str:
        """A step's summary inside loops: ``expect default (repeat iteration 3 of 10)``."""
        return f"{summary} ({', '.join(loop.where() for loop in self._loops)})"

    def _enter(self, loop: Loop) -> None:
        """Run `loop`'s steps next; the `repeat` step ends when its last iteration does."""
        loop.index, loop.start, loop.location = self._index, self._step_start, self._location
        loop.summary = self._summary
        loop.outer_steps, loop.outer_pos = self._steps, self._pos
        loop.outer_plans = self._step_plans
        self._loops.append(loop)
        self._steps, self._pos = loop.steps, len(loop.steps)  # `_loop_step_done` starts it
        self._step_plans = self._plans_of(loop.steps)

    def _loop_step_done(self, loop: Loop) -> None:
        """At the end of `loop`'s steps: start its next iteration, or end the loop (its
        `repeat` step passes) and go on after it."""
        if loop.next_iteration(self.ctx.variables):
            self._pos = 0
            return
        self._loops.pop()
        self._steps, self._pos = loop.outer_steps, loop.outer_pos + 1
        self._step_plans = loop.outer_plans
        self._emit_ended(
            loop.index, loop.step, loop.location, loop.start, Status.PASSED, None, loop.summary
        )
        if not self._loops:
            self.passed += 1

    def _watch(self, wait: Wait) -> None:
        """Tell the scenario's thread which wait to watch, before it can be settled."""
        with self._lock:
            self._wait = wait
            if wait.deadline.when < self._wake_at:
                self._cond.notify()

    def _settled(self, wait: Wait) -> None:
        """On the thread that settled `wait`: finish its step and go on from there."""
        try:
            self._passed(wait.finish())
            if self._advance(on_connection=True) is _PARKED:
                return
            self._hand_back(None)
        except BaseException as error:  # the scenario's thread reports it
            self._hand_back(error)

    def _hand_back(self, error: BaseException | None) -> None:
        with self._lock:
            self._back.append(error)
            self._cond.notify()

    def _await_steps(self) -> None:
        """On the scenario's thread: sleep while connection threads run the steps; enforce the
        waiting step's deadline and Ctrl-C by cancelling its wait. A wait that expires ends
        its step here (`Wait.expired`: a failure for most, the pass of ``expect_none``), and
        the steps go on from this thread."""
        expired = self._sleep_until_back()
        while expired is not None:
            result = expired.expired()
            if isinstance(result, Outcome):
                self._passed(result)
                return
            self._watch(result)  # the step waits again (a poll's next round)
            if result.begin(self._settled):
                self._passed(result.finish())
                return
            expired = self._sleep_until_back()

    def _sleep_until_back(self) -> Wait | None:
        """Sleep until the steps come back (None), or the wait expires (that wait, withdrawn)."""
        with self._cond:
            while not self._back:
                waiting = self._wait
                assert waiting is not None
                if self.ctx.stop.is_set() and waiting.cancel():
                    raise Interrupted
                wait = min(self._poll, waiting.deadline.remaining())
                if wait <= 0:
                    if waiting.cancel():
                        self._wake_at = math.inf
                        return waiting
                    wait = POLL  # it was settled just in time: its steps go on elsewhere
                self._wake_at = time.monotonic() + wait
                self._cond.wait(wait)
            self._wake_at = math.inf
            error = self._back.pop()
        if error is not None:
            raise error
        return None

    def _begin(self, index: int, plan: StepPlan) -> None:
        """Announce the step that begins (`_advance` set it up): its StepStarted."""
        ctx = self.ctx
        ctx.emit(
            StepStarted(
                at=self._step_start,
                scenario=ctx.index,
                index=index,
                kind=plan.kind,
                location=plan.location,
                summary=self._summary,
            )
        )

    def _passed(self, outcome: Outcome) -> None:
        if outcome.__class__ is Enter:
            assert isinstance(outcome, Enter) and outcome.loop is not None
            self._enter(outcome.loop)
            return
        ctx = self.ctx
        now = _monotonic() - ctx.clock.start  # `ctx.clock.now()`, inline
        start = self._step_start
        ctx.emit(  # `StepEnded(at=now, scenario=..., summary=...)`, its fields in their order
            _step_ended(
                now,
                ctx.index,
                self._index,
                ctx.step_kind,
                self._location,
                _PASSED,
                now - start,
                outcome.conn,
                outcome.latency,
                outcome.latency_from_send,
                outcome.note,
                start,
                self._summary,
            )
        )
        if not self._loops:  # steps_passed counts the scenario's own steps
            self.passed += 1
        self._pos += 1

    def _step_ended(
        self, index: int, step: StepModel | None, status: Status, outcome: Outcome | None = None
    ) -> None:
        if step is None:
            return
        self._emit_ended(
            index, step, self._location, self._step_start, status, outcome, self._summary
        )
        if status is not Status.PASSED:  # the loops around a failed step fail with it
            for loop in reversed(self._loops):
                self._emit_ended(
                    loop.index, loop.step, loop.location, loop.start, status, None, loop.summary
                )

    def _emit_ended(
        self,
        index: int,
        step: StepModel,
        location: str,
        start: float,
        status: Status,
        outcome: Outcome | None,
        summary: str,
    ) -> None:
        ctx = self.ctx
        now = ctx.clock.now()
        if outcome is None:
            conn = step.conn_named() if step is not self._step else self._conn
            ended = StepEnded(
                at=now,
                scenario=ctx.index,
                index=index,
                kind=step.kind,
                location=location,
                status=status,
                duration=now - start,
                conn=conn,
                started=start,
                summary=summary,
            )
        else:
            ended = StepEnded(
                at=now,
                scenario=ctx.index,
                index=index,
                kind=step.kind,
                location=location,
                status=status,
                duration=now - start,
                conn=outcome.conn,
                latency=outcome.latency,
                latency_from_send=outcome.latency_from_send,
                note=outcome.note,
                started=start,
                summary=summary,
            )
        ctx.emit(ended)

    def _failure(self, error: Exception, index: int, step: StepModel | None) -> Failure:
        named = step.conn_named() if step is not None else None
        conn_name = error.conn if isinstance(error, StepFailed | ConnectionFailed) else None
        conn_name = conn_name or named
        conn = self.ctx.connections.get(conn_name) if conn_name else None
        internal = not isinstance(error, WsrunError)
        location = error.location if isinstance(error, ExecutionError | ScenarioError) else None
        location = location or (step.location if step is not None else None)
        details = error if isinstance(error, StepFailed) else None
        where = "".join(f"{loop.where()}: " for loop in self._loops)
        return Failure(
            message=where + _message(error),
            location=str(location) if location is not None else None,
            step=index if step is not None else None,
            kind=step.kind if step is not None else None,
            conn=conn_name,
            expected=details.expected if details else None,
            closest=details.closest if details else None,
            reason=details.reason if details else None,
            diff=details.diff if details else None,
            recent=conn.transcript() if conn is not None else (),
            traceback=traceback.format_exc() if internal else None,
        )

    def _finish(self) -> list[Connection]:
        """Close every connection (in parallel), within the ``--timeout``; return those that
        had to be dropped because the server did not answer in time."""
        self.ctx.step_index = CLOSING_AT_END
        wait = min(CLOSE_WAIT, self.ctx.limit.remaining())
        return _shut_all(list(self.ctx.connections.values()), wait)

    def _unexpected(self) -> list[Unexpected]:
        """The messages no step took, on every connection."""
        return [
            Unexpected(at=m.at, conn=c.name, data=m.data)
            for c in self.ctx.connections.values()
            for m in c.inbox.leftovers()
            if not self.ctx.is_noise(m.data, [])
        ]

    def _end_failure(self, dropped: list[Connection]) -> Failure | None:
        """Why a scenario whose steps all passed fails after all, or None: an abnormal end
        that no step expected, a closing handshake the server did not answer, the --timeout."""
        ctx = self.ctx
        for conn in (*ctx.retired, *ctx.connections.values()):
            if conn.inbox.full is not None:  # wsrun dropped it: a flood no step took
                message = f"{conn.name!r}: inbox full: {conn.inbox.full}"
                return Failure(message, conn=conn.name, recent=conn.transcript())
            abnormal = conn.abnormal
            if abnormal is not None and not conn.abnormal_expected:
                message = abnormal.describe(conn.name, self._start)
                return Failure(message, conn=conn.name, recent=conn.transcript())
        if not dropped:
            return None
        conn = dropped[0]
        if ctx.limit_reached():
            message = (
                f"the scenario ran out of its --timeout ({_seconds(ctx)}) while closing "
                f"{conn.name!r}: the server had not answered the closing handshake"
            )
        else:
            message = (
                f"the server did not answer the closing handshake on {conn.name!r} within "
                f"{CLOSE_WAIT:g}s at the end of the scenario; wsrun dropped the connection"
            )
        return Failure(message, conn=conn.name, recent=conn.transcript())


def _unexpected_failure(unexpected: list[Unexpected]) -> Failure:
    """The failure of a scenario with `fail_on_unexpected` that left messages unexpected."""
    count = len(unexpected)
    noun = "message was" if count == 1 else "messages were"
    conns = ", ".join(sorted({u.conn for u in unexpected}))
    return Failure(
        f"{count} {noun} left unexpected on {conns} (fail_on_unexpected)",
        expected="every message taken by a step, ignored or auto-replied",
        closest=unexpected[0].data,
    )


class _OutOfTime(ExpectationFailed):
    """The ``--timeout`` ran out between two steps (its failure is `_cut_short`)."""


def _seconds(ctx: ScenarioContext) -> str:
    return f"{ctx.limit_seconds:g}s"


def _shut_all(connections: list[Connection], wait: float) -> list[Connection]:
    """Close the connections at once, each waiting up to `wait` for its peer; return those
    that had to be dropped."""
    if len(connections) == 1:
        return [] if connections[0].shut(wait) else connections
    dropped: list[Connection] = []

    def shut(conn: Connection) -> None:
        if not conn.shut(wait):
            dropped.append(conn)

    closers = [threading.Thread(target=shut, args=(c,)) for c in connections]
    for thread in closers:
        thread.start()
    for thread in closers:
        thread.join()
    return dropped


def _status_of(error: Exception) -> Status:
    if isinstance(error, ExpectationFailed):
        return Status.FAILED
    return Status.ERROR


def _message(error: Exception) -> str:
    if isinstance(error, ExecutionError | ScenarioError):
        return error.message
    if isinstance(error, WsrunError):
        return str(error)
    return f"internal error: {type(error).__name__}: {error}"
