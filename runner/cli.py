"""The `wsrun` command: argument parsing, exit codes, and wiring of loader, executor, reporters.

`main(argv)` returns an `ExitCode` and never calls `sys.exit`, so tests can drive it in-process
with a console of their own; `entry()` is the console script. Heavy modules (rich, pydantic, the
client core) are imported inside the commands, so that ``wsrun --version`` starts fast.

A reporter that fails during a run (a closed pipe on stdout, a bug) is disabled by the event bus;
the run goes on with the same verdicts, every other report is written, and then the failure is
printed to stderr, in plain text, and `wsrun` exits 3.

Ctrl-C (SIGINT) at any moment exits 130 without a traceback. It raises `KeyboardInterrupt`
where the main thread is: before the run, nothing ran and no report is written (said so);
during it, the executor stops the scenarios in order. Once the stop shows (a step or scenario
ended interrupted), and while the run winds up (every scenario over: services stopping,
reports being written), a Ctrl-C is only counted: it cannot cut a report or the services' stop
in half.
"""

from __future__ import annotations

import argparse
import functools
import gc
import math
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from enum import IntEnum
from types import FrameType
from typing import IO, TYPE_CHECKING, Any, NamedTuple, cast

from runner import __version__

if TYPE_CHECKING:
    from rich.console import Console

    from runner.events import EventBus, ListenerFailure, Status
    from runner.report import Reporter

__all__ = ["ExitCode", "build_parser", "entry", "main"]

COMMANDS = ("run", "validate", "schema", "serve", "report", "import", "record", "load")


class ExitCode(IntEnum):
    """What `wsrun` exits with."""

    OK = 0  # every scenario passed (validate: every file is valid)
    FAILED = 1  # a scenario failed
    USAGE = 2  # invalid input: bad arguments, a scenario file with errors, nothing selected
    INTERNAL = 3  # wsrun itself failed (a reporter included), or a suite service did not start
    INTERRUPTED = 130  # Ctrl-C (128 + SIGINT)


class UsageError(Exception):
    """A command line that cannot be run; the message says why."""


@functools.cache
def _parser() -> argparse.ArgumentParser:
    """`build_parser()`, built once: parsing does not change it, and `main` may run many times
    in one process (tests, fuzzing: rebuilding it was a third of a small case)."""
    return build_parser()


class _ArgumentParser(argparse.ArgumentParser):
    """argparse's parser, whose help formatter is as wide as `shutil` says the terminal is,
    without importing `shutil` (and `bz2`, `lzma`, `zlib` with it: ~3 ms of a ``wsrun
    validate``, which prints no help; argparse makes a formatter for each option it adds)."""

    def _get_formatter(self) -> argparse.HelpFormatter:
        width = _terminal_columns() - 2
        return self.formatter_class(prog=self.prog, width=width)  # type: ignore[call-arg]


def _terminal_columns() -> int:
    """``shutil.get_terminal_size().columns``: ``COLUMNS``, else stdout's terminal's, else 80."""
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns > 0:
        return columns
    try:
        return os.get_terminal_size(sys.__stdout__.fileno()).columns or 80  # type: ignore[union-attr]
    except (AttributeError, ValueError, OSError):
        return 80


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `wsrun` and its subcommands."""
    parser: argparse.ArgumentParser = _ArgumentParser(
        prog="wsrun",
        description="Test WebSocket servers from YAML scenarios.",
        epilog="'run' is the default command: 'wsrun scenarios/' runs every scenario there.",
    )
    parser.add_argument("--version", action="version", version=f"wsrun {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_run(commands.add_parser("run", help="run scenarios (the default)"))
    validate = commands.add_parser("validate", help="check scenario files without connecting")
    validate.add_argument("paths", nargs="+", metavar="PATH", help="files and folders")
    _add_var(validate)
    _add_allow_outside(validate)
    _add_output(validate)
    schema = commands.add_parser("schema", help="print the JSON Schema of scenario files")
    schema.add_argument("--write", metavar="DIR", help="write the schema files into DIR")
    schema.add_argument("--report", action="store_true", help="the JSON report's schema instead")
    _add_report(commands.add_parser("report", help="render a saved JSON report as an HTML page"))
    serve = commands.add_parser("serve", help="run the built-in test server", add_help=False)
    serve.add_argument("args", nargs=argparse.REMAINDER, help="see 'wsrun serve --help'")
    load = commands.add_parser("load", help="run a scenario as Locust users", add_help=False)
    load.add_argument("args", nargs=argparse.REMAINDER, help="see 'wsrun load --help'")
    from runner.recording.commands import add_parsers  # `import` and `record`

    add_parsers(commands)
    return parser


def _add_output(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-color", action="store_true", help="plain output, no colours")


def _add_var(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--var", action="append", default=[], metavar="K=V", help="set a variable (repeatable)"
    )
    parser.add_argument(
        "--secret",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="set a variable whose value is secret: written *** in every output (repeatable)",
    )


def _add_allow_outside(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--allow-outside",
        action="append",
        default=[],
        metavar="PATH",
        help="let imports and json_schema/TLS files come from this folder or file too, outside "
        "the suite's root (repeatable)",
    )


def _add_run(run: argparse.ArgumentParser) -> None:
    run.add_argument("paths", nargs="+", metavar="PATH", help="scenario files and folders")
    _add_var(run)
    _add_allow_outside(run)
    run.add_argument(
        "-k",
        dest="keyword",
        metavar="EXPR",
        help="select scenarios by name: words (substrings) with and/or/not and parentheses",
    )
    run.add_argument(
        "--tag",
        action="append",
        default=[],
        metavar="T",
        help="select scenarios with this tag (repeatable: any of them)",
    )
    run.add_argument(
        "--exclude-tag",
        action="append",
        default=[],
        metavar="T",
        help="leave out scenarios with this tag (repeatable)",
    )
    run.add_argument(
        "--shard",
        type=_shard,
        metavar="I/N",
        help="run only shard I of N of the selected scenarios (a stable split by scenario id)",
    )
    run.add_argument(
        "--last-failed",
        action="store_true",
        help="run only the scenarios that failed in the last run (all when none did)",
    )
    run.add_argument(
        "-j",
        "--jobs",
        type=_positive_int,
        default=1,
        metavar="N",
        help="run N scenarios at once (default 1)",
    )
    run.add_argument(
        "--processes",
        type=_positive_int,
        default=1,
        metavar="P",
        help="spread the -j threads over P worker processes (default 1: this process)",
    )
    run.add_argument(
        "-x", "--fail-fast", action="store_true", help="start no new scenario after one fails"
    )
    run.add_argument(
        "--timeout",
        type=_duration,
        metavar="DURATION",
        help="the longest one scenario may run (e.g. 250ms, 30s, 1m, 1h); none by default",
    )
    verbosity = run.add_mutually_exclusive_group()
    verbosity.add_argument(
        "-v", "--verbose", action="store_true", help="whole payloads and every step in the live log"
    )
    verbosity.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="no live log: results, failures and the summary only",
    )
    _add_output(run)
    run.add_argument("--junit-xml", metavar="FILE", help="write a JUnit XML report")
    run.add_argument("--json-report", metavar="FILE", help="write a JSON report")
    run.add_argument(
        "--html-report", metavar="FILE", help="write an HTML report (one file, opens from disk)"
    )
    run.add_argument(
        "--annotations",
        choices=("github", "none"),
        help="print each failure as a GitHub Actions ::error line (default: github when "
        "GITHUB_ACTIONS=true)",
    )


def _shard(text: str) -> Any:
    from runner.executor.shards import parse_shard

    try:
        return parse_shard(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, found {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected 1 or more, found {value}")
    return value


def _duration(text: str) -> float:
    """A duration in the scenarios' own grammar (`parse_duration`), above 0."""
    from runner.scenario.fields import parse_duration  # pydantic: only when the option is given

    try:
        value = float(parse_duration(text))
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a duration above 0, found {text!r}")
    return value


def with_default_command(argv: Sequence[str]) -> list[str]:
    """Insert ``run`` unless the first argument names a command or asks for help/version."""
    args = list(argv)
    if not args or args[0] in COMMANDS or args[0] in ("-h", "--help", "--version"):
        return args
    return ["run", *args]


def parse_vars(pairs: Sequence[str], option: str = "--var") -> dict[str, str]:
    """``["k=v", ...]`` to a mapping; raise `UsageError` for a pair without ``=``."""
    result: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            shown = repr(pair) if option == "--var" else f"{key.strip()!r}=..."
            raise UsageError(f"{option} expects NAME=VALUE, found {shown}")
        result[key.strip()] = value
    return result


def _variables(args: argparse.Namespace) -> dict[str, str]:
    """The variables of ``--var`` and ``--secret``; the secrets' values join the redactor."""
    from runner.report.redaction import MIN_SECRET_LENGTH

    secrets = parse_vars(args.secret, "--secret")
    for name, value in secrets.items():
        if len(value) < MIN_SECRET_LENGTH:
            raise UsageError(
                f"--secret {name}: a secret needs {MIN_SECRET_LENGTH} characters or more "
                "(a shorter one cannot be masked in the output)"
            )
        args.redactor.add(value)
    return parse_vars(args.var) | secrets


def make_console(no_color: bool, file: IO[str] | None = None) -> Console:
    """The one console of a run: colours on a terminal, plain when piped or with --no-color.

    On a closed pipe (``wsrun ... | head``) it goes quiet and raises the `BrokenPipeError`,
    where rich's own console would raise `SystemExit` and redirect stdout; the console reporter
    then fails like any other reporter, and the run goes on.

    Args:
        no_color: plain output.
        file: where to print (default: stdout).
    """
    from rich.console import Console

    class _PipeAwareConsole(Console):
        # rich asks the file whether it is a terminal (an ioctl) on every print; the answer is
        # kept for as long as the console prints to the same file.
        _terminal_of: object = None
        _terminal = False

        def on_broken_pipe(self) -> None:
            self.quiet = True  # print nothing more to a closed pipe
            raise  # the BrokenPipeError rich is handling: it calls this in its `except`

        @property
        def is_terminal(self) -> bool:
            file = self.file
            if file is not self._terminal_of:
                self._terminal_of, self._terminal = file, Console.is_terminal.fget(self)  # type: ignore[attr-defined]
            return self._terminal

    width = _piped_width(file if file is not None else sys.stdout)
    # A fixed width needs a fixed height too, or rich asks the terminals their size (ioctls on
    # stdin, stdout and stderr) on every print. Nothing wsrun prints uses the height.
    height = None if width is None else _PIPED_HEIGHT
    if no_color:
        return _PipeAwareConsole(
            file=file,
            color_system=None,
            highlight=False,
            emoji=False,
            width=width,
            height=height,
        )
    return _PipeAwareConsole(file=file, highlight=False, emoji=False, width=width, height=height)


def _piped_width(file: IO[str]) -> int | None:
    """The width of a console on `file`: the terminal's (None: rich asks it), else ``COLUMNS``
    (rich reads it), else no wrapping at all: CI logs keep each message on one line."""
    try:
        terminal = file.isatty()
    except (AttributeError, ValueError):
        terminal = False
    if terminal or os.environ.get("COLUMNS", "").strip().isdigit():
        return None
    return _NO_WRAP_WIDTH


class _DeferredConsole:
    """`make_console`'s console, made when first used: ``wsrun validate`` of valid files prints
    one line, and importing rich for it was a third of its start-up.

    Where rich's console would certainly be plain and never wrap (`plain`: not a terminal,
    nothing forcing colours, no ``COLUMNS``), it answers what the console reporter asks
    (`color_system`, `record`, `width`, `quiet`) without making it: the reporter then writes
    plain lines itself, and a run whose output is piped does not import rich at all.
    """

    def __init__(self, no_color: bool) -> None:
        self._no_color = no_color
        self._made: Console | None = None
        self._file: IO[str] | None = None
        self._quiet = False

    @property
    def file(self) -> IO[str]:
        """Where it prints (stdout unless set)."""
        if self._made is not None:
            return self._made.file
        return self._file if self._file is not None else sys.stdout

    @file.setter
    def file(self, file: IO[str]) -> None:
        if self._made is not None:
            self._made.file = file
        self._file = file

    def __getattr__(self, name: str) -> Any:
        return getattr(self._console(), name)

    def _console(self) -> Console:
        if self._made is None:
            self._made = make_console(self._no_color)
            if self._file is not None:
                self._made.file = self._file
            self._made.quiet = self._quiet
        return self._made

    def plain(self) -> bool:
        """Whether rich's console would print here without colours and without wrapping: not
        a terminal, no ``FORCE_COLOR`` or ``TTY_COMPATIBLE``, no ``COLUMNS`` (then its width
        is `_NO_WRAP_WIDTH`), no Jupyter, not Windows (rich's legacy console)."""
        if self._made is not None or sys.platform == "win32":
            return False
        if any(map(os.environ.get, ("FORCE_COLOR", "TTY_COMPATIBLE"))):
            return False
        import builtins

        return not hasattr(builtins, "get_ipython") and _piped_width(self.file) == _NO_WRAP_WIDTH

    @property
    def color_system(self) -> str | None:
        return None if self.plain() else self._console().color_system

    @property
    def record(self) -> bool:
        return False if self.plain() else self._console().record

    @property
    def width(self) -> int:
        return _NO_WRAP_WIDTH if self.plain() else self._console().width

    @property
    def quiet(self) -> bool:
        """Rich's: True once the output was found closed (`on_broken_pipe`)."""
        return self._made.quiet if self._made is not None else self._quiet

    def on_broken_pipe(self) -> None:
        """`make_console`'s: print nothing more, and raise the `BrokenPipeError` being handled."""
        if self._made is not None:
            self._made.on_broken_pipe()
        self._quiet = True
        raise  # called in the `except` of the write that failed: that error

    def plain_line(self, text: str) -> bool:
        """Write `text` as one line without rich, as rich would write it here (no colour, no
        wrapping: not a terminal, and shorter than ``COLUMNS``); False when rich is needed."""
        if self._made is not None or any(map(os.environ.get, ("FORCE_COLOR", "TTY_COMPATIBLE"))):
            return False
        try:
            terminal = self.file.isatty()
        except (AttributeError, ValueError):
            terminal = False
        columns = os.environ.get("COLUMNS", "").strip()
        if terminal or "\t" in text or (columns.isdigit() and len(text) >= int(columns)):
            return False
        if self._quiet:  # the output is closed: rich would print nothing
            return True
        self.file.write(text + "\n")
        self.file.flush()
        return True


#: `runner.report.console.NO_WRAP_WIDTH` (a test keeps them equal), not imported from there:
#: that module pulls in the reporters and events, which ``wsrun validate`` of a valid file
#: does not need.
_NO_WRAP_WIDTH = 1_000_000
#: The height of a console whose width is fixed (rich's own default where it finds no terminal).
_PIPED_HEIGHT = 25


class _Interrupts:
    """The SIGINT handler of `main`: the first Ctrl-C raises `KeyboardInterrupt`; later ones
    are only counted (and said, once, on stderr), so that none cuts the stop in half.

    Once the run is seen stopping (a step or scenario ended interrupted or skipped, services
    stopped, the run ended) or winding up, none raises (`shielded`). Until then the interrupt
    is raised again `RAISE_AGAIN_AFTER` seconds after the last raise, by a later Ctrl-C or by
    re-sending SIGINT to this process: Python may have swallowed it (a KeyboardInterrupt in a
    weakref callback of importlib's module locks, or in a `__del__`, is only "ignored"), and a
    run must not go on as if nothing was pressed. The delay outlasts the executor's close wait.
    """

    RAISE_AGAIN_AFTER = 2.5  # seconds: more than CLOSE_WAIT, the executor's slowest reaction
    #: How soon an interrupt put off (`_unsafe_to_raise`) is delivered again (seconds).
    DELIVER_AGAIN_AFTER = 0.02

    def __init__(self) -> None:
        self.count = 0
        self.shielded = False
        self._said = False
        self._raised_at = -math.inf
        self._previous: Any = None
        self._delivering_again = False
        self._previous_hook: Callable[[sys.UnraisableHookArgs], Any] = sys.unraisablehook

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        if self._delivering_again:  # the interrupt put off below, not another Ctrl-C
            self._delivering_again = False
        else:
            self.count += 1
        if not self.shielded and _unsafe_to_raise(frame):
            # Raised there, the interrupt can break compiled code: pyo3 panics (exit 1, a Rust
            # message naming KeyboardInterrupt) when pydantic_core's import of datetime is
            # interrupted, and an interrupted validator build was lost without a word. It is
            # delivered again a moment later, until it lands elsewhere.
            self._deliver_again()
            return
        now = time.monotonic()
        if not self.shielded and now - self._raised_at >= self.RAISE_AGAIN_AFTER:
            self._raised_at = now
            timer = threading.Timer(self.RAISE_AGAIN_AFTER, self._unless_stopping)
            timer.daemon = True
            timer.start()
            raise KeyboardInterrupt
        if not self._said:
            self._said = True
            _say("wsrun: interrupted: finishing the stop and the reports, then exiting (130)")

    def _deliver_again(self) -> None:
        """Send SIGINT to this process again in `DELIVER_AGAIN_AFTER` seconds (not a new Ctrl-C)."""
        self._delivering_again = True
        timer = threading.Timer(self.DELIVER_AGAIN_AFTER, signal.raise_signal, (signal.SIGINT,))
        timer.daemon = True
        timer.start()

    def _unraisable(self, unraisable: sys.UnraisableHookArgs) -> None:
        """`sys.unraisablehook` while installed: a `KeyboardInterrupt` that Python or an
        extension could only report as "Exception ignored in ..." (raised in a `__del__`, a
        weakref callback, or a Python call made by pydantic_core's Rust code) is not printed
        with its traceback but delivered again at once; any other report is as before."""
        if not issubclass(unraisable.exc_type, KeyboardInterrupt):
            self._previous_hook(unraisable)
        elif not self.shielded:  # not taken where it was raised: the next delivery raises
            self._raised_at = -math.inf
            self._deliver_again()

    def _unless_stopping(self) -> None:
        """On a timer's thread: the interrupt was not taken; deliver it again."""
        if not self.shielded:
            signal.raise_signal(signal.SIGINT)

    def install(self) -> bool:
        """Handle SIGINT from now on (only the main thread can); whether it was installed."""
        if threading.current_thread() is not threading.main_thread():
            return False
        self._previous = signal.signal(signal.SIGINT, self)
        self._previous_hook = sys.unraisablehook
        sys.unraisablehook = self._unraisable
        return True

    def restore(self) -> None:
        signal.signal(signal.SIGINT, self._previous)
        if sys.unraisablehook == self._unraisable:
            sys.unraisablehook = self._previous_hook

    def watch(self, scenarios: int) -> _StopWatch:
        """A listener that shields the rest of the run once, after a Ctrl-C, the run shows that
        it stops, or once every scenario has ended (the run winds up)."""
        return _StopWatch(self, scenarios)


class _StopWatch:
    """`_Interrupts.watch`'s listener. It takes only the events that can show the run stopping
    (its `events`, which the bus honours): frames and step starts, most of a run's events, never
    reach it."""

    def __init__(self, interrupts: _Interrupts, scenarios: int) -> None:
        from runner.events import RunEnded, ScenarioEnded, ServiceStopped, StepEnded

        self.events = frozenset({StepEnded, ScenarioEnded, ServiceStopped, RunEnded})
        self._interrupts = interrupts
        self._scenarios = scenarios
        self._ended = 0

    def __call__(self, event: Any) -> None:
        interrupts = self._interrupts
        stopping = getattr(event, "status", None) in ("interrupted", "skipped")
        if interrupts.count and (stopping or event.type in ("service_stopped", "run_ended")):
            interrupts.shielded = True
        if event.type == "scenario_ended":
            self._ended += 1
            if self._ended >= self._scenarios:
                interrupts.shielded = True


def _unsafe_to_raise(frame: FrameType | None) -> bool:
    """Whether `frame` (the main thread's, where a signal arrived) runs inside an import or
    inside pydantic, whose Rust core calls back into Python while it builds and validates."""
    prefixes = tuple(
        os.path.dirname(file) + os.sep
        for file in (getattr(sys.modules.get(name), "__file__", None) for name in _COMPILED_CALLERS)
        if file
    )
    while frame is not None:
        filename = frame.f_code.co_filename
        if filename.startswith("<frozen importlib") or (prefixes and filename.startswith(prefixes)):
            return True
        frame = frame.f_back
    return False


#: The packages whose compiled code an interrupt must not land in (`_unsafe_to_raise`).
_COMPILED_CALLERS = ("pydantic", "pydantic_core")


def _say(text: str) -> None:
    """Write a line to stderr from a signal handler: no lock, no console."""
    try:
        os.write(2, (text + "\n").encode())
    except OSError:
        return


def main(argv: Sequence[str] | None = None, console: Console | None = None) -> int:
    """Run `wsrun` with `argv` (default: the process's arguments); return the exit code.

    Args:
        argv: the arguments, without the program name.
        console: where to print; made from ``--no-color`` and the terminal when not given.
    """
    return _command(list(sys.argv[1:] if argv is None else argv), console, restore=True)


def _command(args_list: list[str], console: Console | None, *, restore: bool) -> int:
    if args_list[:1] == ["serve"]:  # its options are the server's own (argparse would eat them)
        return _serve(args_list[1:])  # and so is its handling of SIGINT
    if args_list[:1] == ["load"]:  # Locust's process (gevent-patched): imported only here
        from runner.load.cli import load_main

        return load_main(args_list[1:])
    return _guarded(args_list, console, _Interrupts(), restore=restore)


def _guarded(
    args_list: list[str], console: Console | None, interrupts: _Interrupts, *, restore: bool
) -> int:
    """`_main` under the SIGINT handler; without `restore` (the console script, about to
    exit) the handler stays, shielded: a late Ctrl-C cannot end the process with a traceback."""
    installed = interrupts.install()
    try:
        code = _main(args_list, console, interrupts)
    except KeyboardInterrupt:  # the first Ctrl-C, before any scenario ran
        code = ExitCode.INTERRUPTED
        interrupts.shielded = True
        _nothing_ran(console)
    except Exception:
        # Python turns a KeyboardInterrupt raised in some places into another error: inside
        # `__set_name__` while a class is made (an import of rich, say), a RuntimeError.
        if not interrupts.count:
            raise
        code = ExitCode.INTERRUPTED
        interrupts.shielded = True
        _nothing_ran(console)
    finally:
        interrupts.shielded = True
        if installed and restore:
            interrupts.restore()
    if not interrupts.count:
        return code
    _forget_unhandled_interrupt()
    return ExitCode.INTERRUPTED


def _forget_unhandled_interrupt() -> None:
    """Clear CPython's note of a `KeyboardInterrupt` that left code run from a string.

    `exec` and `eval` of a string (dataclasses build their methods so, during imports) note a
    KeyboardInterrupt that escapes them, and at exit the interpreter then kills itself with
    SIGINT (exit -2, not 130) even though `main` handled it. Running a string again resets it.
    """
    exec("")


def _nothing_ran(console: Console | None) -> None:
    text = "interrupted before any scenario ran: no report written"
    if console is None:
        print_errors([f"wsrun: {text}"])
        return
    try:
        console.print(text, style="yellow", markup=False, soft_wrap=True)
    except Exception:
        print_errors([f"wsrun: {text}"])


def _main(args_list: list[str], console: Console | None, interrupts: _Interrupts) -> int:
    collecting = gc.isenabled()
    gc.disable()  # until the run phase, or the end: see `_StartUp`
    try:
        return _main_paused(args_list, console, interrupts, _StartUp(collecting))
    finally:
        if collecting:
            gc.enable()


class _StartUp:
    """The cyclic garbage collector's pause during start-up: importing pydantic and the models,
    parsing and loading allocate many objects and few cycles, and the collector, walking the
    young objects every 700 allocations, was ~2.5% of a ``wsrun validate``'s instructions. A
    run's phase collects as usual (`resume`, before the first scenario starts)."""

    def __init__(self, collecting: bool) -> None:
        self.collecting = collecting

    def resume(self) -> None:
        if self.collecting:
            gc.enable()


def _main_paused(
    args_list: list[str], console: Console | None, interrupts: _Interrupts, start_up: _StartUp
) -> int:
    parser = _parser()
    try:
        args = parser.parse_args(with_default_command(args_list))
    except SystemExit as exit_:  # argparse exits 0 for --help/--version, 2 for bad usage
        return ExitCode.OK if not exit_.code else ExitCode.USAGE
    if args.command is None:
        parser.print_help()
        return ExitCode.USAGE
    args.interrupts = interrupts
    args.start_up = start_up
    console = console or cast("Console", _DeferredConsole(getattr(args, "no_color", False)))
    args.redactor, unhook = _redact_output(console)
    try:
        return _dispatch(args, console)
    except UsageError as error:
        console.print(f"wsrun: error: {error}", markup=False, style="red")
        return ExitCode.USAGE
    except BrokenPipeError:  # stdout closed early (`wsrun schema | head`); a run's is contained
        print_errors(["wsrun: error: the output was closed before its end (broken pipe)"])
        return ExitCode.INTERNAL
    except Exception:  # a bug in wsrun: show it whole, exit 3
        if interrupts.count:  # a Ctrl-C that Python turned into another error (see _guarded)
            return ExitCode.INTERRUPTED
        if console.quiet:  # its output is a closed pipe: the traceback goes to stderr
            print_errors([args.redactor.text(_traceback())])
        else:
            console.print_exception()
        return ExitCode.INTERNAL
    finally:
        unhook()


def _redact_output(console: Console) -> tuple[Any, Any]:
    """The run's `Redactor` (secrets join it from ``--secret`` and as ``${env.X}`` are read),
    applied to the console's stream; returns it and the function that undoes the wiring."""
    from runner.report.redaction import Redactor
    from runner.scenario import templates

    redactor = Redactor()
    original, hook = console.file, templates.on_env_value
    console.file = redactor.stream(original)  # type: ignore[assignment]
    templates.on_env_value = redactor.add

    def unhook() -> None:
        console.file = original
        templates.on_env_value = hook

    return redactor, unhook


def _dispatch(args: argparse.Namespace, console: Console) -> int:
    if args.command == "validate":
        return _validate(args.paths, _variables(args), console, args.allow_outside)
    if args.command == "report":
        return _report(args, console)
    if args.command == "schema":
        return _schema(args, console)
    if args.command in ("import", "record"):
        return _recording(args, console)
    return _run(args, console)


def _recording(args: argparse.Namespace, console: Console) -> int:
    """``wsrun import`` and ``wsrun record`` (runner.recording), printing on the console."""
    from runner.recording.commands import run_command

    def out(text: str, style: str) -> None:
        console.print(text, style=style or None, markup=False, highlight=False, soft_wrap=True)

    return run_command(args, out)


def _run(args: argparse.Namespace, console: Console) -> int:
    from runner.events import EventBus, Status
    from runner.executor import RunOptions, run_suite

    interrupts: _Interrupts = args.interrupts

    suite, scenarios = _load(args, console)
    if suite is None:
        return ExitCode.USAGE
    outputs = _outputs(args, console)
    outputs.append(_last_failed_output(scenarios))
    bus = EventBus()
    for output in outputs:
        bus.subscribe(output.reporter)
    bus.subscribe(interrupts.watch(len(scenarios)))
    options = RunOptions(
        jobs=args.jobs, fail_fast=args.fail_fast, timeout=args.timeout, processes=args.processes
    )
    status = None
    args.start_up.resume()
    try:
        status = run_suite(suite, scenarios, options, args.redactor.emitter(bus.emit, bus.takes))
    except KeyboardInterrupt:  # where the executor does not catch it (its very start)
        status = Status.INTERRUPTED
    finally:
        interrupts.shielded = True  # from here on, no Ctrl-C cuts a report in half
        problems = _finish(outputs, bus)
        # after every report that could be written was written
        print_errors([args.redactor.text(problem) for problem in problems])
    code = exit_code_of(status)  # a reporter's failure does not hide a Ctrl-C
    return ExitCode.INTERNAL if problems and code is not ExitCode.INTERRUPTED else code


def _load(args: argparse.Namespace, console: Console) -> tuple[Any, list[Any]]:
    from runner.errors import ScenarioErrors
    from runner.executor import KeywordError, select
    from runner.report.console import print_scenario_errors
    from runner.scenario import load_suite

    variables = _variables(args)
    _check_report_paths(args)
    try:
        suite = load_suite(args.paths, variables, args.allow_outside)
    except ScenarioErrors as errors:
        print_scenario_errors(console, errors.errors)
        return None, []
    try:
        scenarios = select(suite.scenarios, args.keyword, args.tag, args.exclude_tag)
    except KeywordError as error:
        raise UsageError(str(error)) from None
    if not suite.scenarios:
        raise UsageError(f"no scenario found in {' '.join(args.paths)}")
    if not scenarios:
        raise UsageError(f"no scenario to run: {len(suite.scenarios)} found, none selected")
    scenarios = _narrow(args, console, scenarios)
    _print_suites(console, suite, scenarios)
    return suite, scenarios


def _narrow(args: argparse.Namespace, console: Console, scenarios: list[Any]) -> list[Any]:
    """The selected scenarios that ``--last-failed`` and ``--shard`` keep, each said in a line.

    An empty shard is no error: the run goes on with no scenario (exit 0, empty reports)."""
    notes = []
    if args.last_failed:
        from runner.last_failed import only_last_failed, read_last_failed

        scenarios, note = only_last_failed(scenarios, read_last_failed())
        notes.append(note)
    if args.shard is not None:
        from runner.executor.shards import take_shard

        selected, scenarios = len(scenarios), take_shard(scenarios, args.shard)
        noun = "scenario" if selected == 1 else "scenarios"
        notes.append(
            f"shard {args.shard}: {len(scenarios)} of the {selected} selected {noun}"
            if scenarios
            else f"shard {args.shard}: no scenario (none of the {selected} selected falls in "
            "it): nothing to run"
        )
    for note in notes:
        _print_dim(console, note)
    return scenarios


def _print_suites(console: Console, suite: Any, scenarios: list[Any]) -> None:
    """Say which suite files and services the run uses (in the live log and with -q alike)."""
    from runner.executor.suite_run import describe_suites

    for line in describe_suites(suite, scenarios):
        _print_dim(console, line)


def _print_dim(console: Console, line: str) -> None:
    """Print `line` dim and never wrapped; plain, without rich, where rich's would be plain."""
    if isinstance(console, _DeferredConsole) and console.plain() and console.plain_line(line):
        return
    from rich.text import Text

    console.print(Text(line, style="dim"), soft_wrap=True)


def _check_report_paths(args: argparse.Namespace) -> None:
    import os

    seen: dict[str, str] = {}
    for option, path in (
        ("--junit-xml", args.junit_xml),
        ("--json-report", args.json_report),
        ("--html-report", args.html_report),
    ):
        folder = os.path.dirname(os.path.abspath(path)) if path else None
        if folder is not None and not os.path.isdir(folder):
            raise UsageError(f"{option} {path}: the folder {folder} does not exist")
        if path and os.path.abspath(path) in seen:
            other = seen[os.path.abspath(path)]
            raise UsageError(f"{option} {path}: {other} writes that file already")
        if path:
            seen[os.path.abspath(path)] = option


class _Output(NamedTuple):  # not a dataclass: `wsrun --version` would import dataclasses
    """A reporter of the run, named for error messages; `file` is the report it writes."""

    name: str
    reporter: Reporter
    file: str | None = None


def _outputs(args: argparse.Namespace, console: Console) -> list[_Output]:
    from runner.report.console import NORMAL, QUIET, VERBOSE, ConsoleReporter

    verbosity = QUIET if args.quiet else VERBOSE if args.verbose else NORMAL
    outputs = [_Output("the console reporter", ConsoleReporter(console, verbosity, args.jobs))]
    if args.json_report:
        from runner.report.json_report import JsonReporter

        json_reporter = JsonReporter(args.json_report, args.redactor.text)
        outputs.append(_Output("the JSON report", json_reporter, args.json_report))
    if args.junit_xml:
        from runner.report.junit import JunitReporter

        junit_reporter = JunitReporter(args.junit_xml, args.redactor.text)
        outputs.append(_Output("the JUnit report", junit_reporter, args.junit_xml))
    if args.html_report:
        from runner.report.html_report import HtmlReporter

        html_reporter = HtmlReporter(args.html_report, args.redactor.text)
        outputs.append(_Output("the HTML report", html_reporter, args.html_report))
    from runner.report.annotations import annotations_wanted

    if annotations_wanted(args.annotations):
        outputs.append(_Output("the GitHub annotations", _annotations(args, console)))
    return outputs


def _annotations(args: argparse.Namespace, console: Console) -> Reporter:
    from rich.text import Text

    from runner.report.annotations import GithubAnnotations

    def write(line: str) -> None:
        console.print(Text(line), soft_wrap=True, highlight=False)

    return GithubAnnotations(write, args.redactor.text)


def _last_failed_output(scenarios: list[Any]) -> _Output:
    """The recorder of the ``--last-failed`` cache (every run keeps it up to date)."""
    from runner.last_failed import CACHE_FILE, LastFailedRecorder

    return _Output("the --last-failed cache", LastFailedRecorder(scenarios), CACHE_FILE)


def _finish(outputs: list[_Output], bus: EventBus) -> list[str]:
    """Close every reporter that did not fail, even if closing one fails; return the problems.

    A reporter that failed during the run is not closed: its report would lack the events it
    missed, and a report that looks whole but is not is worse than none.
    """
    failures = bus.failures
    problems = []
    for output in outputs:
        failure = next((f for f in failures if f.listener is output.reporter), None)
        problem = _close(output) if failure is None else _failed_during_run(output, failure)
        if problem is not None:
            problems.append(problem)
    return problems


def _close(output: _Output) -> str | None:
    try:
        output.reporter.close()
    except OSError as error:  # the file system refused: say so, no traceback
        return f"wsrun: error: cannot write {output.name} to {output.file}: {error}"
    except Exception:
        return f"wsrun: internal error: {output.name} failed on close\n{_traceback()}"
    return None


def _failed_during_run(output: _Output, failure: ListenerFailure) -> str:
    where = f" ({output.file}, not written)" if output.file else ""
    return (
        f"wsrun: internal error: {output.name}{where} failed on a {failure.event.type} event "
        f"and got no more events; the run went on without it\n{failure.traceback}"
    )


def print_errors(texts: Sequence[str]) -> None:
    """Print `texts` to stderr, plain, never through a console: stdout may be what failed.

    When stderr is a closed pipe too, nothing more can be told; the exit code still says it.
    """
    try:
        for text in texts:
            sys.stderr.write(text.rstrip("\n") + "\n")
        sys.stderr.flush()
    except (OSError, ValueError):  # ValueError: stderr was closed
        return


def _serve(argv: list[str]) -> int:
    from runner.server import serve_main

    return int(serve_main(argv))


def _validate(
    paths: list[str], variables: dict[str, str], console: Console, allow_outside: list[str]
) -> int:
    from runner.scenario import validate_paths

    errors = validate_paths(paths, variables, allow_outside)
    if errors:
        from runner.report.console import print_scenario_errors

        print_scenario_errors(console, errors)
        return ExitCode.USAGE
    noun = "path" if len(paths) == 1 else "paths"
    line = f"valid: {len(paths)} {noun} checked, no errors"
    if isinstance(console, _DeferredConsole) and console.plain_line(line):
        return ExitCode.OK
    from rich.text import Text

    console.print(Text(line, style="green"))
    return ExitCode.OK


def _add_report(report: argparse.ArgumentParser) -> None:
    report.add_argument("json_report", metavar="REPORT.json", help="a report of --json-report")
    report.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help="the HTML file to write (default: the report's name with .html)",
    )
    _add_output(report)


def _report(args: argparse.Namespace, console: Console) -> int:
    """``wsrun report run.json -o run.html``: the page ``--html-report`` writes, from a file."""
    from runner.report.html_report import ReportFileError, load_json_report, write_html_report

    source = args.json_report
    target = args.output or os.path.splitext(source)[0] + ".html"
    if os.path.abspath(target) == os.path.abspath(source):
        raise UsageError(f"-o {target}: that is the JSON report itself")
    folder = os.path.dirname(os.path.abspath(target))
    if not os.path.isdir(folder):
        raise UsageError(f"-o {target}: the folder {folder} does not exist")
    try:
        report = load_json_report(source)
        write_html_report(target, report)
    except ReportFileError as error:
        raise UsageError(str(error)) from None
    except (KeyError, TypeError, ValueError, AttributeError) as error:  # right keys, wrong shape
        raise UsageError(f"{source} is not a wsrun JSON report: {error!r}") from None
    except OSError as error:
        print_errors([f"wsrun: error: cannot write {target}: {error}"])
        return ExitCode.INTERNAL
    size = os.path.getsize(target)
    count = len(report["scenarios"])
    text = f"wrote {target} ({count} scenarios, {size / 1024:.0f} KiB)"
    console.print(text, markup=False, soft_wrap=True)
    return ExitCode.OK


def _schema(args: argparse.Namespace, console: Console) -> int:
    import json

    from runner.report.report_schema import report_json_schema, write_report_schema
    from runner.scenario.schema import scenario_json_schema, write_schemas

    if args.write:
        write_schemas(args.write)
        path = write_report_schema(args.write)
        console.print(f"wrote the schemas into {path.parent}", markup=False)
        return ExitCode.OK
    schema = report_json_schema() if args.report else scenario_json_schema()
    console.print(json.dumps(schema, indent=2, ensure_ascii=False), markup=False, soft_wrap=True)
    return ExitCode.OK


def exit_code_of(status: Status | None) -> ExitCode:
    """The exit code of a run that ended with `status` (None: it did not end by itself)."""
    from runner.events import Status

    if status is None:
        return ExitCode.INTERNAL
    return {
        Status.PASSED: ExitCode.OK,
        Status.FAILED: ExitCode.FAILED,
        Status.ERROR: ExitCode.INTERNAL,
        Status.INTERRUPTED: ExitCode.INTERRUPTED,
        Status.SKIPPED: ExitCode.OK,
    }[status]


def entry() -> None:
    """The `wsrun` console script."""
    try:
        code = _command(sys.argv[1:], None, restore=False)
    except KeyboardInterrupt:  # before the handler was installed: the interpreter was starting
        code = ExitCode.INTERRUPTED
        _nothing_ran(None)
    if threading.current_thread() is threading.main_thread():
        # Exiting: the interpreter's finalization puts back the default SIGINT action (death
        # by signal, exit -2) for any handler but "ignore"; the exit code is decided already.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    _release_closed_pipes()
    # Every report and file is closed by now: what is left only dies with the process. Frozen,
    # the interpreter's last collections do not walk it (a 10,002-step run: ~0.1-0.2 s of exit).
    gc.freeze()
    sys.exit(code)


def _release_closed_pipes() -> None:
    """Point stdout or stderr at /dev/null when it is a closed pipe (``wsrun ... | head``).

    Otherwise the interpreter's own last flush fails again, prints "Exception ignored" and turns
    the exit code into 120 (Python docs, signal module, "Note on SIGPIPE").
    """
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except OSError:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, stream.fileno())
            os.close(devnull)


def _traceback() -> str:
    """The exception being handled, as Python prints it (imported late: it is rarely needed)."""
    import traceback

    return traceback.format_exc()
