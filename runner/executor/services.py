"""The suite's services, seen from the executor: started before the run, stopped after it.

The suite file's service models become `runner.services.ServiceSpec`s; once they are ready, each
service's `provides` templates are filled in with what the services captured (a port, a URL)
and become variables of every scenario. Their output goes into events, so reporters show it on
failure and keep it in the reports.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from runner.errors import Location, ServiceError
from runner.events import Event, ServiceOutput, ServiceStarted, ServiceStopped
from runner.executor.clock import Clock
from runner.scenario.templates import render

__all__ = ["Services"]


class Services:
    """The services of one run (none when the suite file declares none)."""

    def __init__(self, suite: Any, clock: Clock, emit: Callable[[Event], None]) -> None:
        suite_file = getattr(suite, "suite_file", None)
        self.models: list[Any] = list(getattr(suite_file, "services", None) or [])
        self.suite_vars: dict[str, Any] = dict(getattr(suite_file, "vars", None) or {})
        self.clock = clock
        self.emit = emit
        self._group: Any = None

    def start(self) -> dict[str, Any]:
        """Start every service; return the variables they provide.

        Raises:
            ServiceError: a service did not start; its output has been emitted.
        """
        if not self.models:
            return {}
        from runner.services import ServiceGroup

        specs = [_spec(model, self.suite_vars) for model in self.models]
        self._group = ServiceGroup(specs)
        try:
            self._group.start()
        except ServiceError as error:
            self.emit(
                ServiceOutput(
                    at=self.clock.now(),
                    service=error.name,
                    output=error.output,
                    reason=f"did not start: {error.message}",
                )
            )
            raise
        return self._provided()

    def _provided(self) -> dict[str, Any]:
        """Each service's `provides`, rendered from its own captures (two may capture `url`)."""
        provided: dict[str, Any] = {}
        for model in self.models:
            variables = {**self.suite_vars, **self._group.captures(model.name)}
            values = {
                key: render(value, variables, _location(model))
                for key, value in (getattr(model, "provides", None) or {}).items()
            }
            provided.update(values)
            self.emit(
                ServiceStarted(
                    at=self.clock.now(),
                    service=model.name,
                    provides={k: str(v) for k, v in values.items()},
                )
            )
        return provided

    def show_output(self, reason: str) -> None:
        """Emit what each service printed so far (after a scenario failed)."""
        for model in self.models:
            output = self._output(model.name)
            if output:
                self.emit(
                    ServiceOutput(
                        at=self.clock.now(), service=model.name, output=output, reason=reason
                    )
                )

    def stop(self) -> None:
        """Stop every service (after the run, a failure or Ctrl-C) and emit their output."""
        if self._group is None:
            return
        try:
            self._group.stop()
        finally:
            for model in self.models:
                output = self._output(model.name)
                self.emit(ServiceStopped(at=self.clock.now(), service=model.name, output=output))
            self._group = None

    def _output(self, name: str) -> str:
        """What service `name` printed; empty when it never started."""
        if self._group is None:
            return ""
        try:
            return str(self._group.output(name))
        except KeyError:
            return ""


def _spec(model: Any, variables: dict[str, Any]) -> Any:
    """A `runner.services.ServiceSpec` from a suite file's service model."""
    from runner.services import ServiceSpec

    ready = model.ready
    port = render(ready.port, variables, _location(model)) if ready.port is not None else None
    return ServiceSpec(
        name=model.name,
        command=render(model.command, variables, _location(model)),
        cwd=Path(model.cwd),  # the loader made it relative to the suite file's folder
        env={k: str(v) for k, v in render(dict(model.env), variables, _location(model)).items()},
        ready_port=int(port) if port is not None else None,
        ready_url=render(ready.url, variables, _location(model)),
        ready_log=ready.log,
        timeout=float(model.timeout),
        provides=dict(model.provides),
    )


def _location(model: Any) -> Location:
    location = getattr(model, "location", None)
    return location if isinstance(location, Location) else Location("suite", 1, 1)
