"""Running a suite: services first, then the scenarios on a pool of threads, then the result.

A run may span several suite files: each scenario belongs to the nearest one (`Scenario.suite`),
and the services of each suite file that has a selected scenario start once, before any
scenario, in the order of their first scenario, and stop at the end. A service that exits
while the scenarios run is told at once, and the failures that follow say so.

Scenarios always run on worker threads, so that the main thread only waits, and a Ctrl-C there
sets the run's stop flag: every wait in the steps looks at it at least every `POLL` seconds,
scenarios that were running end as interrupted, their connections are closed, and those not
started are skipped. There is no global state: two runs in one process do not meet.

Each connection holds two file descriptors (its socket and the eventfd that wakes its receive
loop; three where there is no eventfd) and two threads (its own and its scenario's), so a run
starts by raising the soft limit on open files to the hard limit (`raise_fd_limit`): Linux
often starts processes with a soft limit of 1,024, which ``-j 1000`` would exceed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import gc
import os
import resource
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runner import __version__
from runner.errors import ServiceError
from runner.events import (
    ConnectionOpened,
    Event,
    RunEnded,
    RunStarted,
    ScenarioEnded,
    Status,
    StepEnded,
)
from runner.executor.clock import POLL, Clock, StopFlag
from runner.executor.scenario_run import ScenarioRunner
from runner.executor.suite_services import SuiteServices
from runner.scenario import Scenario, Suite, SuiteFile

__all__ = [
    "RUN_GC_THRESHOLD",
    "RunOptions",
    "collector_for_runs",
    "describe_suites",
    "raise_fd_limit",
    "run_suite",
]

#: How long a failed scenario looks again for a service's exit (it may have seen the service go
#: a moment before its exit status is known).
EXIT_WAIT = 0.05
#: The most open files asked for when the hard limit is unlimited (macOS refuses more than its
#: kernel's maximum, and a finite number is what the limit is for).
FD_LIMIT_CAP = 1 << 20
#: At most this many scenarios start at once (a start lasts until its first connection opens or
#: its first step ends). Thousands of scenarios starting together, each handshake contending for
#: the GIL with all the others, took minutes for 5,000 and timed some out; paced, they start at
#: the rate one CPU can open connections.
STARTING = 64
#: The longest the next start waits for one of those (seconds): starts are paced, never held up
#: by a scenario whose first step takes long.
START_WAIT = 0.005
#: The events that end a scenario's start (its place among the `STARTING` is given back).
_STARTED = frozenset({ConnectionOpened, StepEnded, ScenarioEnded})


@dataclass(frozen=True)
class RunOptions:
    """How to run: threads, fail-fast, the longest a scenario may take (seconds), and the
    worker processes the threads are spread over (1: this process runs every scenario)."""

    jobs: int = 1
    fail_fast: bool = False
    timeout: float | None = None
    processes: int = 1  # worker processes the scenarios are spread over (`processes`)
    starting: int = STARTING  # at most this many scenarios start at once (a worker: its part)


class _Run:
    def __init__(self, emit: Callable[[Event], None], options: RunOptions) -> None:
        self.emit = emit
        self.options = options
        self.clock = Clock()
        self.stop = StopFlag()  # Ctrl-C: every wait ends
        self.no_more = threading.Event()  # --fail-fast: start no new scenario
        self.results: dict[int, ScenarioEnded] = {}
        self.variables: dict[Path | None, dict[str, Any]] = {}  # suite file → provided
        self.services: dict[Path, SuiteServices] = {}  # in the order they started
        self.starting = threading.BoundedSemaphore(options.starting)
        self.on_no_more: Callable[[], None] = _nothing  # fail-fast told to worker processes

    def pace(self, index: int) -> bool:
        """Before submitting the pool's `index`-th scenario: wait a little for a start to end (see
        `STARTING`); whether its start holds a place among them. Only the first `jobs`
        scenarios start as they are submitted; the others queue until a worker is free, and
        a place held in the queue would slow every submission after it."""
        if self.options.jobs <= self.options.starting or index >= self.options.jobs:
            return False
        return self.starting.acquire(timeout=START_WAIT)

    def scenario(self, index: int, scenario: Scenario, paced: bool = False) -> None:
        held = [True] if paced else []

        def started() -> None:
            if not held:  # given back already (or never held): the common case, no raise
                return
            try:
                held.pop()  # atomic: only the first caller gives the place back
            except IndexError:
                return
            self.starting.release()

        try:
            self._scenario(index, scenario, started, paced)
        finally:
            started()

    def _scenario(
        self, index: int, scenario: Scenario, started: Callable[[], None], paced: bool
    ) -> None:
        if self.stop.is_set() or self.no_more.is_set():
            self.results[index] = self._skipped(index, scenario)
            return
        services = self.services.get(scenario.suite) if scenario.suite is not None else None
        marks = services.marks() if services is not None else {}
        ended_as: list[ScenarioEnded] = []
        forward = self.emit

        def named_exits(event: Event) -> None:  # the end names the suite's services that exited
            if isinstance(event, ScenarioEnded) and services is not None:
                event = _with_exits(event, services)
                ended_as.append(event)
            forward(event)

        # Events go to the run's sink directly unless a service may change the scenario's end
        # (`named_exits`) or a paced start waits for its first sign of life (`pacing`, which
        # steps aside once it has seen it): no closure and no check on the way of the others.
        after = forward if services is None else named_exits

        def pacing(event: Event) -> None:
            if event.__class__ in _STARTED:  # none has subclasses: the class is looked up
                started()
                runner.ctx.emit = after  # a connection made before keeps this one: harmless
            after(event)

        runner = ScenarioRunner(
            scenario,
            index,
            self.variables.get(scenario.suite, {}),
            clock=self.clock,
            emit=pacing if paced else after,
            stop=self.stop,
            limit=self.options.timeout,
        )
        ended = runner.run()
        ended = ended_as[-1] if ended_as else ended
        self.results[index] = ended
        if ended.status in (Status.FAILED, Status.ERROR):
            if services is not None:  # what they printed while it ran, once
                services.show_since(marks, f"printed while {ended.name!r} ran")
            if self.options.fail_fast:
                self.no_more.set()

    def marks_of(self, scenario: Scenario) -> dict[str, int]:
        """What its suite's services have printed so far (when it starts elsewhere)."""
        services = self.services.get(scenario.suite) if scenario.suite is not None else None
        return services.marks() if services is not None else {}

    def ended_elsewhere(
        self, ended: ScenarioEnded, scenario: Scenario, marks: dict[str, int]
    ) -> None:
        """A scenario that a worker process ran has ended: emit its end as `_scenario` does
        its own (naming the services that exited, then what they printed while it ran)."""
        services = self.services.get(scenario.suite) if scenario.suite is not None else None
        if services is not None:
            ended = _with_exits(ended, services)
        self.results[ended.scenario] = ended
        self.emit(ended)
        if ended.status in (Status.FAILED, Status.ERROR):
            if services is not None:
                services.show_since(marks, f"printed while {ended.name!r} ran")
            if self.options.fail_fast and not self.no_more.is_set():
                self.no_more.set()
                self.on_no_more()

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


def _nothing() -> None:
    return


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
    raise_fd_limit()
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
    with collector_for_runs():
        try:
            status = _run_with_services(run, suite, scenarios)
        finally:
            _end(run, scenarios, status)
    return status


#: The collector's thresholds while scenarios run (Python's default: 700, 10, 10).
RUN_GC_THRESHOLD = (20_000, 20, 20)


@contextlib.contextmanager
def collector_for_runs() -> Iterator[None]:
    """The garbage collector tuned for a run, restored after it.

    The loaded suite's millions of objects live through the run: frozen, the collector's passes
    skip them (they cost a long scenario ~40% of its run); thawed at the end. The run's own
    objects (each connection's thread, socket, events...) still made Python's default
    thresholds run a full collection two or three times in a 1,000-connection run (57-142 ms
    each, every thread stopped: every round trip in flight waited) and ~35 middle ones:
    `RUN_GC_THRESHOLD` collects the young generation less often (cycles still go, a few MB
    later) and the older ones rarely, as a long run needs them.
    """
    threshold = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(*RUN_GC_THRESHOLD)
    try:
        yield
    finally:
        gc.set_threshold(*threshold)
        gc.unfreeze()


def raise_fd_limit() -> int:
    """Raise this process's soft limit on open files to its hard limit; return the soft limit.

    Raising a soft limit up to the hard one needs no privilege. When that fails (a hard limit
    the kernel will not grant), the limit stays as it was.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = FD_LIMIT_CAP if hard == resource.RLIM_INFINITY else hard
    if soft != resource.RLIM_INFINITY and soft < wanted:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
        except (OSError, ValueError):
            return soft
        return wanted
    return soft


def _with_exits(ended: ScenarioEnded, services: SuiteServices) -> ScenarioEnded:
    """`ended`, its failure naming the services of its suite that have exited, if any."""
    failure = ended.failure
    if ended.status not in (Status.FAILED, Status.ERROR) or failure is None:
        return ended
    exits = services.exited(wait=EXIT_WAIT)
    if not exits:
        return ended
    said = "; ".join(e.describe() for e in exits)
    failure = dataclasses.replace(failure, message=f"{failure.message} ({said})")
    return dataclasses.replace(ended, failure=failure)


def _suites_used(suite: Suite, scenarios: Sequence[Scenario]) -> list[SuiteFile]:
    """The suite files of `scenarios`, in the order of their first scenario."""
    used: dict[Path, SuiteFile] = {}
    for scenario in scenarios:
        suite_file = suite.suite_of(scenario)
        if suite_file is not None:
            used.setdefault(suite_file.path, suite_file)
    return list(used.values())


def _labels(suites: Sequence[SuiteFile]) -> Callable[[SuiteFile], Callable[[str], str]]:
    """How services are named in events: by name, or folder/name when two suites share one."""
    counts = Counter(service.name for s in suites for service in s.services)

    def of(suite_file: SuiteFile) -> Callable[[str], str]:
        folder = _shown(suite_file.path.parent)
        return lambda name: f"{folder}/{name}" if counts[name] > 1 else name

    return of


def _shown(path: Path) -> str:
    relative = os.path.relpath(path)
    return str(path) if relative.startswith("..") else relative


def describe_suites(suite: Suite, scenarios: Sequence[Scenario]) -> list[str]:
    """One line per suite file the run of `scenarios` uses, with its services (for the log);
    none when no scenario has a suite file."""
    lines = []
    for suite_file in _suites_used(suite, scenarios):
        names = ", ".join(s.name for s in suite_file.services) or "none"
        count = sum(1 for s in scenarios if s.suite == suite_file.path)
        noun = "scenario" if count == 1 else "scenarios"
        lines.append(f"suite file {suite_file.path} ({count} {noun}; services: {names})")
    alone = sum(1 for s in scenarios if suite.suite_of(s) is None)
    if alone and lines:  # said only beside a suite file: no suite at all needs no line
        noun = "scenario" if alone == 1 else "scenarios"
        lines.append(f"no suite file for {alone} {noun}")
    return lines


def _run_with_services(run: _Run, suite: Suite, scenarios: Sequence[Scenario]) -> Status:
    try:  # a Ctrl-C at any point of it is an interrupted run, not an error
        used = _suites_used(suite, scenarios)
        label = _labels(used)
        for suite_file in used:
            services = SuiteServices(suite_file, run.clock, run.emit, label(suite_file))
            run.services[suite_file.path] = services
            run.variables[suite_file.path] = services.start()
        if run.options.processes > 1 and len(scenarios) > 1:
            from runner.executor.processes import run_spread

            run_spread(run, scenarios)
        else:
            _run_pool(run, list(enumerate(scenarios)))
    except ServiceError:
        return Status.ERROR
    except KeyboardInterrupt:
        run.stop.set()
    finally:
        _stop_services(run)
    return _status(run)


def _stop_services(run: _Run) -> None:
    """Stop every suite's services, last started first, whatever Ctrl-C comes meanwhile.

    After a failed run, what each service printed and was not shown yet is shown first.
    """
    failed = any(r.status in (Status.FAILED, Status.ERROR) for r in run.results.values())
    for services in reversed(list(run.services.values())):
        while True:
            try:
                if failed and not run.stop.is_set():
                    services.show_rest("the rest of its output, as the run failed")
                services.stop()
                break
            except KeyboardInterrupt:  # stop() has stopped them all all the same
                run.stop.set()


def _run_pool(run: _Run, numbered: Sequence[tuple[int, Scenario]]) -> None:
    """Run the scenarios, each with its index in the run, on `jobs` threads."""
    with ThreadPoolExecutor(run.options.jobs, thread_name_prefix="wsrun-scenario") as pool:
        futures: list[Future[None]] = []
        try:
            for place, (index, scenario) in enumerate(numbered):  # never submitted: skipped
                futures.append(pool.submit(run.scenario, index, scenario, run.pace(place)))
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
