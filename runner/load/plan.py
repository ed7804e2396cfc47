"""What the virtual users of one scenario file run: its scenarios (one per `parametrize` row),
the variables services provide, and those services, started once per process.

Locust-free: the CLI builds a `Plan` before it imports Locust, so that bad input is told
before anything is patched, and a hand-written locustfile builds one on its first user.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from runner.events import Event, ServiceOutput
from runner.executor.clock import Clock
from runner.executor.suite_services import SuiteServices
from runner.load.reporter import step_labels
from runner.scenario import Scenario, Suite, load_suite

__all__ = ["Plan", "load_plan"]


@dataclass
class Plan:
    """The scenarios the users run (user `i` runs row ``i % len(scenarios)``), with the
    variables the suite's services provide."""

    suite: Suite
    scenarios: list[Scenario]
    variables: dict[str, Any] = field(default_factory=dict)
    clock: Clock = field(default_factory=Clock)
    stop: threading.Event = field(default_factory=threading.Event)
    labels: dict[str, str] = field(default_factory=dict)
    finished: int = 0  # users of this process that ran all their iterations
    on_finished: Callable[[], None] | None = None  # called as each of them finishes
    _services: list[SuiteServices] = field(default_factory=list)

    def user_finished(self) -> None:
        """A user of this process ran its last iteration."""
        self.finished += 1
        if self.on_finished is not None:
            self.on_finished()

    def scenario_for(self, user: int) -> Scenario:
        """The scenario (parametrize row) of the `user`-th virtual user, from 0."""
        return self.scenarios[user % len(self.scenarios)]

    def start_services(self, say: Callable[[str], None]) -> None:
        """Start the services of the scenarios' suite file, as ``wsrun run`` does.

        Raises:
            ServiceError: one did not start (what it printed has been said).
        """
        suite_file = self.suite.suite_of(self.scenarios[0])
        if suite_file is None or not suite_file.services:
            return
        services = SuiteServices(suite_file, self.clock, _output_to(say))
        self._services.append(services)
        self.variables.update(services.start())
        names = ", ".join(service.name for service in suite_file.services)
        say(f"suite file {suite_file.path}: services started: {names}")

    def stop_services(self) -> None:
        """Stop what `start_services` started (safe to call twice)."""
        while self._services:
            self._services.pop().stop()


def _output_to(say: Callable[[str], None]) -> Callable[[Event], None]:
    def emit(event: Event) -> None:
        if isinstance(event, ServiceOutput):
            say(f"service {event.service}: {event.reason}\n{event.output}".rstrip())

    return emit


def load_plan(
    paths: Sequence[str], variables: Mapping[str, str], allow_outside: Sequence[str] = ()
) -> Plan:
    """Load the scenario files the users run.

    Raises:
        ScenarioErrors: the files have errors.
        ValueError: they hold no scenario.
    """
    suite = load_suite(list(paths), dict(variables), list(allow_outside))
    if not suite.scenarios:
        raise ValueError(f"no scenario found in {' '.join(paths)}")
    labels: dict[str, str] = {}
    for scenario in suite.scenarios:
        labels.update(step_labels(scenario.steps))
    return Plan(suite=suite, scenarios=list(suite.scenarios), labels=labels)
