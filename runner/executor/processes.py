"""Spreading a run's scenarios over worker processes (``wsrun run -j N --processes P``).

One Python process drives its connections under one GIL: about 500 connections open a second,
and a reply waits for the other connections' Python. ``--processes P`` runs the scenarios in P
worker processes (``python -m runner.executor.processes``) that share the N threads (the
first ``N % P`` workers have one more; at most N workers, and one per scenario):

- The parent loads and selects the scenarios, starts the services (their variables go to the
  workers) and deals the scenarios out in turn: scenario ``i`` goes to worker ``i % P``. Each
  worker gets, pickled on its stdin, its scenarios with their global indices, the variables,
  the run's options and the run clock's origin (`time.monotonic` is the machine's clock, so
  the workers' event times are the parent's).
- A worker runs them on its own thread pool, as a one-process run does, and sends every event
  back, pickled in batches (whatever is waiting when the last batch was written), on a pipe of
  its own; ``${env.X}`` values it reads go the same way, before the events that may hold them,
  to the parent's redaction. The parent feeds the events to its reporters, so every report
  reads as one run's.
- Fail-fast: the parent tells every worker to start no new scenario once one fails. Ctrl-C:
  the workers run in a session of their own (the terminal's Ctrl-C reaches the parent only),
  the parent tells them to stop and waits for their interrupted scenarios; one that has not
  ended `STOP_GRACE` seconds later is killed. A worker whose stdin closes (the parent is gone)
  stops too.
- Scenarios that pickle cannot copy (a plug-in's object in them) run in this process, as
  without ``--processes``, after a line on stderr that says so.
- A worker that dies: each of its scenarios that had not ended ends as an error that names
  the worker, its exit (a signal or a status) and the last lines it wrote to stderr. It never
  passes.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import io
import os
import pickle
import signal
import struct
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from runner.events import Event, Failure, ScenarioEnded, ScenarioStarted, Status
from runner.executor.clock import POLL

if TYPE_CHECKING:
    from runner.executor.suite_run import RunOptions, _Run
    from runner.scenario import Scenario

__all__ = ["STDERR_LINES", "STOP_GRACE", "run_spread", "worker_main"]

#: How long a worker may take to stop after Ctrl-C before it is killed (seconds): the
#: executor's slowest reaction to a stop is its close wait, about two seconds.
STOP_GRACE = 5.0
#: After writing a batch of events, a worker lets the next gather this long (seconds): under
#: load a batch a few milliseconds, not one frame a few events (each frame costs a write, a
#: wake-up and a read); an idle worker's first event goes at once. Events carry their times.
BATCH_WAIT = 0.01
#: How many of a dead worker's last stderr lines its scenarios' errors show.
STDERR_LINES = 20
_LENGTH = struct.Struct(">I")
_STOP, _NO_MORE = b"s", b"n"  # the parent's commands, one byte each, on a worker's stdin


@dataclass(frozen=True)
class _Job:
    """What a worker runs (pickled on its stdin)."""

    scenarios: list[tuple[int, Scenario]]  # (global index, scenario)
    variables: dict[Path | None, dict[str, Any]]
    options: RunOptions
    clock_start: float


#: The fields of each dataclass the workers send, in order (`dataclasses.fields`, once a class).
_FIELDS: dict[type, tuple[str, ...]] = {}


def _fields_of(cls: type) -> tuple[str, ...]:
    names = _FIELDS.get(cls)
    if names is None:
        names = _FIELDS[cls] = tuple(f.name for f in dataclasses.fields(cls))
    return names


def _rebuild(cls: type, values: tuple[Any, ...]) -> Any:
    """A dataclass instance from its fields' values, as unpickling makes it: no ``__init__``."""
    made: Any = object.__new__(cls)
    for name, value in zip(_fields_of(cls), values, strict=True):
        object.__setattr__(made, name, value)  # frozen ones too
    return made


class _Pickler(pickle.Pickler):
    """Pickles a dataclass (every event, its failure, its transcript) as its class and its
    fields' values: about six times as fast both ways as the default for slotted, frozen
    dataclasses (their ``__getstate__``/``__setstate__`` walk the fields in Python)."""

    def reducer_override(self, obj: Any) -> Any:
        cls = type(obj)
        if hasattr(cls, "__dataclass_fields__"):
            return _rebuild, (cls, tuple([getattr(obj, name) for name in _fields_of(cls)]))
        return NotImplemented


def _dumps(value: Any) -> bytes:
    buffer = io.BytesIO()
    _Pickler(buffer, pickle.HIGHEST_PROTOCOL).dump(value)
    return buffer.getvalue()


def _write_frame(file: IO[bytes], data: bytes) -> None:
    file.write(_LENGTH.pack(len(data)) + data)
    file.flush()


def _read_exactly(read: Callable[[int], bytes], size: int) -> bytes | None:
    parts, left = [], size
    while left:
        chunk = read(left)
        if not chunk:
            return None
        parts.append(chunk)
        left -= len(chunk)
    return b"".join(parts)


def _read_frame(read: Callable[[int], bytes]) -> bytes | None:
    """One length-prefixed frame from `read` (a file's or a descriptor's); None at the end."""
    head = _read_exactly(read, _LENGTH.size)
    if head is None:
        return None
    return _read_exactly(read, _LENGTH.unpack(head)[0])


# -- the parent ------------------------------------------------------------------------------


class _Worker:
    """One worker process, seen from the parent: its share, its pipes, the thread reading it."""

    def __init__(self, number: int, share: list[tuple[int, Scenario]], run: _Run) -> None:
        self.number = number
        self.share = share
        self.run = run
        self.scenarios = dict(share)
        self.started: set[int] = set()
        self.marks: dict[int, dict[str, int]] = {}  # the services' output when each started
        self.stderr: collections.deque[str] = collections.deque(maxlen=STDERR_LINES)
        self._lock = threading.Lock()  # commands on stdin, from any thread
        read_end, write_end = os.pipe()
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "runner.executor.processes", str(write_end)],
                env=_worker_environment(),
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                pass_fds=(write_end,),
                start_new_session=True,  # the terminal's Ctrl-C reaches the parent only
            )
        finally:
            os.close(write_end)
        self.events = os.fdopen(read_end, "rb")
        self.reader = threading.Thread(target=self._read, name=f"wsrun-worker-{number}")
        self.done = threading.Event()  # set when `_read` has told everything
        self.errors = threading.Thread(target=self._read_stderr, daemon=True)

    def start(self, job: bytes) -> None:
        """Send the pickled `_Job`, then read what the worker says until it ends."""
        try:
            assert self.proc.stdin is not None
            _write_frame(self.proc.stdin, job)
        except OSError:  # it died at once: `_read` says so for each of its scenarios
            pass
        self.errors.start()
        self.reader.start()

    def command(self, what: bytes) -> None:
        with self._lock:
            try:
                assert self.proc.stdin is not None
                self.proc.stdin.write(what)
                self.proc.stdin.flush()
            except (OSError, ValueError):  # gone already (its end is told by `_read`)
                pass

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            text = line.decode("utf-8", "replace").rstrip("\n")
            self.stderr.append(text)
            sys.stderr.write(text + "\n")  # a worker's warning or traceback is seen as it comes

    def _read(self) -> None:
        try:
            while (frame := _read_frame(self.events.read)) is not None:
                for item in pickle.loads(frame):
                    self._take(item)
        except Exception as exc:  # a torn or bad frame: the worker is lost all the same
            self.stderr.append(f"wsrun could not read worker {self.number}'s events: {exc!r}")
            self.proc.kill()
        finally:
            self.events.close()
            code = self.proc.wait()
            self.errors.join(timeout=1.0)
            self._close_pipes()
            try:
                self._lost(code)
            finally:
                self.done.set()

    def _close_pipes(self) -> None:
        with self._lock:
            for pipe in (self.proc.stdin, self.proc.stderr):
                if pipe is not None:
                    with contextlib.suppress(OSError):
                        pipe.close()

    def _take(self, item: Event | str) -> None:
        if isinstance(item, str):  # an ${env.X} value: redacted before any event shows it
            from runner.scenario import templates

            if templates.on_env_value is not None:
                templates.on_env_value(item)
            return
        run = self.run
        if isinstance(item, ScenarioEnded):
            run.ended_elsewhere(
                item, self.scenarios[item.scenario], self.marks.pop(item.scenario, {})
            )
            return
        if isinstance(item, ScenarioStarted):
            self.started.add(item.scenario)
            self.marks[item.scenario] = run.marks_of(self.scenarios[item.scenario])
        run.emit(item)

    def _lost(self, code: int) -> None:
        """After the worker's exit: its scenarios that did not end end as errors (or, after
        Ctrl-C, the started ones as interrupted; the others are skipped at the run's end)."""
        run = self.run
        missing = [(i, s) for i, s in self.share if i not in run.results]
        if not missing:
            return
        cause = _describe_exit(code)
        said = "\n".join(self.stderr)
        for index, scenario in missing:
            if run.stop.is_set():
                if index not in self.started:
                    continue
                status, failure = Status.INTERRUPTED, None
            else:
                message = (
                    f"the worker process that ran it (worker {self.number}, pid {self.proc.pid}) "
                    f"{cause} before the scenario ended"
                )
                details = f"{message}\nits last stderr lines:\n{said}" if said else message
                status, failure = Status.ERROR, Failure(message=message, traceback=details)
            ended = ScenarioEnded(
                at=run.clock.now(),
                scenario=index,
                name=scenario.name,
                status=status,
                duration=0.0,
                steps_passed=0,
                steps_total=len(scenario.steps),
                failure=failure,
            )
            run.ended_elsewhere(ended, scenario, self.marks.pop(index, {}))


def _worker_environment() -> dict[str, str]:
    """This process's environment, with the folder that holds this `runner` package first on
    ``PYTHONPATH``: the workers import the same wsrun (an editable install, a checkout run
    with ``python -m runner`` from elsewhere, a test's ``sys.path``)."""
    folder = str(Path(__file__).resolve().parents[2])
    paths = [folder, *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    return os.environ | {"PYTHONPATH": os.pathsep.join(paths)}


def _describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"was killed by signal {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with status {code}"


def _options_of(options: RunOptions, number: int, count: int) -> RunOptions:
    """Worker `number`'s options: its part of the ``-j`` threads (together exactly ``-j``,
    the first workers taking the remainder) and of the scenarios that may start at once."""
    jobs = options.jobs // count + (1 if number < options.jobs % count else 0)
    starting = max(1, options.starting // count)  # as many starts at once as in one process
    return replace(options, jobs=jobs, processes=1, starting=starting)


def _shares(scenarios: Sequence[Scenario], processes: int) -> list[list[tuple[int, Scenario]]]:
    """Scenario ``i`` to worker ``i % processes``: neighbours (rows of one table) spread."""
    shares: list[list[tuple[int, Scenario]]] = [[] for _ in range(processes)]
    for index, scenario in enumerate(scenarios):
        shares[index % processes].append((index, scenario))
    return shares


def run_spread(run: _Run, scenarios: Sequence[Scenario]) -> None:
    """Run `scenarios` over ``run.options.processes`` worker processes (see the module's
    doc); return when every worker has ended. Ctrl-C: the workers stop, then it re-raises."""
    from runner.executor.suite_run import _run_pool

    options = run.options
    count = min(options.processes, options.jobs, len(scenarios))
    if count <= 1:  # one worker would only add its start-up
        _run_pool(run, list(enumerate(scenarios)))
        return
    shares = _shares(scenarios, count)
    try:
        jobs = [
            pickle.dumps(
                _Job(share, run.variables, _options_of(options, number, count), run.clock.start),
                pickle.HIGHEST_PROTOCOL,
            )
            for number, share in enumerate(shares)
        ]
    except Exception as exc:  # something in a scenario that pickle cannot copy (a plug-in's)
        sys.stderr.write(
            f"wsrun: --processes: the scenarios cannot be sent to worker processes ({exc!r}); "
            "running them all in this process\n"
        )
        _run_pool(run, list(enumerate(scenarios)))
        return
    workers: list[_Worker] = []

    def no_more() -> None:
        for worker in workers:
            worker.command(_NO_MORE)

    run.on_no_more = no_more
    try:
        for number, (share, job) in enumerate(zip(shares, jobs, strict=True)):
            workers.append(_Worker(number, share, run))
            workers[-1].start(job)
        _join(workers)
    except KeyboardInterrupt:
        _interrupt(run, workers)
        raise


def _interrupt(run: _Run, workers: list[_Worker]) -> None:
    """Ctrl-C: tell every worker to stop and wait for them to end; kill those that have not
    ended `STOP_GRACE` seconds later (their started scenarios are reported interrupted)."""
    run.stop.set()
    for worker in workers:
        worker.command(_STOP)
    deadline, killed = time.monotonic() + STOP_GRACE, False
    while True:
        try:
            for worker in workers:
                while not worker.done.wait(POLL * 2):
                    if not killed and time.monotonic() >= deadline:
                        killed = True
                        for late in workers:
                            if not late.done.is_set():
                                with contextlib.suppress(OSError):
                                    late.proc.kill()  # `_read` ends at once then
            return
        except KeyboardInterrupt:  # later ones change nothing (the cli raises only the first)
            continue


def _join(workers: list[_Worker]) -> None:
    """Wait until every worker has ended and its scenarios' ends are emitted. On an event,
    not `Thread.join`: a Ctrl-C that interrupts a join leaves Python 3.11 thinking the thread
    has ended (it releases the thread's lock, bpo-45274's handling)."""
    for worker in workers:
        while not worker.done.wait(POLL * 2):
            continue


# -- the worker ------------------------------------------------------------------------------


class _Sender:
    """The worker's events (and ``${env.X}`` values), pickled in batches on the parent's pipe:
    `emit` only appends; a thread writes whatever is waiting, at most one batch each
    `BATCH_WAIT`."""

    def __init__(self, fd: int) -> None:
        self._file = os.fdopen(fd, "wb")
        self._items: list[Event | str] = []
        self._ready = threading.Condition(threading.Lock())
        self._closed = False
        self._broken = False
        self._thread = threading.Thread(target=self._write, name="wsrun-worker-events")
        self._thread.start()

    def emit(self, item: Event | str) -> None:
        with self._ready:
            self._items.append(item)
            if len(self._items) == 1:
                self._ready.notify()

    def _write(self) -> None:
        while True:
            with self._ready:
                while not self._items and not self._closed:
                    self._ready.wait()
                items, self._items = self._items, []
                closed = self._closed
            if items and not self._broken:
                try:
                    _write_frame(self._file, _dumps(items))
                except OSError:  # the parent is gone (its commands' end says stop): drop
                    self._broken = True
                except Exception:  # an event pickle cannot copy: this worker is lost
                    traceback.print_exc()
                    sys.stderr.flush()
                    os._exit(3)  # its scenarios that did not end are errors, naming this
            if closed and not items:
                with contextlib.suppress(OSError):
                    self._file.close()
                return
            if items and not closed:
                time.sleep(BATCH_WAIT)  # let the next batch gather (times are in the events)

    def close(self) -> None:
        """Write what is waiting, then close the pipe (the parent reads its end)."""
        with self._ready:
            self._closed = True
            self._ready.notify()
        self._thread.join()


def _commands(stdin: int, run: _Run) -> None:
    """The parent's commands; its end of the pipe closing (it is gone) is a stop. Read from
    the descriptor, unbuffered: a daemon thread blocked in a buffered read would hold the
    buffer's lock while the interpreter shuts down."""
    while True:
        try:
            what = os.read(stdin, 1)
        except OSError:
            what = b""
        if what == _NO_MORE:
            run.no_more.set()
        elif what == _STOP or not what:
            run.stop.set()
            return


def worker_main(fd: int, stdin: int = 0) -> int:
    """A worker process: read the job, run it, send the events on `fd`."""
    from runner.executor.suite_run import _Run, _run_pool, collector_for_runs, raise_fd_limit
    from runner.scenario import templates

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent's command stops this process
    frame = _read_frame(lambda size: os.read(stdin, size))
    if frame is None:
        return 0
    job: _Job = pickle.loads(frame)
    raise_fd_limit()
    sender = _Sender(fd)
    emit: Callable[[Event], None] = sender.emit
    templates.on_env_value = sender.emit
    run = _Run(emit, job.options)
    run.clock.start = job.clock_start
    run.variables = job.variables
    threading.Thread(target=_commands, args=(stdin, run), daemon=True).start()
    try:
        with collector_for_runs():  # as the parent's run: the job's objects frozen
            _run_pool(run, job.scenarios)
    finally:
        sender.close()
    return 0


if __name__ == "__main__":
    # Run as ``python -m``, this module is ``__main__``: what it pickles must name the module
    # the parent imports (`_rebuild`), so the worker runs from that one.
    from runner.executor import processes

    sys.exit(processes.worker_main(int(sys.argv[1])))
