"""Running a suite: services first, then the scenarios on a pool of threads, then the result.

Scenarios always run on worker threads, so that the main thread only waits, and a Ctrl-C there
sets the run's stop flag: every wait in the steps looks at it at least every `POLL` seconds,
scenarios that were running end as interrupted, their connections are closed, and those not
started are skipped. There is no global state: two runs in one process do not meet.
"""

from __future__ import annotations

import datetime
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

from runner import __version__
from runner.errors import ServiceError
from runner.events import Event, RunEnded, RunStarted, ScenarioEnded, Status
from runner.executor.clock import POLL, Clock
from runner.executor.scenario_run import ScenarioRunner
from runner.executor.suite_services import SuiteServices
from runner.scenario import Scenario, Suite

__all__ = ["RunOptions", "run_suite"]


@dataclass(frozen=True)
class RunOptions:
    """How to run: workers, fail-fast, and the longest a scenario may take (seconds)."""

    jobs: int = 1
    fail_fast: bool = False
    timeout: float | None = None


class _Run:
    def __init__(self, emit: Callable[[Event], None], options: RunOptions) -> None:
        self.emit = emit
        self.options = options
        self.clock = Clock()
        self.stop = threading.Event()  # Ctrl-C: every wait ends
        self.no_more = threading.Event()  # --fail-fast: start no new scenario
        self.results: dict[int, ScenarioEnded] = {}
        self.variables: dict[str, Any] = {}
        self.services: SuiteServices | None = None

    def scenario(self, index: int, scenario: Scenario) -> None:
        if self.stop.is_set() or self.no_more.is_set():
            self.results[index] = self._skipped(index, scenario)
            return
        runner = ScenarioRunner(
            scenario,
            index,
            self.variables,
            clock=self.clock,
            emit=self.emit,
            stop=self.stop,
            limit=self.options.timeout,
        )
        ended = runner.run()
        self.results[index] = ended
        if ended.status in (Status.FAILED, Status.ERROR):
            if self.services is not None:
                self.services.show_output(f"after {ended.name!r} failed")
            if self.options.fail_fast:
                self.no_more.set()

    def _skipped(self, index: int, scenario: Scenario) -> ScenarioEnded:
        ended = ScenarioEnded(
            at=self.clock.now(),
            scenario=index,
            name=scenario.name,
            status=Status.SKIPPED,
            duration=0.0,
            steps_passed=0,
            steps_total=len(scenario.steps),
        )
        self.emit(ended)
        return ended


def run_suite(
    suite: Suite,
    scenarios: Sequence[Scenario],
    options: RunOptions,
    emit: Callable[[Event], None],
) -> Status:
    """Run `scenarios` of `suite`, emitting every event; return the run's status.

    The status is PASSED, FAILED (a scenario failed or could not connect), ERROR (wsrun failed
    internally, or a service did not start) or INTERRUPTED (Ctrl-C).
    """
    run = _Run(emit, options)
    started = datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds")
    emit(
        RunStarted(
            at=0.0,
            started_at=started,
            scenarios=len(scenarios),
            jobs=options.jobs,
            version=__version__,
        )
    )
    status = Status.ERROR
    try:
        status = _run_with_services(run, suite, scenarios)
    finally:
        _end(run, scenarios, status)
    return status


def _run_with_services(run: _Run, suite: Suite, scenarios: Sequence[Scenario]) -> Status:
    run.services = SuiteServices(suite.suite_file, run.clock, run.emit)
    try:
        run.variables = run.services.start()
        _run_pool(run, scenarios)
    except ServiceError:
        return Status.ERROR
    except KeyboardInterrupt:
        run.stop.set()
    finally:
        run.services.stop()
    return _status(run)


def _run_pool(run: _Run, scenarios: Sequence[Scenario]) -> None:
    with ThreadPoolExecutor(run.options.jobs, thread_name_prefix="wsrun-scenario") as pool:
        futures = [pool.submit(run.scenario, i, s) for i, s in enumerate(scenarios)]
        try:
            _wait_all(futures)
        except KeyboardInterrupt:
            run.stop.set()  # every step's wait ends within POLL; connections get closed
            _wait_all(futures)
            raise
    for future in futures:
        future.result()  # re-raise a bug of the runner itself


def _wait_all(futures: list[Future[None]]) -> None:
    pending = set(futures)
    while pending:
        _, pending = wait(pending, timeout=POLL * 2)


def _status(run: _Run) -> Status:
    if run.stop.is_set():
        return Status.INTERRUPTED
    results = run.results.values()
    if any(r.failure is not None and r.failure.traceback for r in results):
        return Status.ERROR
    if any(r.status in (Status.FAILED, Status.ERROR) for r in results):
        return Status.FAILED
    return Status.PASSED


def _end(run: _Run, scenarios: Sequence[Scenario], status: Status) -> None:
    for index, scenario in enumerate(scenarios):
        if index not in run.results:
            run.results[index] = run._skipped(index, scenario)
    counts = {s.value: 0 for s in Status}
    for result in run.results.values():
        counts[result.status.value] += 1
    now = run.clock.now()
    run.emit(RunEnded(at=now, status=status, duration=now, counts=counts))
