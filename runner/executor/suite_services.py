"""The services of a suite file, seen from the executor: rendered, started, watched, stopped.

Services start in order. Each one's command, env and ready port and url are rendered just before
it starts, with the suite's variables (``--var`` values over them) and what the services before
it provide; numbers become text. Once it is ready, its `provides` templates are filled in with
what it captured (a port, a URL) and become variables of the next services and of every scenario
of the suite. The loader has checked every reference already (`wsrun validate` does too), so what
can still fail here is a value known only now (an unset environment variable).

While the scenarios run, a watcher notices a service that exits: it is told at once (a
`ServiceOutput` event with its exit code and last lines), and `exited()` lets the run say so in
the failures that follow. The output is told once: the lines printed during a failing scenario
(`show_since`), what is left at the end of a run that failed (`show_rest`), and the whole of it
in `ServiceStopped`, for the reports.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from runner.errors import ScenarioError, ServiceError
from runner.events import Event, ServiceOutput, ServiceStarted, ServiceStopped
from runner.executor.clock import POLL, Clock
from runner.scenario import Service, SuiteFile, render
from runner.scenario.loader import available_variables
from runner.scenario.rendering import render_service, render_variables
from runner.supervisor import ServiceGroup

__all__ = ["EXIT_LINES", "Exit", "SuiteServices"]

#: How many of its last lines are shown when a service exits during the run.
EXIT_LINES = 20


@dataclass(frozen=True)
class Exit:
    """A service that exited while the scenarios ran."""

    service: str  # its name as shown (see `SuiteServices.label`)
    code: int
    at: float  # seconds since the run started

    def describe(self) -> str:
        return f"service {self.service!r} exited with code {self.code} at {self.at:.3f}s"


class SuiteServices:
    """The services of one suite file (none when there is no suite file, or it declares none).

    Args:
        suite_file: the suite file, its `vars` holding the ``--var`` values already.
        clock: the run's clock.
        emit: where events go.
        label: how each service is named in events (default: its name); a run over several
            suites names the services of a suite by its folder when two suites share a name.
    """

    def __init__(
        self,
        suite_file: SuiteFile | None,
        clock: Clock,
        emit: Callable[[Event], None],
        label: Callable[[str], str] | None = None,
    ) -> None:
        self.services: list[Service] = list(suite_file.services) if suite_file else []
        self.suite_vars: dict[str, Any] = dict(suite_file.vars) if suite_file else {}
        self.clock = clock
        self.emit = emit
        self.label = label or (lambda name: name)
        self._group: ServiceGroup | None = None
        self._exits: dict[str, Exit] = {}
        self._shown: dict[str, list[tuple[int, int]]] = {}  # service → line ranges told
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._watcher: threading.Thread | None = None

    def start(self) -> dict[str, Any]:
        """Start every service, in order; return the variables they provide.

        Raises:
            ServiceError: a service could not be rendered or did not start; its output (if it
                ran) has been emitted, and the services started before it are stopped.
        """
        if not self.services:
            return {}
        self._group = ServiceGroup([])
        provided: dict[str, Any] = {}
        try:
            for service in self.services:
                provided.update(self._start(self._group, service, provided))
        except ServiceError as error:
            self._did_not_start(error)
            raise
        self._watcher = threading.Thread(target=self._watch, name="wsrun-watch", daemon=True)
        self._watcher.start()
        return provided

    def _start(
        self, group: ServiceGroup, service: Service, provided: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Render `service` with what the services before it provide, start it, and return
        what it provides."""
        with _as_service_error(service):
            scope = self._scope(provided, service)
            rendered = render_service(service, scope)
        captures = group.add(rendered)
        with _as_service_error(service):
            values = render(service.provides, {**scope, **captures}, service.location)
        self.emit(
            ServiceStarted(
                at=self.clock.now(),
                service=self.label(service.name),
                provides={k: str(v) for k, v in values.items()},
            )
        )
        return dict(values)

    def _scope(self, provided: Mapping[str, Any], service: Service) -> dict[str, Any]:
        """The suite's variables that can be rendered now, rendered, and `provided`."""
        known = set(provided)
        names = available_variables(self.suite_vars, known)
        variables = {name: self.suite_vars[name] for name in names}
        return render_variables(variables, provided, service.location)

    def _did_not_start(self, error: ServiceError) -> None:
        self.emit(
            ServiceOutput(
                at=self.clock.now(),
                service=self.label(error.name),
                output=error.output,
                reason=f"did not start: {error.message}",
            )
        )

    # -- while the scenarios run --------------------------------------------------------------

    def _watch(self) -> None:
        """Until the services are stopped: tell each service that exits, once, at once."""
        while not self._stopping.wait(POLL):
            self.exited()

    def exited(self, wait: float = 0.0) -> list[Exit]:
        """The services that have exited so far (each told once by a `ServiceOutput` event).

        Args:
            wait: when none has exited, look again after this many seconds (a scenario that
                just failed may have seen the service go a moment before its exit status).
        """
        found = self._poll()
        if not found and wait > 0 and not self._stopping.wait(wait):
            found = self._poll()
        return found

    def _poll(self) -> list[Exit]:
        group = self._group
        if group is None:
            return []
        with self._lock:
            for name in group.names():
                if name in self._exits or self._stopping.is_set():
                    continue
                code = group.exit_code(name)
                if code is not None:
                    self._exits[name] = Exit(self.label(name), code, self.clock.now())
                    self._told_exit(group, name, code)
            return list(self._exits.values())

    def _told_exit(self, group: ServiceGroup, name: str, code: int) -> None:
        first, lines = group.lines_since(name, 0)
        start = max(first, first + len(lines) - EXIT_LINES)
        self._show(group, name, start, f"exited with code {code} while the scenarios ran", True)

    def marks(self) -> dict[str, int]:
        """How many lines each service has printed so far (to `show_since` later)."""
        group = self._group
        return {} if group is None else {n: group.line_count(n) for n in group.names()}

    def show_since(self, marks: Mapping[str, int], reason: str) -> None:
        """Emit the lines each service printed since `marks` and that were not shown yet."""
        group = self._group
        if group is None:
            return
        with self._lock:
            for name in group.names():
                self._show(group, name, marks.get(name, 0), reason)

    def show_rest(self, reason: str) -> None:
        """Emit, once, what each service printed and was not shown yet (at the end of a run)."""
        group = self._group
        if group is None:
            return
        with self._lock:
            for name in group.names():
                self._show(group, name, 0, reason)

    def _show(
        self, group: ServiceGroup, name: str, start: int, reason: str, always: bool = False
    ) -> None:
        """Emit the lines of `name` from line `start` on that were not shown yet (all of them
        with `always`, an exit: its last lines say why); an event only when there are some."""
        first, lines = group.lines_since(name, start)
        shown = self._shown.setdefault(name, [])
        numbered = list(enumerate(lines, first))
        if not always:
            numbered = [(n, line) for n, line in numbered if not _within(n, shown)]
        if numbered:
            shown.append((numbered[0][0], numbered[-1][0] + 1))
        if not numbered:
            return
        parts, previous = [], numbered[0][0]
        for number, line in numbered:
            if number != previous:
                parts.append("[…]")  # lines shown before
            parts.append(line)
            previous = number + 1
        self.emit(
            ServiceOutput(
                at=self.clock.now(),
                service=self.label(name),
                output="".join(part + "\n" for part in parts),
                reason=reason,
            )
        )

    # -- the end ------------------------------------------------------------------------------

    def stop(self) -> None:
        """Stop every service (after the run, a failure or Ctrl-C) and emit their whole output.

        A Ctrl-C while they stop cuts their grace period; every service is still stopped and
        told, and then the interrupt propagates.
        """
        self._stopping.set()
        group = self._group
        if group is None:
            return
        try:
            group.stop()
        finally:
            for name in group.names():
                output = self._output(group, name)
                self.emit(
                    ServiceStopped(at=self.clock.now(), service=self.label(name), output=output)
                )
            self._group = None

    @staticmethod
    def _output(group: ServiceGroup, name: str) -> str:
        """What service `name` printed; empty when it never started."""
        try:
            return group.output(name)
        except KeyError:
            return ""


def _within(number: int, ranges: list[tuple[int, int]]) -> bool:
    return any(start <= number < end for start, end in ranges)


@contextmanager
def _as_service_error(service: Service) -> Iterator[None]:
    """A template of `service` that fails to render means the service cannot start."""
    try:
        yield
    except ScenarioError as error:
        raise ServiceError(service.name, str(error)) from error
