"""Running one scenario: its steps in order, events for each, and a result.

A failing step ends the scenario; whatever happens, its connections are closed at the end (and
dropped when the peer does not answer), and messages nobody expected are listed.
"""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable
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
)
from runner.executor.clock import Clock, Deadline, Interrupted, check_stop
from runner.executor.connection import Connection
from runner.executor.context import ScenarioContext
from runner.executor.steps import Outcome, run_step
from runner.scenario.rendering import render_variables

__all__ = ["CLOSE_WAIT", "ScenarioRunner"]

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
        scenario: Any,
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
        )
        self.passed = 0
        self._step_start = 0.0
        self._location = ""

    def run(self) -> ScenarioEnded:
        """Run every step; return (and emit) the scenario's result."""
        ctx, scenario = self.ctx, self.scenario
        start = ctx.clock.now()
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
        unexpected = self._finish()
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
        index, step = -1, None
        try:
            self.ctx.variables = render_variables(
                self.scenario.variables, self.ctx.variables, self.scenario.location
            )
            ignore = list(self.scenario.ignore or [])
            self.ctx.ignore = self.ctx.compile_ignore(ignore, self.scenario)
            for index, step in enumerate(self.scenario.steps):
                check_stop(self.ctx.stop)
                self._run_step(index, step)
                self.passed += 1
        except Interrupted:
            self._step_ended(index, step, Status.INTERRUPTED)
            return Status.INTERRUPTED, Failure("interrupted (Ctrl-C)")
        except Exception as error:  # every failure of a step, wsrun's own bugs included
            status = _status_of(error)
            self._step_ended(index, step, status)
            return status, self._failure(error, index, step)
        return Status.PASSED, None

    def _run_step(self, index: int, step: Any) -> None:
        ctx = self.ctx
        self._step_start = ctx.clock.now()
        self._location = str(step.location)
        ctx.emit(
            StepStarted(
                at=self._step_start,
                scenario=ctx.index,
                index=index,
                kind=step.kind,
                location=self._location,
                summary=_summary(step),
            )
        )
        outcome = run_step(ctx, step)
        self._step_ended(index, step, Status.PASSED, outcome)

    def _step_ended(
        self, index: int, step: Any, status: Status, outcome: Outcome | None = None
    ) -> None:
        if step is None:
            return
        ctx, outcome = self.ctx, outcome or Outcome(conn=getattr(step, "conn", None))
        now = ctx.clock.now()
        ctx.emit(
            StepEnded(
                at=now,
                scenario=ctx.index,
                index=index,
                kind=step.kind,
                location=self._location,
                status=status,
                duration=now - self._step_start,
                conn=outcome.conn,
                latency=outcome.latency,
                latency_from_send=outcome.latency_from_send,
            )
        )

    def _failure(self, error: Exception, index: int, step: Any) -> Failure:
        conn_name = getattr(error, "conn", None) or getattr(step, "conn", None)
        conn = self.ctx.connections.get(conn_name) if conn_name else None
        internal = not isinstance(error, WsrunError)
        location = getattr(error, "location", None) or getattr(step, "location", None)
        return Failure(
            message=_message(error),
            location=str(location) if location is not None else None,
            step=index if step is not None else None,
            kind=getattr(step, "kind", None),
            conn=conn_name,
            expected=getattr(error, "expected", None),
            closest=getattr(error, "closest", None),
            reason=getattr(error, "reason", None),
            diff=getattr(error, "diff", None),
            recent=tuple(conn.transcript) if conn is not None else (),
            traceback=traceback.format_exc() if internal else None,
        )

    def _finish(self) -> list[Unexpected]:
        """Close every connection (in parallel), then list the messages no step took."""
        connections = list(self.ctx.connections.values())
        _shut_all(connections)
        return [
            Unexpected(at=m.at, conn=c.name, data=m.data)
            for c in connections
            for m in c.inbox.leftovers()
            if not self.ctx.is_noise(m.data, [])
        ]


def _shut_all(connections: list[Connection]) -> None:
    """Close the connections at once: each may wait up to CLOSE_WAIT for its peer."""
    if len(connections) == 1:
        connections[0].shut(CLOSE_WAIT)
        return
    closers = [threading.Thread(target=c.shut, args=(CLOSE_WAIT,)) for c in connections]
    for thread in closers:
        thread.start()
    for thread in closers:
        thread.join()


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


def _summary(step: Any) -> str:
    conn = getattr(step, "conn", None)  # sleep steps have none
    return f"{step.kind} {conn}" if conn else str(step.kind)
