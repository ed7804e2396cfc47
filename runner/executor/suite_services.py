"""The suite's services, seen from the executor: rendered, started, stopped, and told as events.

Each `Service` of the suite file is rendered with the suite's variables (its command, env and
ready port and url; the model checks the result again) and handed, as it is, to the process
supervisor (`runner.supervisor`). Once they are ready, each service's `provides` templates are
filled in with what it captured (a port, a URL) and become variables of every scenario. Their
output goes into events, so reporters show it on failure and keep it in the reports.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from runner.errors import ScenarioError, ServiceError
from runner.events import Event, ServiceOutput, ServiceStarted, ServiceStopped
from runner.executor.clock import Clock
from runner.scenario import Service, SuiteFile, render
from runner.scenario.rendering import render_service
from runner.supervisor import ServiceGroup

__all__ = ["SuiteServices"]


class SuiteServices:
    """The services of one run (none when there is no suite file, or it declares none)."""

    def __init__(
        self, suite_file: SuiteFile | None, clock: Clock, emit: Callable[[Event], None]
    ) -> None:
        self.services: list[Service] = list(suite_file.services) if suite_file else []
        self.suite_vars: dict[str, Any] = dict(suite_file.vars) if suite_file else {}
        self.clock = clock
        self.emit = emit
        self._group: ServiceGroup | None = None

    def start(self) -> dict[str, Any]:
        """Start every service; return the variables they provide.

        Raises:
            ServiceError: a service could not be rendered or did not start; its output (if it
                ran) has been emitted.
        """
        if not self.services:
            return {}
        try:
            self._group = ServiceGroup([self._rendered(s) for s in self.services])
            self._group.start()
            return self._provided(self._group)
        except ServiceError as error:
            self._did_not_start(error)
            raise

    def _rendered(self, service: Service) -> Service:
        with _as_service_error(service):
            return render_service(service, self.suite_vars)

    def _did_not_start(self, error: ServiceError) -> None:
        self.emit(
            ServiceOutput(
                at=self.clock.now(),
                service=error.name,
                output=error.output,
                reason=f"did not start: {error.message}",
            )
        )

    def _provided(self, group: ServiceGroup) -> dict[str, Any]:
        """Each service's `provides`, rendered from its own captures (two may capture `url`)."""
        provided: dict[str, Any] = {}
        for service in self.services:
            variables = {**self.suite_vars, **group.captures(service.name)}
            with _as_service_error(service):
                values = render(service.provides, variables, service.location)
            provided.update(values)
            self.emit(
                ServiceStarted(
                    at=self.clock.now(),
                    service=service.name,
                    provides={k: str(v) for k, v in values.items()},
                )
            )
        return provided

    def show_output(self, reason: str) -> None:
        """Emit what each service printed so far (after a scenario failed)."""
        for service in self.services:
            output = self._output(service.name)
            if output:
                self.emit(
                    ServiceOutput(
                        at=self.clock.now(), service=service.name, output=output, reason=reason
                    )
                )

    def stop(self) -> None:
        """Stop every service (after the run, a failure or Ctrl-C) and emit their output."""
        if self._group is None:
            return
        try:
            self._group.stop()
        finally:
            for service in self.services:
                output = self._output(service.name)
                self.emit(ServiceStopped(at=self.clock.now(), service=service.name, output=output))
            self._group = None

    def _output(self, name: str) -> str:
        """What service `name` printed; empty when it never started."""
        if self._group is None:
            return ""
        try:
            return self._group.output(name)
        except KeyError:
            return ""


@contextmanager
def _as_service_error(service: Service) -> Iterator[None]:
    """A template of `service` that fails to render means the service cannot start."""
    try:
        yield
    except ScenarioError as error:
        raise ServiceError(service.name, str(error)) from error
