"""The console reporter: a live log of every event, failure details, and a final summary.

Styles carry meaning: sent is cyan, received is green, open/close are blue, errors and failures
are red, passes are green, skips are yellow. Payloads are appended as plain `Text`, never parsed as
markup, so a message that contains ``[bold]`` prints as it is. The console is created once by the
CLI and injected; with ``color_system=None`` (piped, ``--no-color``, tests) the output is plain.

Plain, a line is built as a `_Line` (its text alone) and written as rich would write it, and the
summary table is laid out here (`plain_table`) where rich's layout is that simple: rich is not
imported for a run whose output is piped (``run -q`` in CI: ~30 ms of its start).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Protocol

from runner.errors import ScenarioError
from runner.events import (
    AutoReplied,
    ConnectionClosed,
    ConnectionOpened,
    ErrorOccurred,
    Event,
    FrameReceived,
    FrameSent,
    HandshakeRefused,
    HttpExchanged,
    RunEnded,
    RunStarted,
    ScenarioEnded,
    ScenarioStarted,
    ServiceOutput,
    ServiceStarted,
    Status,
    StepEnded,
    Traffic,
)
from runner.report.text import (
    ARROWS,
    LatencyRecorder,
    failure_lines,
    format_duration,
    latency_stats,
    preview,
    wire_note,
)
from runner.scenario.kinds import step_model

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

__all__ = ["NO_WRAP_WIDTH", "ConsoleReporter", "plain_table", "print_scenario_errors"]

QUIET, NORMAL, VERBOSE = -1, 0, 1

#: The width of a console that must not wrap (piped output without ``COLUMNS``): wide enough
#: for any line. Payload previews are then cut as on a terminal of `PIPED_PREVIEW_WIDTH`.
NO_WRAP_WIDTH = 1_000_000
PIPED_PREVIEW_WIDTH = 160

STATUS_STYLE = {
    Status.PASSED: "green",
    Status.FAILED: "bold red",
    Status.ERROR: "bold red",
    Status.INTERRUPTED: "bold yellow",
    Status.SKIPPED: "yellow",
}
STATUS_MARK = {
    Status.PASSED: "✓",
    Status.FAILED: "✗",
    Status.ERROR: "✗",
    Status.INTERRUPTED: "!",
    Status.SKIPPED: "-",
}
LINE_STYLE = {"message": "red", "removed": "red", "added": "green", "trace": "red"}
EVENT_STYLE = {
    "sent": "cyan",
    "received": "green",
    "open": "blue",
    "close": "blue",
    "error": "red",
    "refused": "blue",
    "replied": "magenta",
    "http": "cyan",
}


class _Styled(Protocol):
    """A line being built: rich's `Text`, or `_Line` where the output is plain."""

    @property
    def plain(self) -> str: ...

    def append(self, text: str, style: str = ...) -> _Styled: ...


class _Line:
    """A line of plain output, built as a rich `Text` would be (its styles are not shown): the
    control codes rich's `Text` drops are dropped."""

    __slots__ = ("plain",)

    def __init__(self, text: str = "", style: str = "") -> None:
        self.plain = text.translate(_DROPPED) if _has_dropped(text) else text

    def append(self, text: str, style: str = "") -> _Line:
        self.plain += text.translate(_DROPPED) if _has_dropped(text) else text
        return self


#: The control codes that rich's `Text` removes (rich.control.STRIP_CONTROL_CODES: bell,
#: backspace, vertical tab, form feed, carriage return).
_DROPPED: dict[int, None] = dict.fromkeys((7, 8, 11, 12, 13))


def _has_dropped(text: str) -> bool:
    return not text.isprintable() and any(ord(c) in _DROPPED for c in text)


def _rich_text(text: str = "", style: str = "") -> Text:
    from rich.text import Text

    return Text(text, style=style)


@dataclass
class _ScenarioView:
    name: str
    start: float


#: What the console shows only in its live log: with ``-q`` it is not given these events.
_LIVE_ONLY: frozenset[type[Event]] = frozenset(
    {
        RunStarted,
        ServiceStarted,
        ConnectionOpened,
        FrameSent,
        FrameReceived,
        ErrorOccurred,
        AutoReplied,
        HandshakeRefused,
        HttpExchanged,
    }
)


class ConsoleReporter:
    """Renders the event stream on a rich `Console`.

    Args:
        console: where to print (created once by the CLI).
        verbosity: -1 quiet (results and failures only), 0 normal (live log with payload
            previews), 1 verbose (whole payloads, every step).
        jobs: scenarios run at once; above 1 each live line names its scenario.
    """

    def __init__(self, console: Console, verbosity: int = NORMAL, jobs: int = 1) -> None:
        self.console = console
        self.verbosity = verbosity
        self.jobs = jobs
        self._live = verbosity >= NORMAL
        # Read once: the console's width is looked up from the terminal on every access.
        width = console.width if console.width < NO_WRAP_WIDTH else PIPED_PREVIEW_WIDTH
        self._limit = None if verbosity >= VERBOSE else max(60, width - 30)
        self._scenarios: dict[int, _ScenarioView] = {}
        self._ended: list[ScenarioEnded] = []
        # The expects' latencies (seconds), for the summary, in bounded memory whatever the
        # count (`LatencyRecorder`: exact up to 20,000, then a histogram).
        self._latencies = LatencyRecorder()
        self._from_send = LatencyRecorder()
        self._service_output: dict[str, str] = {}
        self._compression: list[tuple[str, str, Traffic]] = []  # scenario, conn, traffic
        self._handlers: dict[type[Event], Callable[[Event], None]] = {
            RunStarted: self._run_started,  # type: ignore[dict-item]
            ScenarioStarted: self._scenario_started,  # type: ignore[dict-item]
            ConnectionOpened: self._opened,  # type: ignore[dict-item]
            FrameSent: self._frame,  # type: ignore[dict-item]
            FrameReceived: self._frame,  # type: ignore[dict-item]
            ConnectionClosed: self._closed,  # type: ignore[dict-item]
            ErrorOccurred: self._error,  # type: ignore[dict-item]
            AutoReplied: self._auto_replied,  # type: ignore[dict-item]
            HandshakeRefused: self._refused,  # type: ignore[dict-item]
            HttpExchanged: self._http,  # type: ignore[dict-item]
            StepEnded: self._step_ended,  # type: ignore[dict-item]
            ScenarioEnded: self._scenario_ended,  # type: ignore[dict-item]
            ServiceStarted: self._service_started,  # type: ignore[dict-item]
            ServiceOutput: self._service_output_event,  # type: ignore[dict-item]
            RunEnded: self._run_ended,  # type: ignore[dict-item]
        }
        # Without colours (piped, --no-color) a line is its plain text: written as rich would
        # write it, at a tenth of rich's rendering (about 80 µs a line, most of a pair's cost
        # in the live log, and most of a scenario's own at 1,000 connections).
        self._plain = console.color_system is None and not console.record
        #: The events it is given (`EventBus`): with ``-q``, none that only the live log shows.
        self.events = frozenset(self._handlers) - (frozenset() if self._live else _LIVE_ONLY)

    @property
    def _plain(self) -> bool:
        return self._plain_output

    @_plain.setter
    def _plain(self, plain: bool) -> None:
        self._plain_output = plain
        #: What builds a line: rich's `Text`, or `_Line` (plain: rich is not imported).
        self._text: Callable[..., _Styled] = _Line if plain else _rich_text

    def __call__(self, event: Event) -> None:
        """Handle one event (an `EventBus` listener)."""
        handler = self._handlers.get(type(event))
        if handler is not None:
            handler(event)

    def handler_for(self, cls: type) -> Callable[[Event], None] | None:
        """What takes events of `cls` (`EventBus` calls it directly): None for those it is
        not given (`events`)."""
        return self._handlers.get(cls) if cls in self.events else None

    def close(self) -> None:
        """Nothing to flush: every line is printed as its event arrives."""

    def _print(self, line: _Styled) -> None:
        """Print one line, never wrapped (rich's ``soft_wrap``)."""
        console = self.console
        plain = line.plain
        if not self._plain or "\t" in plain:  # a tab's stop depends on rich's cell widths
            console.print(_rich_text(plain) if isinstance(line, _Line) else line, soft_wrap=True)
            return
        if console.quiet:
            return
        file = console.file
        try:
            file.write(plain + "\n")
            file.flush()  # as rich does: a CI log shows each line as it happens
        except BrokenPipeError:
            console.on_broken_pipe()

    # -- the live log -------------------------------------------------------------------------

    def _run_started(self, event: RunStarted) -> None:
        if self._live:
            noun = "scenario" if event.scenarios == 1 else "scenarios"
            jobs = f" on {event.jobs} workers" if event.jobs > 1 else ""
            self._print(self._text(f"wsrun {event.version}: {event.scenarios} {noun}{jobs}"))

    def _service_started(self, event: ServiceStarted) -> None:
        if self._live:
            provided = ", ".join(f"{k}={v}" for k, v in event.provides.items())
            line = self._text("service ", style="blue").append(event.service, style="bold")
            self._print(line.append(f" ready {provided}".rstrip()))

    def _scenario_started(self, event: ScenarioStarted) -> None:
        self._scenarios[event.scenario] = _ScenarioView(event.name, event.at)
        if self._live and self.jobs == 1:
            line = self._text("▶ ", style="bold").append(event.name, style="bold")
            self._print(line.append(f"  {event.file}:{event.line}", style="dim"))

    def _prefix(self, scenario: int, at: float) -> _Styled:
        view = self._scenarios.get(scenario)
        start = view.start if view else 0.0
        text = self._text(f"  {at - start:8.3f}s ", style="dim")
        if self.jobs > 1 and view is not None:
            text.append(f"[{view.name}] ", style="magenta")
        return text

    def _log(
        self, scenario: int, at: float, conn: str, event: str, detail: str, style: str = ""
    ) -> None:
        if not self._live:
            return
        line = self._prefix(scenario, at)
        line.append(f"{conn:<8} ", style="bold")
        style = style or EVENT_STYLE.get(event, "")
        line.append(f"{ARROWS.get(event, '·')} {event:<9}", style=style)
        self._print(line.append(f" {detail}".rstrip()))

    def _opened(self, event: ConnectionOpened) -> None:
        protocol = f", {event.protocol}" if event.protocol else ""
        detail = f"{event.url} ({event.status}{protocol})"
        self._log(event.scenario, event.at, event.conn, "open", detail)

    def _frame(self, event: FrameSent | FrameReceived) -> None:
        if not self._live:
            return
        kind = "sent" if isinstance(event, FrameSent) else "received"
        verbose = self.verbosity >= VERBOSE
        if event.heartbeat and not verbose:
            return  # a protocol's keep-alive, answered by the protocol: -v shows it
        detail = preview(event.data, self._limit) + wire_note(event.data, event.wire_size)
        if event.envelopes:  # a protocol's frame: what the steps see of it (-v: both)
            seen = " ".join(json.dumps(e, ensure_ascii=False) for e in event.envelopes)
            detail = f"{detail} ⇒ {preview(seen, None)}" if verbose else preview(seen, self._limit)
        self._log(event.scenario, event.at, event.conn, kind, detail)

    def _closed(self, event: ConnectionClosed) -> None:
        traffic = event.traffic
        if traffic is not None and _compressed(traffic):
            view = self._scenarios.get(event.scenario)
            self._compression.append((view.name if view else "?", event.conn, traffic))
        # Who ended it, and how: "by server: 1001 going away", "lost: 1006 (not clean)".
        closer = f"by {event.by}: " if event.by else "lost: "
        clean = "" if event.was_clean else " (not clean)"
        detail = f"{closer}{event.code} {event.reason}".rstrip() + clean
        style = "" if event.was_clean or event.by else "red"  # lost: the server went away
        self._log(event.scenario, event.at, event.conn, "close", detail, style)

    def _error(self, event: ErrorOccurred) -> None:
        data = f" (data={event.data})" if event.data not in (None, "") else ""
        detail = f"{event.code} {event.message}{data}"
        self._log(event.scenario, event.at, event.conn, "error", detail)

    def _auto_replied(self, event: AutoReplied) -> None:
        if not self._live:
            return
        half = None if self._limit is None else max(24, self._limit // 2)
        detail = f"{preview(event.received, half)} ↺ {preview(event.sent, half)}"
        self._log(event.scenario, event.at, event.conn, "replied", detail)

    def _refused(self, event: HandshakeRefused) -> None:
        detail = f"{event.url} (HTTP {event.status}, as expected)"
        self._log(event.scenario, event.at, event.conn, "refused", detail)

    def _http(self, event: HttpExchanged) -> None:
        answer = f"HTTP {event.status}" if event.status is not None else event.error or "no answer"
        detail = f"{event.method} {event.url} → {answer} ({format_duration(event.latency)})"
        style = "red" if event.status is None or event.status >= 400 else ""
        self._log(event.scenario, event.at, "http", "http", detail, style)

    def _step_ended(self, event: StepEnded) -> None:
        if event.latency is not None:
            self._latencies.add(event.latency)
            if event.latency_from_send is not None:
                self._from_send.add(event.latency_from_send)
        if not self._live or event.status is not Status.PASSED:
            return  # (-q shows no step: its kind's model not looked up, two calls a step)
        if self.verbosity < VERBOSE and not _waits(event.kind):
            return
        line = self._prefix(event.scenario, event.at)
        line.append(f"✓ {event.kind}", style="green")
        line.append(f" {event.conn or ''} {self._timing(event)}".rstrip())
        self._print(line.append(f"  {event.location}", style="dim"))

    @staticmethod
    def _timing(event: StepEnded) -> str:
        if event.note is not None:
            return f"{event.note} ({format_duration(event.duration)})"
        if event.latency is None:
            return format_duration(event.duration)
        text = f"matched in {format_duration(event.latency)}"
        if event.latency_from_send is not None:
            text += f" ({format_duration(event.latency_from_send)} after send)"
        return text

    # -- results ------------------------------------------------------------------------------

    def _scenario_ended(self, event: ScenarioEnded) -> None:
        self._ended.append(event)
        if event.status is Status.SKIPPED and not self._live:
            return
        mark, style = STATUS_MARK[event.status], STATUS_STYLE[event.status]
        line = self._text(f"{mark} {event.status.value.upper()} ", style=style)
        line.append(event.name, style="bold")
        steps = f"{event.steps_passed}/{event.steps_total} steps"
        self._print(line.append(f"  ({format_duration(event.duration)}, {steps})"))
        if event.failure is not None:
            self._print_failure(event)
        # -q: one line per passed scenario; its unexpected messages are in the reports
        if event.unexpected and (self._live or event.status is not Status.PASSED):
            self._print_unexpected(event)

    def _print_failure(self, event: ScenarioEnded) -> None:
        assert event.failure is not None
        view = self._scenarios.get(event.scenario)
        base = view.start if view else 0.0
        limits = (None, None) if self._limit is None else (500, self._limit)
        for line in failure_lines(event.failure, base, *limits):
            text = self._text(f"  {line.text}", style=LINE_STYLE.get(line.tag, ""))
            self._print(text)

    def _print_unexpected(self, event: ScenarioEnded) -> None:
        view = self._scenarios.get(event.scenario)
        base = view.start if view else 0.0
        count = len(event.unexpected)
        noun = "message" if count == 1 else "messages"
        self._print(self._text(f"  {count} unexpected {noun} (received, never expected):"))
        for item in sorted(event.unexpected, key=lambda u: u.at)[:20]:
            detail = preview(item.data, self._limit)
            line = self._text(f"    +{item.at - base:.3f}s {item.conn} ← {detail}")
            self._print(line)
        if count > 20:
            self._print(self._text(f"    … and {count - 20} more"))

    def _service_output_event(self, event: ServiceOutput) -> None:
        self._service_output[event.service] = event.output
        tail = event.output.splitlines()[-20:]
        title = f"  output of service {event.service!r}"
        reason = f" ({event.reason})" if event.reason else ""
        header = self._text(f"{title}{reason}, last {len(tail)} lines:", style="yellow")
        self._print(header)
        for line in tail:
            self._print(self._text(f"    {line}"))

    def _run_ended(self, event: RunEnded) -> None:
        if self._ended:
            self._print_summary()
        self._print_latency()
        self._print_compression()
        self._print_totals(event)

    def _print_summary(self) -> None:
        rows = [
            (
                ended.name,
                ended.status.value,
                format_duration(ended.duration),
                f"{ended.steps_passed}/{ended.steps_total}",
            )
            for ended in sorted(self._ended, key=lambda e: e.scenario)
        ]
        lines = plain_table(rows, self.console.width) if self._plain else None
        if lines is None:
            self.console.print(self._summary_table(rows))
            return
        for line in lines:
            self._print(_Line(line))

    @staticmethod
    def _summary_table(rows: Sequence[tuple[str, str, str, str]]) -> Table:
        from rich.table import Table
        from rich.text import Text

        table = Table(title=None, show_edge=False, pad_edge=False, box=None, header_style="bold")
        for column, justify in _COLUMNS:
            table.add_column(column, justify="left" if justify == "<" else "right")
        for name, status, duration, steps in rows:
            result = Text(status, style=STATUS_STYLE[Status(status)])
            # plain text: "name[row]" is not markup
            table.add_row(Text(name), result, duration, steps)
        return table

    def _print_latency(self) -> None:
        if not self._latencies.count:
            return
        self._print(self._text("expect latency", style="bold"))
        from_start = latency_stats(self._latencies)
        self._print(self._text(f"  from step start: {from_start}"))
        from_send = latency_stats(self._from_send)
        if from_send.count:
            self._print(self._text(f"  from last send:  {from_send}"))

    def _print_compression(self) -> None:
        """Per compressed connection: message bytes and their payload bytes on the wire."""
        if not self._compression:
            return
        title = "compression (message bytes → wire bytes)"
        if self._plain:
            self._print(_Line(title))
        else:
            self.console.print(_rich_text(title, style="bold"))
        for scenario, conn, t in self._compression:
            line = (
                f"  {scenario} {conn}: sent {_ratio(t.sent, t.sent_wire)}, "
                f"received {_ratio(t.received, t.received_wire)}"
            )
            self._print(self._text(line))

    def _print_totals(self, event: RunEnded) -> None:
        counts = ", ".join(f"{n} {status}" for status, n in event.counts.items() if n)
        line = self._text(f"{event.status.value.upper()}", style=STATUS_STYLE[event.status])
        self._print(line.append(f": {counts or 'no scenarios'} in {event.duration:.2f} s"))


#: The summary table's columns: their header and justification (< left, > right).
_COLUMNS = (("scenario", "<"), ("result", "<"), ("duration", ">"), ("steps", ">"))


def plain_table(rows: Sequence[Sequence[str]], width: int) -> list[str] | None:
    """The summary table's lines (a header, then `rows`) as rich writes that table without
    colours: no box, no edge padding, columns two spaces apart, each as wide as its widest cell.
    None where rich's layout would be another: a cell that is not printable ASCII (wide
    characters, line breaks), that starts or ends with a space or holds markup (its str cells),
    or a table wider than the console's `width` (rich wraps it)."""
    table = [tuple(header for header, _ in _COLUMNS), *(tuple(row) for row in rows)]
    for row in table:
        for cell in row:
            if not (cell.isascii() and cell.isprintable()) or cell != cell.strip():
                return None
        if "[" in row[2] or "[" in row[3]:  # rendered from str by rich: markup
            return None
    widths = [max(len(row[i]) for row in table) for i in range(len(_COLUMNS))]
    if sum(widths) + 2 * (len(widths) - 1) > width:
        return None
    return [
        "  ".join(
            cell.ljust(size) if justify == "<" else cell.rjust(size)
            for cell, size, (_, justify) in zip(row, widths, _COLUMNS, strict=True)
        )
        for row in table
    ]


def print_scenario_errors(console: Console, errors: list[ScenarioError]) -> None:
    """Print scenario errors (from loading or `wsrun validate`): location, message, snippet.

    This is the one rendering of validation errors: the README and the bad-file tests show it.
    No line wraps, whatever the width, so that `file:line:col: message` stays one line for grep.
    """
    from rich.text import Text

    for error in errors:
        for line in _error_lines(error):
            console.print(line, soft_wrap=True)
    noun = "error" if len(errors) == 1 else "errors"
    console.print(Text(f"{len(errors)} {noun}", style="bold red"), soft_wrap=True)


def _error_lines(error: ScenarioError) -> list[Text]:
    from rich.text import Text

    where = f"{error.location}: " if error.location else ""
    lines = [Text(where, style="bold").append(error.message, style="red")]
    for label, value in (("expected", error.expected), ("found", error.found)):
        if value is not None:
            lines.append(Text(f"  {label}: {value}"))
    if error.hint:
        lines.append(Text(f"  {error.hint}", style="yellow"))
    if error.snippet:
        lines.append(Text(error.snippet.rstrip("\n")))
    return lines


@cache
def _waits(kind: str) -> bool:
    """Whether steps of `kind` take time on purpose (shown at normal verbosity)."""
    model = step_model(kind)
    return model is not None and model.waits


def _compressed(traffic: Traffic) -> bool:
    return traffic.sent != traffic.sent_wire or traffic.received != traffic.received_wire


def _ratio(size: int, wire: int) -> str:
    share = f" ({wire / size:.0%})" if size else ""
    return f"{size:,} → {wire:,} B{share}"
