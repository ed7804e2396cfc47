"""The process supervisor: commands started before a run, waited for, watched, and stopped.

A service is a command (the built-in server, or the user's server under test). `ServiceGroup`
starts services in order, waits until each is ready (a line of its output matches a regex, a
port or URL accepts connections), captures their output, and stops them: the whole process group
gets SIGTERM, then SIGKILL after a grace period. Every wait has a deadline, so a service that
never becomes ready is a `ServiceError`, never a hang.

What a service is comes from the suite file's model, `runner.scenario.Service`, rendered; this
module only reads it, through the `SupervisedService` protocol, and knows nothing of templates
or files (the executor's `suite_services` renders the models and turns all this into events).

Services run in a session of their own, so a Ctrl-C in the terminal reaches wsrun only; wsrun
then stops them (the caller calls `ServiceGroup.stop`, or leaves its `with` block).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from types import TracebackType
from typing import IO, TYPE_CHECKING, NoReturn, Protocol
from urllib.parse import urlsplit

from runner.errors import ServiceError
from runner.matching.patterns import Pattern, PatternError, compile_pattern

if TYPE_CHECKING:  # imported where a service starts: most runs start none (3 ms of start-up)
    import subprocess

__all__ = ["DEFAULT_GRACE", "OUTPUT_LIMIT", "ReadyCondition", "ServiceGroup", "SupervisedService"]

#: Seconds between SIGTERM and SIGKILL when services stop.
DEFAULT_GRACE = 5.0
#: The most output kept per service, in characters; older lines are dropped first.
OUTPUT_LIMIT = 1024 * 1024

_POLL = 0.05
_LINE_LIMIT = 64 * 1024
_KILL_WAIT = 5.0
_DEFAULT_PORTS = {"ws": 80, "http": 80, "wss": 443, "https": 443}
# The folder holding this wsrun's `runner` package: a service `wsrun ...` imports it from there.
_HOME = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class ReadyCondition(Protocol):
    """When a service counts as ready: every condition that is not None holds.

    Attributes:
        port: This port of localhost accepts TCP connections.
        url: The host and port of this URL accept TCP connections.
        log: A line of output matches this regex (searched); its named groups become captures.
    """

    @property
    def port(self) -> int | None: ...
    @property
    def url(self) -> str | None: ...
    @property
    def log(self) -> str | None: ...


class SupervisedService(Protocol):
    """What the supervisor reads of a service; `runner.scenario.Service`, rendered, is one.

    Attributes:
        name: The service's name, used in messages and to look up its output.
        command: An argument list, or a string run by ``/bin/sh``. A list starting with
            ``wsrun`` runs this wsrun (same interpreter and version).
        cwd: The working directory of the command.
        env: Variables added to (or overriding) wsrun's environment.
        ready: When the service is ready.
        timeout: Seconds to wait for readiness.
    """

    @property
    def name(self) -> str: ...
    @property
    def command(self) -> Sequence[str] | str: ...
    @property
    def cwd(self) -> str: ...
    @property
    def env(self) -> Mapping[str, str]: ...
    @property
    def ready(self) -> ReadyCondition: ...
    @property
    def timeout(self) -> float: ...


class ServiceGroup:
    """The services of one run, started in order by `start()` and stopped by `stop()`.

    Use it as a context manager so that the services stop after a failure or a Ctrl-C::

        with ServiceGroup(services) as group:
            variables = group.start()
            ...

    Args:
        services: The services, started in this order (and stopped in the reverse order).
        grace: Seconds between SIGTERM and SIGKILL when stopping.
        output_limit: The most output kept per service, in characters.
    """

    def __init__(
        self,
        services: Sequence[SupervisedService],
        *,
        grace: float = DEFAULT_GRACE,
        output_limit: int = OUTPUT_LIMIT,
    ) -> None:
        names = [service.name for service in services]
        if len(set(names)) != len(names):
            raise ValueError(f"service names must be unique, found {names}")
        self.services = tuple(services)
        self.grace = grace
        self.output_limit = output_limit
        self._running: dict[str, _Running] = {}

    def start(self) -> dict[str, str]:
        """Start every service and wait until each is ready; return all their captures.

        The captures are the named groups of each `ready.log` match, plus ``port`` for a
        `ready.port`; a later service's capture replaces an earlier one of the same name (see
        `captures()` for one service's own). On any failure, the services already started are
        stopped before the exception propagates.

        Raises:
            ServiceError: A command cannot be started, exits before it is ready, or is not
                ready within its timeout; `output` holds what it printed.
        """
        if self._running:
            raise RuntimeError("services are already started")
        variables: dict[str, str] = {}
        for service in self.services:
            variables.update(self.add(service))
        return variables

    def add(self, service: SupervisedService) -> dict[str, str]:
        """Start one more service and wait until it is ready; return its captures.

        This is how services that depend on what earlier ones provide start: the caller renders
        each one once the previous ones are ready. On any failure (a Ctrl-C included) every
        service of the group is stopped before the exception propagates.

        Raises:
            ServiceError: as `start()`.
        """
        if service.name in self._running:
            raise ValueError(f"service names must be unique, found {service.name!r} twice")
        if all(s.name != service.name for s in self.services):
            self.services = (*self.services, service)
        try:
            running = self._running[service.name] = _Running(service, self.output_limit)
            return dict(running.start())
        except BaseException:
            self.stop()
            raise

    def captures(self, name: str) -> dict[str, str]:
        """What service `name` provided when it became ready."""
        return dict(self._started(name).captures)

    def output(self, name: str) -> str:
        """The stdout and stderr of service `name` so far (the last `output_limit` characters)."""
        return self._started(name).output.text()

    def returncode(self, name: str) -> int | None:
        """The exit status of service `name`, or None while it runs."""
        return self._started(name).process.poll()

    def exit_code(self, name: str, wait: float = 0.5) -> int | None:
        """The exit status of service `name`, or None while it runs; once its output has ended
        (it is exiting), wait up to `wait` seconds for the status."""
        running = self._started(name)
        code = running.process.poll()
        if code is None and running.output.ended():
            import subprocess

            with contextlib.suppress(subprocess.TimeoutExpired):
                code = running.process.wait(wait)
        return code

    def names(self) -> list[str]:
        """The names of the started services, in the order they started."""
        return list(self._running)

    def line_count(self, name: str) -> int:
        """How many lines service `name` has printed so far (dropped ones included)."""
        return self._started(name).output.count()

    def lines_since(self, name: str, count: int) -> tuple[int, list[str]]:
        """The lines service `name` printed after its first `count` that are still kept, and
        the number (from 0) of the first of them."""
        return self._started(name).output.since(count)

    def pid(self, name: str) -> int:
        """The process id of service `name`, which is also its process group id."""
        return self._started(name).process.pid

    def stop(self) -> None:
        """Stop every started service, last started first; idempotent.

        Every service gets SIGTERM first, then they are waited for with one shared deadline
        (`grace` seconds from the first signal), so stopping several slow ones takes one grace
        period, not one each; the ones still running at the deadline get SIGKILL.

        A Ctrl-C (KeyboardInterrupt) while it waits ends the grace period: every service not yet
        stopped gets SIGKILL at once, each is waited for, and then the interrupt propagates.
        However many interrupts come, no service is left running.
        """
        interrupt: KeyboardInterrupt | None = None
        stopping = list(reversed(self._running.values()))
        deadline = time.monotonic() + self.grace
        while True:
            try:
                for running in stopping:
                    running.terminate()
                for running in stopping:
                    running.finish(deadline if interrupt is None else None)
                break
            except KeyboardInterrupt as exc:
                interrupt = exc  # again, at once: SIGKILL for every one not yet stopped
        if interrupt is not None:
            raise interrupt

    def __enter__(self) -> ServiceGroup:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _started(self, name: str) -> _Running:
        try:
            return self._running[name]
        except KeyError:
            raise KeyError(f"no started service named {name!r}") from None


class _Running:
    """One started command: its process, its output, and what it provided."""

    def __init__(self, service: SupervisedService, output_limit: int) -> None:
        self.service = service
        self.ready = service.ready
        self.pattern = _compile(service.name, self.ready.log)
        self.output = _Output(self.pattern, output_limit)
        self.captures: dict[str, str] = {}
        self._process: subprocess.Popen[bytes] | None = None
        self._stopped = False  # set once the process and its output are gone
        self._terminated = False  # set once SIGTERM was sent

    @property
    def process(self) -> subprocess.Popen[bytes]:
        if self._process is None:
            raise RuntimeError(f"service {self.service.name!r} did not start")
        return self._process

    def start(self) -> dict[str, str]:
        self._process = _spawn(self.service)
        assert self._process.stdout is not None  # stdout=PIPE
        self.output.read(self._process.stdout, f"wsrun-service-{self.service.name}")
        self._wait_ready()
        self.captures = dict(self.output.match or {})
        if self.ready.port is not None:
            self.captures["port"] = str(self.ready.port)
        return self.captures

    def _wait_ready(self) -> None:
        timeout = self.service.timeout
        deadline = time.monotonic() + timeout
        while not self._ready(deadline):
            code = self.process.poll()
            if code is not None:
                self.output.join(_POLL * 10)  # let the last lines in, for the message
                self._fail(f"exited with code {code} before it was ready")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self._fail(f"not ready within {timeout:g}s")
            self.output.wait(min(_POLL, remaining))

    def _ready(self, deadline: float) -> bool:
        ready = self.ready
        if self.pattern is not None and self.output.match is None:
            return False
        if ready.port is not None and not _accepts("localhost", ready.port, deadline):
            return False
        return ready.url is None or _accepts(*_address(ready.url), deadline)

    def _fail(self, what: str) -> NoReturn:
        raise ServiceError(
            self.service.name, f"{what}; waited for {self._conditions()}", self.output.text()
        )

    def _conditions(self) -> str:
        ready = self.ready
        waits = []
        if ready.log is not None:
            waits.append(f"a line of output matching {ready.log!r}")
        if ready.port is not None:
            waits.append(f"port {ready.port} to accept connections")
        if ready.url is not None:
            waits.append(f"{ready.url} to accept connections")
        return " and ".join(waits) or "nothing"

    def stop(self, grace: float) -> None:
        """SIGTERM the process group, SIGKILL it after `grace` seconds (at once for 0).

        Idempotent, and safe to call again after an interrupt cut it short: it is done only
        once the process has been waited for.
        """
        self.terminate()
        self.finish(time.monotonic() + grace if grace > 0 else None)

    def terminate(self) -> None:
        """SIGTERM the process group, once (nothing once it is stopped)."""
        if self._process is None or self._stopped or self._terminated:
            return
        _signal_group(self._process.pid, signal.SIGTERM)
        self._terminated = True

    def finish(self, deadline: float | None) -> None:
        """Wait for the process until `deadline` (`time.monotonic()`; None: not at all), then
        SIGKILL its group and wait for it and its output. Idempotent, like `stop`."""
        if self._process is None or self._stopped:
            return
        import subprocess

        if deadline is not None and deadline > time.monotonic():
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._process.wait(max(0.0, deadline - time.monotonic()))
            # The output ends when every process of the group holding it has exited.
            self.output.join(max(0.0, deadline - time.monotonic()))
        _signal_group(self._process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._process.wait(_KILL_WAIT)
        self.output.join(_KILL_WAIT)
        self._stopped = True


class _Output:
    """The output of a service, read line by line on a thread, the last `limit` characters kept.

    While `pattern` has not matched, each new line is searched; the first match's named groups
    are kept as `match`.
    """

    def __init__(self, pattern: Pattern | None, limit: int) -> None:
        self.pattern = pattern
        self.limit = limit
        self.match: dict[str, str] | None = None
        self._lines: deque[str] = deque()
        self._size = 0
        self._count = 0  # lines added, dropped ones included
        self._dropped = False
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None

    def read(self, stream: IO[bytes], name: str) -> None:
        """Start reading `stream` on a thread; the thread closes it at its end."""
        self._thread = threading.Thread(target=self._read, args=(stream,), name=name, daemon=True)
        self._thread.start()

    def text(self) -> str:
        with self._changed:
            lines = list(self._lines)
        head = ["[earlier output dropped]"] if self._dropped else []
        return "".join(line + "\n" for line in head + lines)

    def count(self) -> int:
        with self._changed:
            return self._count

    def since(self, count: int) -> tuple[int, list[str]]:
        """The lines after the first `count` that are still kept, and the first one's number."""
        with self._changed:
            kept_from = self._count - len(self._lines)
            first = max(count, kept_from)
            return first, list(self._lines)[first - kept_from :]

    def ended(self) -> bool:
        """Whether the output has ended (every process holding it has exited or closed it)."""
        return self._thread is not None and not self._thread.is_alive()

    def wait(self, seconds: float) -> None:
        """Wait up to `seconds` for a new line."""
        with self._changed:
            self._changed.wait(seconds)

    def join(self, seconds: float) -> None:
        """Wait up to `seconds` for the end of the output."""
        if self._thread is not None:
            self._thread.join(seconds)

    def _read(self, stream: IO[bytes]) -> None:
        with stream:
            for raw in _lines(stream):
                self._add(raw.decode("utf-8", "replace").rstrip("\r\n"))
        with self._changed:
            self._changed.notify_all()

    def _add(self, line: str) -> None:
        with self._changed:
            self._lines.append(line)
            self._count += 1
            self._size += len(line) + 1
            while self._size > self.limit and len(self._lines) > 1:
                self._size -= len(self._lines.popleft()) + 1
                self._dropped = True
            if self.pattern is not None and self.match is None:
                found = self.pattern.search(line)
                if found:
                    groups = found.groupdict()
                    self.match = {k: v for k, v in groups.items() if v is not None}
            self._changed.notify_all()


def _lines(stream: IO[bytes]) -> Iterator[bytes]:
    """The lines of `stream` (a very long line comes in pieces), until its end."""
    while line := stream.readline(_LINE_LIMIT):
        yield line


def _compile(name: str, log: str | None) -> Pattern | None:
    """The `ready.log` regex, compiled by RE2 (linear time: a line cannot hang the reader);
    the suite file's models have checked it, a caller may not have."""
    if log is None:
        return None
    try:
        return compile_pattern(log)
    except PatternError as exc:
        raise ServiceError(
            name, f"ready.log is not a valid regular expression: {exc.reason}"
        ) from None


def _spawn(service: SupervisedService) -> subprocess.Popen[bytes]:
    """Start the command of `service` in a new session, its stdout and stderr in one pipe."""
    import shlex
    import subprocess

    command = service.command
    shell = isinstance(command, str)
    args = command if isinstance(command, str) else _argv(command)
    if not args:
        raise ServiceError(service.name, "command is empty")
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **service.env}
    if not shell and list(command[:1]) == ["wsrun"]:  # this wsrun, wherever the service runs
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [_HOME, env.get("PYTHONPATH")]))
    try:
        return subprocess.Popen(
            args,
            shell=shell,
            cwd=service.cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, which stop() signals as a whole
        )
    except OSError as exc:
        shown = args if isinstance(args, str) else shlex.join(args)
        raise ServiceError(service.name, f"cannot start {shown}: {exc.strerror or exc}") from exc


def _argv(command: Sequence[str]) -> list[str]:
    """`command`, with a leading ``wsrun`` replaced by this interpreter running this wsrun."""
    args = list(command)
    if args[:1] != ["wsrun"]:
        return args
    if args[1:2] == ["serve"]:  # the server directly: starts faster, needs no CLI
        return [sys.executable, "-m", "runner.server", *args[2:]]
    return [sys.executable, "-m", "runner", *args[1:]]


def _accepts(host: str, port: int, deadline: float) -> bool:
    """Whether `host:port` accepts a TCP connection now (waiting no later than `deadline`)."""
    wait = min(1.0, max(0.01, deadline - time.monotonic()))
    try:
        with socket.create_connection((host, port), timeout=wait):
            return True
    except OSError:
        return False


def _address(url: str) -> tuple[str, int]:
    """The host and port a URL connects to."""
    parts = urlsplit(url)
    port = parts.port or _DEFAULT_PORTS.get(parts.scheme, 80)
    return parts.hostname or "localhost", port


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    """Send `sig` to a process group that may already be gone."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)
