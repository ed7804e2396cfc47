"""A scenario file's scenarios as pytest items.

Collection loads the file with wsrun's loader (`load_suite`, which validates it completely and
finds its suite file): no network, no template rendering (``${uuid()}`` runs when the scenario
runs), so every xdist worker collects the same ids. One item per scenario and per
``parametrize`` row, named as wsrun names it (``ticker[2-50]``); its location is the scenario's
line in the YAML file; its tags are pytest marks (registered, so ``--strict-markers`` holds),
and every item has the ``wsrun`` mark.

An item runs its scenario with the executor's `ScenarioRunner` on a thread of its own, so that a
Ctrl-C (or pytest-timeout) on pytest's thread stops the scenario's waits and closes its
connections before it propagates. Each step of the scenario is then reported as a subtest
(pytest 9: `pytest.SubtestReport`; before it, as a report section); a failure is wsrun's own
failure block (where, expected, closest, diff, last frames), as plain text, so that JUnit XML
and xdist carry it as it is.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import pytest

from runner.errors import ScenarioErrors
from runner.events import Event, ScenarioEnded, ScenarioStarted, Status, StepEnded
from runner.executor.clock import POLL
from runner.executor.scenario_run import CLOSE_WAIT, ScenarioRunner
from runner.pytest_plugin.services import RunServices, ServicesDidNotStart, shown
from runner.report.text import failure_lines, format_duration, preview
from runner.scenario import Scenario, SuiteFile, load_suite

__all__ = ["ScenarioFailed", "ScenarioFile", "ScenarioItem"]

#: pytest's own marks: a tag spelled like one stays a tag only (it would skip or xfail the
#: scenario); so does a tag that cannot be a mark's name (`MARK_NAME`).
PYTEST_MARKS = frozenset(
    {"filterwarnings", "parametrize", "skip", "skipif", "usefixtures", "xfail", "tryfirst"}
)

#: What a tag must look like to be a mark: pytest's ``markers`` ini lines end a name at ``:`` or
#: ``(``, and ``-m`` takes words of these characters.
MARK_NAME = re.compile(r"[\w+\-./]+")

_REGISTERED = pytest.StashKey[set[str]]()


class ScenarioFailed(Exception):
    """A scenario failed; `text` is its failure block."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


class ScenarioFile(pytest.File):
    """A YAML file of wsrun scenarios (a library file has none)."""

    def collect(self) -> Iterator[ScenarioItem]:
        suite = load_suite([shown(self.path)])
        for scenario in suite.scenarios:
            yield ScenarioItem.from_parent(
                self, name=scenario.name, scenario=scenario, suite_file=suite.suite_of(scenario)
            )

    def repr_failure(  # type: ignore[override]
        self, excinfo: pytest.ExceptionInfo[BaseException]
    ) -> str | Any:
        if isinstance(excinfo.value, ScenarioErrors):
            return str(excinfo.value)  # every error of the file, at its line and column
        return super().repr_failure(excinfo)


class ScenarioItem(pytest.Item):
    """One scenario (one row of a parametrized one), run by wsrun's executor."""

    def __init__(self, *, scenario: Scenario, suite_file: SuiteFile | None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scenario = scenario
        self.suite_file = suite_file
        self._variables: dict[str, Any] = {}
        for name in ("wsrun", *scenario.tags):
            if name not in PYTEST_MARKS and MARK_NAME.fullmatch(name):
                _register_mark(self.config, name)
                self.add_marker(name)

    def reportinfo(self) -> tuple[Any, int, str]:
        return self.path, int(self.scenario.location.line) - 1, self.name

    def setup(self) -> None:
        services = self.config.pluginmanager.get_plugin(RunServices.NAME)
        assert isinstance(services, RunServices)
        try:
            self._variables = services.variables_for(self.suite_file)
        except ServicesDidNotStart as exc:
            pytest.fail(str(exc), pytrace=False)

    def runtest(self) -> None:
        services = self.config.pluginmanager.get_plugin(RunServices.NAME)
        assert isinstance(services, RunServices)
        events: list[Event] = []
        ended = run_scenario(self.scenario, self._variables, services, events.append)
        self._report_steps(ended, events)
        if ended.status in (Status.FAILED, Status.ERROR):
            raise ScenarioFailed(failure_block(ended, events))
        if ended.status is not Status.PASSED:
            pytest.skip(f"not run ({ended.status.value})")

    def repr_failure(
        self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None
    ) -> str | Any:
        if isinstance(excinfo.value, ScenarioFailed):
            return excinfo.value.text
        return super().repr_failure(excinfo, style=style)

    # -- steps as subtests ---------------------------------------------------------------------

    def _report_steps(self, ended: ScenarioEnded, events: list[Event]) -> None:
        """One report per step of the scenario (a loop is one step, its iterations inside)."""
        last: dict[int, StepEnded] = {}
        for event in events:
            if isinstance(event, StepEnded):
                last[event.index] = event  # a loop's own comes after its steps'
        steps = [last[i] for i in sorted(last)]
        subtest = _subtest_report_type()
        if subtest is None:  # pytest before 9: a section of the report
            lines = [f"{_step_title(step)}: {step.status.value}" for step in steps]
            self.add_report_section("call", "wsrun steps", "\n".join(lines))
            return
        for step in steps:
            self._log_subtest(subtest, step, ended)

    def _log_subtest(self, make: Callable[..., Any], step: StepEnded, ended: ScenarioEnded) -> None:
        passed = step.status in (Status.PASSED, Status.SKIPPED)
        longrepr = None if passed else _step_failure(step, ended)
        report = make(
            nodeid=self.nodeid,
            location=self.location,
            keywords={name: 1 for name in self.keywords},
            outcome="passed" if passed else "failed",
            longrepr=longrepr,
            when="call",
            duration=step.duration,
            msg=_step_title(step),
        )
        with _capture_suspended(self.config):
            self.ihook.pytest_runtest_logreport(report=report)


def _register_mark(config: pytest.Config, name: str) -> None:
    """Declare a tag as a marker once (pytest warns of, or with --strict-markers refuses,
    unknown marks)."""
    registered = config.stash.setdefault(_REGISTERED, set())
    if name not in registered:
        registered.add(name)
        what = "every wsrun scenario" if name == "wsrun" else "wsrun scenarios tagged so"
        config.addinivalue_line("markers", f"{name}: {what}")


def _step_title(step: StepEnded) -> str:
    """``step 3 expect on bob (chat.yaml:14:5)``"""
    on = f" on {step.conn}" if step.conn else ""
    return f"step {step.index + 1} {step.kind}{on} ({step.location})"


def _step_failure(step: StepEnded, ended: ScenarioEnded) -> str:
    failure = ended.failure
    if failure is not None and failure.step == step.index:
        return failure.message
    return f"{step.kind} {step.status.value}"


def _subtest_report_type() -> Callable[..., Any] | None:
    """A maker of pytest 9's `SubtestReport`s, or None before pytest 9."""
    try:
        from _pytest.subtests import SubtestContext  # the context's type is not exported

        report_type = pytest.SubtestReport
    except (ImportError, AttributeError):
        return None

    def make(*, msg: str, **fields: Any) -> Any:
        report = report_type(**fields)
        report.context = SubtestContext(msg=msg, kwargs={})
        return report

    return make


def _capture_suspended(config: pytest.Config) -> AbstractContextManager[Any]:
    """Reports written while the item runs go to the terminal, not into its captured output."""
    capture = config.pluginmanager.get_plugin("capturemanager")
    if capture is None:
        return nullcontext()
    suspended: AbstractContextManager[Any] = capture.global_and_fixture_disabled()
    return suspended


# -- running one scenario ---------------------------------------------------------------------

#: After a Ctrl-C, how long pytest's thread waits for the scenario to close its connections.
STOP_WAIT = 2 * CLOSE_WAIT + 1.0


def run_scenario(
    scenario: Scenario,
    variables: dict[str, Any],
    services: RunServices,
    emit: Callable[[Event], None],
) -> ScenarioEnded:
    """Run `scenario` on a thread of its own and return its result; pytest's thread only waits,
    and anything raised there (a Ctrl-C) stops the scenario before it propagates."""
    stop = threading.Event()
    runner = ScenarioRunner(scenario, 0, variables, clock=services.clock, emit=emit, stop=stop)
    outcome: list[ScenarioEnded | BaseException] = []

    def run() -> None:
        try:
            outcome.append(runner.run())
        except BaseException as exc:  # a bug of the runner: raised again on pytest's thread
            outcome.append(exc)

    thread = threading.Thread(target=run, name="wsrun-scenario", daemon=True)
    thread.start()
    try:
        while thread.is_alive():
            thread.join(POLL * 2)
    except BaseException:
        stop.set()  # every wait ends within POLL; the connections get closed
        thread.join(STOP_WAIT)
        raise
    result = outcome[0]
    if isinstance(result, BaseException):
        raise result
    return result


def failure_block(ended: ScenarioEnded, events: list[Event]) -> str:
    """The failure of `ended` as the console shows it: the message (the first line, so that
    pytest's summary line shows it), where, expected, closest, diff, last frames, then the
    messages nobody expected and how far the scenario got."""
    base = next((e.at for e in events if isinstance(e, ScenarioStarted)), 0.0)
    lines = [line.text for line in failure_lines(ended.failure, base)] if ended.failure else []
    lines = lines[:1] + [f"  {line}" for line in lines[1:]]
    if ended.unexpected:
        lines.append(f"  unexpected messages ({len(ended.unexpected)}):")
        lines += [f"    {u.conn} ← {preview(u.data, 200)}" for u in ended.unexpected[:20]]
    steps = f"{ended.steps_passed} of {ended.steps_total} steps passed"
    lines.append(
        f"  {ended.status.value}: {ended.name} ({steps}, {format_duration(ended.duration)})"
    )
    return "\n".join(lines)
