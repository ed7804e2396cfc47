"""The suite services of a pytest run: started once, their variables handed to every item.

Without pytest-xdist, the services of the suite files of the selected items start before the
first item runs, in the order of their first item, and stop when the session ends (also after a
Ctrl-C or a failure). A service that does not start makes the items of its suite errors, at
setup; the other suites' items run.

Under pytest-xdist the workers start nothing: the controller starts the services, once, when the
first worker has collected, which is before the scheduler hands out any item (it knows the
selected items from their ids). It writes what the services provide to a file in a folder of its
own, named in each worker's ``workerinput``; a worker reads it at its first item. The controller
owns the processes, so they stop when its session ends: after the last item, after a Ctrl-C,
and after a worker crashed.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from runner.errors import ScenarioErrors, ServiceError
from runner.events import Event, ServiceOutput, ServiceStarted, ServiceStopped
from runner.pytest_plugin import is_scenario_file, scenario_roots

if TYPE_CHECKING:  # the executor and the language are imported once a run has scenarios
    from runner.executor.clock import Clock
    from runner.executor.suite_services import SuiteServices
    from runner.scenario import SuiteFile

__all__ = ["HANDOFF_KEY", "RunServices", "ServicesDidNotStart"]

#: The ``workerinput`` key naming the file where the controller hands over the variables.
HANDOFF_KEY = "wsrun_services"

_TAIL = 20  # lines of a service's output shown in the summary


class ServicesDidNotStart(Exception):
    """The services of a scenario's suite file did not start: the scenario cannot run."""


class RunServices:
    """The run's suite services, as a pytest plugin (registered by `pytest_configure`).

    Args:
        config: the run's config; ``workerinput`` on it means an xdist worker.
    """

    NAME = "wsrun-services"

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self._clock: Clock | None = None
        self._services: dict[str, SuiteServices] = {}  # resolved suite file → its services
        self._variables: dict[str, dict[str, Any]] = {}
        self._errors: dict[str, str] = {}
        self._lock = threading.Lock()  # the services' watchers emit from their threads
        self._said: list[str] = []  # for the terminal summary
        self._folder: Path | None = None  # the controller's handoff folder
        self._handed_out = False
        self._handed: dict[str, Any] | None = None  # a worker's copy of the handoff

    # -- what items ask ------------------------------------------------------------------------

    @property
    def clock(self) -> Clock:
        """The run's clock (every event's `at` is from its start), made at the first use."""
        if self._clock is None:
            from runner.executor.clock import Clock

            self._clock = Clock()
        return self._clock

    def variables_for(self, suite_file: SuiteFile | None) -> dict[str, Any]:
        """What the services of `suite_file` provide (none without a suite file).

        Raises:
            ServicesDidNotStart: they did not start (or the controller handed over nothing).
        """
        if suite_file is None:
            return {}
        key = _key(suite_file.path)
        if self._is_worker():
            return self._handed_variables(key, suite_file)
        self.start([suite_file])
        if key in self._errors:
            raise ServicesDidNotStart(self._errors[key])
        return dict(self._variables[key])

    def start(self, suite_files: Sequence[SuiteFile]) -> None:
        """Start the services of each suite file not started yet, in order."""
        for suite_file in suite_files:
            key = _key(suite_file.path)
            if key in self._services:
                continue
            from runner.executor.suite_services import SuiteServices

            services = SuiteServices(suite_file, self.clock, self._told)
            self._services[key] = services  # before start(): a Ctrl-C in it still stops them
            try:
                self._variables[key] = services.start()
            except ServiceError as error:
                self._errors[key] = f"the services of {suite_file.path} did not start: {error}"

    def stop(self) -> None:
        """Stop every suite's services, last started first, whatever Ctrl-C comes meanwhile."""
        for services in reversed(list(self._services.values())):
            try:
                services.stop()
            except KeyboardInterrupt:  # stop() has stopped them all the same
                continue
        self._services.clear()

    # -- pytest, without xdist -----------------------------------------------------------------

    @pytest.hookimpl(wrapper=True)
    def pytest_runtestloop(self, session: pytest.Session) -> object:
        if not (self._is_worker() or self._is_controller() or self._nothing_to_run(session)):
            self.start(_suite_files(session.items))
        return (yield)

    def _nothing_to_run(self, session: pytest.Session) -> bool:
        option = session.config.option
        return bool(option.collectonly) or (
            session.testsfailed > 0 and not option.continue_on_collection_errors
        )

    def pytest_sessionfinish(self) -> None:
        self.stop()

    def pytest_unconfigure(self) -> None:
        self.stop()
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if self._said:
            terminalreporter.write_sep("-", "wsrun services")
            for line in self._said:
                terminalreporter.write_line(line)

    # -- pytest-xdist: the controller ----------------------------------------------------------

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        if self._folder is None:
            self._folder = Path(tempfile.mkdtemp(prefix="wsrun-pytest-"))
        node.workerinput[HANDOFF_KEY] = str(self._folder / "services.json")

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: Any, ids: Sequence[str]) -> None:
        if self._handed_out or self._folder is None:
            return
        self._handed_out = True  # the first worker's ids: xdist checks that all agree
        handoff: dict[str, Any] = {"suites": {}, "error": None}
        try:
            self.start(self._suites_of(ids))
        except ScenarioErrors as errors:
            handoff["error"] = f"the xdist controller could not load the scenarios: {errors}"
        for key, variables in self._variables.items():
            handoff["suites"][key] = {"variables": variables}
        for key, error in self._errors.items():
            handoff["suites"][key] = {"error": error}
        _write_atomically(self._folder / "services.json", json.dumps(handoff, default=str))

    def _suites_of(self, ids: Sequence[str]) -> list[SuiteFile]:
        """The suite files of the wsrun scenarios among `ids`, in the order of their first."""
        roots = scenario_roots(self.config)
        files: dict[str, None] = {}
        for nodeid in ids:
            path = self.config.rootpath / nodeid.split("::", 1)[0]
            if is_scenario_file(path, roots):
                files.setdefault(shown(path))
        if not files:
            return []
        from runner.scenario import load_suite

        suite = load_suite(list(files))
        used = {_key(s.suite) for s in suite.scenarios if s.suite is not None}
        return [s for s in suite.suite_files if _key(s.path) in used]

    # -- pytest-xdist: a worker ----------------------------------------------------------------

    def _handed_variables(self, key: str, suite_file: SuiteFile) -> dict[str, Any]:
        if self._handed is None:
            self._handed = self._read_handoff()
        if self._handed.get("error"):
            raise ServicesDidNotStart(str(self._handed["error"]))
        entry = self._handed.get("suites", {}).get(key)
        if entry is None:
            raise ServicesDidNotStart(
                f"the xdist controller started no services for {suite_file.path}"
            )
        if "error" in entry:
            raise ServicesDidNotStart(str(entry["error"]))
        return dict(entry["variables"])

    def _read_handoff(self) -> dict[str, Any]:
        workerinput: dict[str, Any] = getattr(self.config, "workerinput", {})
        where = workerinput.get(HANDOFF_KEY)
        if where is None:
            return {"error": "the xdist controller runs without wsrun's plugin"}
        try:
            handoff: dict[str, Any] = json.loads(Path(where).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            return {"error": f"the xdist controller handed over no services ({exc})"}
        return handoff

    # -- events and roles ----------------------------------------------------------------------

    def _told(self, event: Event) -> None:
        """What the services say, for the terminal summary."""
        with self._lock:
            if isinstance(event, ServiceStarted):
                provides = ", ".join(f"{k}={v}" for k, v in event.provides.items())
                self._said.append(f"service {event.service!r} started once for the run: {provides}")
            elif isinstance(event, ServiceOutput):
                tail = event.output.splitlines()[-_TAIL:]
                reason = f" ({event.reason})" if event.reason else ""
                self._said.append(f"output of service {event.service!r}{reason}:")
                self._said.extend(f"    {line}" for line in tail)
            elif isinstance(event, ServiceStopped):
                self._said.append(f"service {event.service!r} stopped")

    def _is_worker(self) -> bool:
        return hasattr(self.config, "workerinput")

    def _is_controller(self) -> bool:
        return self.config.pluginmanager.has_plugin("dsession")


def _suite_files(items: Sequence[pytest.Item]) -> list[SuiteFile]:
    """The suite files of the wsrun items among `items`, in the order of their first item."""
    module = sys.modules.get("runner.pytest_plugin.items")
    if module is None:
        return []  # no scenario file was collected: nothing to import for
    found: dict[str, SuiteFile] = {}
    for item in items:
        if isinstance(item, module.ScenarioItem) and item.suite_file is not None:
            found.setdefault(_key(item.suite_file.path), item.suite_file)
    return list(found.values())


def _key(path: Path) -> str:
    return str(path.resolve())


def shown(path: Path) -> str:
    """`path` as wsrun shows it: relative to the working folder when inside it."""
    relative = os.path.relpath(path)
    return str(path) if relative.startswith("..") else relative


def _write_atomically(path: Path, text: str) -> None:
    partial = path.with_suffix(".partial")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)
