"""The HTML report: one self-contained page, rendered from the JSON report's data.

`render_html` takes what `JsonReporter.report()` returns (or a JSON report read back from a
file, `load_json_report`): ``wsrun run --html-report FILE`` and ``wsrun report run.json -o
FILE`` are the same renderer on the same input. The page needs nothing but itself: CSS and
SVG inline, no script, no font, no request (its Content-Security-Policy forbids them all), so
it opens from disk, from a CI artifact viewer or an e-mail.

It shows the run's summary (with a link to each failure), every scenario with its result,
duration and steps (failures first and open, passes collapsed), each scenario's failure block,
its unexpected messages and its timeline (`runner.report.html_charts.timeline_svg`), the
latency charts, and the services' output (open when the run failed).

Size: the page stays under `MAX_PAGE_BYTES` (as long as the scenarios' summary lines fit in
it). A scenario's timeline holds at most `TIMELINE_ROWS` (failures) or `TIMELINE_ROWS_PASSED`
rows, payload previews are one line, long texts are cut; when the details of every scenario
would not fit, each pass gets an equal share of what is left (a shorter timeline, or none), and
when even that does not fit, the last scenarios show their summary line (and a failure its
message) only. The page says what it cut; the JSON report holds everything.
Every text from the run is escaped (`esc`): payloads are hostile input.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from runner.events import Event, ScenarioEnded, ScenarioStarted, StepEnded
from runner.report.files import write_atomically
from runner.report.html_charts import (
    Row,
    StepLatency,
    esc,
    histogram_svg,
    percentiles_svg,
    timeline_svg,
)
from runner.report.json_report import REPORT_VERSION, JsonReporter
from runner.report.text import (
    ARROWS,
    EXACT_LATENCIES,
    LATENCY_ERROR,
    LatencyRecorder,
    format_duration,
    preview,
)

#: The JSON reports `wsrun report` renders: 1 had a step_started line per step, which 2 folds
#: into its step_ended line (the HTML report shows neither: both render alike); 3 writes the
#: events' times to the nanosecond (the same page).
READABLE_VERSIONS = (1, 2, REPORT_VERSION)

__all__ = [
    "MAX_PAGE_BYTES",
    "TIMELINE_ROWS",
    "TIMELINE_ROWS_PASSED",
    "HtmlReporter",
    "ReportFileError",
    "load_json_report",
    "render_html",
    "write_html_report",
]

#: The page's size in bytes, at most, as long as the scenarios' summary lines fit in it: the
#: scenarios' details (steps, failure, timeline) are given while they fit, failures first.
MAX_PAGE_BYTES = 1_900_000
_NOTE_BYTES = 1024  # reserved for the note that says what was cut
#: Rows of a failed scenario's timeline (beyond: its first and last rows, and a note).
TIMELINE_ROWS = 300
#: Rows of a passed (or skipped) scenario's timeline.
TIMELINE_ROWS_PASSED = 40
_LABEL = 110  # characters of a payload preview in a failed scenario's timeline
_LABEL_PASSED = 50
_TEXT = 4000  # characters of a failure's expected, closest, diff or traceback
_STEPS = 200  # rows of a scenario's step table
_LISTED_FAILURES = 200  # failures linked from the top of the page
_UNEXPECTED = 50
_SERVICE_LINES = 200
_SLOWEST_STEPS = 25
_STATUSES = ("failed", "error", "interrupted", "skipped", "passed")
_FAILING = ("failed", "error", "interrupted")


class ReportFileError(ValueError):
    """A file that is not a JSON report wsrun can render; the message says why."""


class HtmlReporter:
    """Collects every event and writes the HTML report to `path` on `close()`.

    The events are kept as the JSON reporter keeps them, and the page is rendered from the
    JSON report they make (`JsonReporter.report`), with `redact` applied to every text in it.
    """

    def __init__(
        self, path: str | os.PathLike[str], redact: Callable[[str], str] | None = None
    ) -> None:
        self.path = path
        self._redact = redact
        self._collector = JsonReporter(path)  # never closed: it only keeps the events
        self._seen: dict[int, int] = {}  # a scenario's events so far
        self._left_out: dict[int, int] = {}  # ... past its first HTML_EVENTS
        # Every expect's latencies, kept or not, for the figures (bounded: `LatencyRecorder`).
        self._latencies, self._from_send = LatencyRecorder(), LatencyRecorder()

    def __call__(self, event: Event) -> None:
        """Keep one event (an `EventBus` listener): a scenario's first `HTML_EVENTS`."""
        cls = event.__class__
        if cls is StepEnded:
            latency = event.latency  # type: ignore[attr-defined]
            if latency is not None:
                self._latencies.add(latency)
                from_send = event.latency_from_send  # type: ignore[attr-defined]
                if from_send is not None:
                    self._from_send.add(from_send)
        scenario = getattr(event, "scenario", None)
        if scenario is not None and cls not in _ALWAYS_KEPT:
            seen = self._seen[scenario] = self._seen.get(scenario, 0) + 1
            if seen > HTML_EVENTS:  # a long repeat's: counted, and in the figures
                self._left_out[scenario] = seen - HTML_EVENTS
                return
        self._collector(event)

    def close(self) -> None:
        """Render the page and write it atomically."""
        report = self._collector.report()
        report["latency"] = {
            "from_step_start": self._latencies.stats().as_dict(),
            "from_last_send": self._from_send.stats().as_dict(),
        }
        for scenario in report["scenarios"]:
            if left_out := self._left_out.get(scenario["index"]):
                scenario["events_left_out"] = left_out
        if self._redact is not None:
            report = _redacted(report, self._redact)
        write_html_report(self.path, report)


#: How many events of a scenario the page is made from, at most (its first ones): it shows a
#: timeline of a few hundred rows, and a long `repeat` makes six events an iteration. The
#: others are counted (``events_left_out``, said on the page); their latencies are in the
#: figures. The JSON report has them all.
HTML_EVENTS = 20_000
_ALWAYS_KEPT = frozenset({ScenarioStarted, ScenarioEnded})


def _redacted(value: Any, redact: Callable[[str], str]) -> Any:
    """`value` with `redact` applied to every string value in it; the keys, the report's
    structure, are left as they are, whatever a secret's value."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, list):
        return [_redacted(item, redact) for item in value]
    if isinstance(value, dict):
        return {key: _redacted(item, redact) for key, item in value.items()}
    return value


def write_html_report(path: str | os.PathLike[str], report: Mapping[str, Any]) -> None:
    """Render `report` (a JSON report's data) and write the page to `path` atomically."""
    write_atomically(path, render_html(report).encode("utf-8", "replace"))


def load_json_report(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a JSON report written by ``--json-report``.

    Raises:
        ReportFileError: the file cannot be read, is not JSON, or is not a wsrun report.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise ReportFileError(f"cannot read {path}: {error.strerror or error}") from None
    except UnicodeDecodeError:
        raise ReportFileError(f"{path} is not a JSON report: not UTF-8 text") from None
    try:
        report = json.loads(text)
    except json.JSONDecodeError as error:
        raise ReportFileError(f"{path} is not a JSON report: {error}") from None
    problem = _shape_problem(report)
    if problem:
        raise ReportFileError(f"{path} is not a wsrun JSON report: {problem}")
    return report  # type: ignore[no-any-return]


def _shape_problem(report: Any) -> str | None:
    if not isinstance(report, dict):
        return "it is not a JSON object"
    if report.get("report_version") not in READABLE_VERSIONS:
        found = report.get("report_version")
        return f"report_version is {found!r}, this wsrun renders version {REPORT_VERSION}"
    for key in ("scenarios", "events", "services"):
        if not isinstance(report.get(key), list):
            return f"{key!r} is missing or not a list"
    for key in ("counts", "latency"):
        if not isinstance(report.get(key), dict):
            return f"{key!r} is missing or not an object"
    return None


class _Budget:
    """Bytes the scenarios' details may still take; and what was cut, for the page to say."""

    def __init__(self, size: int, scenarios: int) -> None:
        self.left = size
        self.pending = scenarios  # scenarios not placed yet
        self.spent = False  # a scenario's details did not fit: no later scenario gets any
        self.cut_timelines = 0
        self.without_details = 0

    def share(self) -> int:
        """What each scenario still to come may take, if all are to get their details."""
        return self.left // max(1, self.pending)

    def take(self, details: str) -> bool:
        """Whether `details` fit in what is left (then they are counted)."""
        self.pending -= 1
        size = _size(details)
        if self.spent or size > self.left:
            self.spent = True
            self.without_details += 1
            return False
        self.left -= size
        return True


def render_html(report: Mapping[str, Any]) -> str:
    """The page of `report`, the data of a JSON report (`JsonReporter.report`)."""
    scenarios = sorted(report["scenarios"], key=_failures_first)
    status = _status(report.get("status"))
    title = esc(f"wsrun: {status} · {_counts_text(report['counts'])}")
    head = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; img-src data:\">"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<title>{title}</title><style>{_CSS}</style></head><body class="run-{status}">'
        f"{_header(report, scenarios)}"
    )
    summaries = [_summary(s, n) for n, s in enumerate(scenarios)]
    tail = "".join((_latency_section(report), _services_section(report), _footer(report)))
    cut = [_without_details(s) for s in scenarios]  # shown when a scenario's details do not fit
    fixed = "".join((head, tail, *summaries, *cut))
    budget = _Budget(MAX_PAGE_BYTES - _size(fixed) - _NOTE_BYTES, len(scenarios))
    events = _events_by_scenario(report["events"])
    listed = [
        _scenario(scenario, summary, shown_cut, events.get(scenario.get("index"), []), budget)
        for scenario, summary, shown_cut in zip(scenarios, summaries, cut, strict=True)
    ]
    return "".join(
        (
            head,
            _cut_note(budget),
            '<section id="scenarios"><h2>Scenarios</h2>',
            *listed,
            "</section>",
            tail,
            "</body></html>\n",
        )
    )


def _events_by_scenario(events: Iterable[Any]) -> dict[Any, list[dict[str, Any]]]:
    grouped: dict[Any, list[dict[str, Any]]] = {}
    for event in events:
        if isinstance(event, dict) and "scenario" in event:
            grouped.setdefault(event["scenario"], []).append(event)
    return grouped


def _failures_first(scenario: Mapping[str, Any]) -> tuple[int, int]:
    status = _status(scenario.get("status"))
    index = scenario.get("index")
    return _STATUSES.index(status), index if isinstance(index, int) else 0


def _status(value: Any) -> str:
    """A status as a CSS class: one of the known ones (a hostile file cannot inject one)."""
    return value if value in _STATUSES else "error"


def _counts_text(counts: Mapping[str, Any]) -> str:
    shown = [f"{n} {status}" for status in _STATUSES if (n := counts.get(status))]
    return ", ".join(shown) or "no scenario"


def _header(report: Mapping[str, Any], scenarios: Sequence[Mapping[str, Any]]) -> str:
    status = _status(report.get("status"))
    chips = "".join(
        f'<span class="badge {s}">{esc(n)} {s}</span> '
        for s in _STATUSES
        if (n := report["counts"].get(s))
    )
    facts = [f"in {format_duration(float(report.get('duration') or 0))}"]
    if report.get("started_at"):
        facts.append(f"started {esc(report['started_at'])}")
    if report.get("wsrun_version"):
        facts.append(f"wsrun {esc(report['wsrun_version'])}")
    parts = [
        f'<header><h1>wsrun report <span class="badge {status}">{status.upper()}</span></h1>',
        f'<p class="summary">{chips}{" · ".join(facts)}</p>',
        '<nav><a href="#scenarios">scenarios</a> · <a href="#latency">latency</a> · '
        '<a href="#services">services</a></nav>',
    ]
    failing = [(n, s) for n, s in enumerate(scenarios) if _status(s.get("status")) in _FAILING]
    if failing:
        parts.append(f'<h2 id="failures">Failures ({len(failing)})</h2><ul class="failures">')
        for n, s in failing[:_LISTED_FAILURES]:
            message = (s.get("failure") or {}).get("message") or _status(s.get("status"))
            parts.append(
                f'<li><a href="#s{n}">{esc(s.get("name"))}</a> '
                f'<span class="where">{esc(_where(s))}</span> '
                f'<span class="msg">{esc(_cut(str(message), 300))}</span></li>'
            )
        if len(failing) > _LISTED_FAILURES:
            more = len(failing) - _LISTED_FAILURES
            parts.append(f'<li class="cut">and {more} more, listed below</li>')
        parts.append("</ul>")
    parts.append("</header>")
    return "".join(parts)


def _cut_note(budget: _Budget) -> str:
    notes = []
    if budget.cut_timelines:
        notes.append(
            f"{_plural(budget.cut_timelines, 'timeline')} shortened (the first and last rows "
            f"are shown; a failure's {TIMELINE_ROWS} rows at most)"
        )
    if budget.without_details:
        notes.append(
            f"{_plural(budget.without_details, 'scenario')} shown by the summary line only"
        )
    if not notes:
        return ""
    return (
        f'<p class="cut">Cut to keep the page small: {"; ".join(notes)}. The JSON report holds '
        "everything.</p>"
    )


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _where(scenario: Mapping[str, Any]) -> str:
    file, line = scenario.get("file"), scenario.get("line")
    return f"{file}:{line}" if file and line else str(file or "")


def _cut(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… (cut: {len(text) - limit} more characters)"


def _summary(scenario: Mapping[str, Any], n: int) -> str:
    """The line a scenario is listed by (its <details>' summary), opened for a failure."""
    status = _status(scenario.get("status"))
    return (
        f'<details class="sc {status}" id="s{n}"{" open" if status in _FAILING else ""}>'
        f"<summary><i>{status}</i> <b>{esc(scenario.get('name'))}</b> "
        f"<code>{esc(_where(scenario))}</code> "
        f"<span>{format_duration(float(scenario.get('duration') or 0))} · "
        f"{esc(scenario.get('steps_passed'))}/{esc(scenario.get('steps_total'))} steps</span>"
        "</summary>"
    )


def _scenario(
    scenario: Mapping[str, Any],
    summary: str,
    cut: str,
    events: list[dict[str, Any]],
    budget: _Budget,
) -> str:
    """A scenario's <details>: its steps, failure, unexpected messages and timeline.

    A pass whose timeline would take more than its share of what is left (`_Budget.share`)
    gets a shorter one (or none), so that every scenario of a large run keeps its steps.
    """
    failing = _status(scenario.get("status")) in _FAILING
    base = _start(events)
    failure = scenario.get("failure")
    parts = [_steps_table(scenario.get("steps") or [], scenario.get("file"))]
    if left_out := scenario.get("events_left_out"):
        more = esc(_thousands(left_out))
        parts.append(
            f'<p class="cut">made from its first {HTML_EVENTS:,} events: {more} more '
            "(a long repeat) are left out of this page; the JSON report has them all</p>"
        )
    if failure:
        parts.append(_failure_block(failure, base))
    parts.append(_unexpected(scenario.get("unexpected") or [], base))
    body = "".join(parts)
    rows = _timeline_rows(events, scenario, _LABEL if failing else _LABEL_PASSED)
    limit = min(len(rows), TIMELINE_ROWS if failing else TIMELINE_ROWS_PASSED)
    timeline = _timeline(rows, limit, base)
    if not failing and rows:
        room = budget.share() - _size(body)
        if _size(timeline) > room:
            limit = min(limit, int(room / (_size(timeline) / limit)))
            timeline = _timeline(rows, limit, base)
            while limit >= _FEWEST_ROWS and _size(timeline) > room:
                limit -= 1
                timeline = _timeline(rows, limit, base)
            if limit < _FEWEST_ROWS:
                timeline = _NO_TIMELINE
    if len(rows) > limit:
        budget.cut_timelines += 1
    details = body + timeline
    return f"{summary}{details if budget.take(details) else cut}</details>"


_FEWEST_ROWS = 5  # a shorter timeline is left out


def _thousands(value: Any) -> Any:
    return f"{value:,}" if isinstance(value, int) else value


_NO_TIMELINE = '<p class="cut">timeline cut (the page keeps under its size budget)</p>'


def _size(text: str) -> int:
    return len(text.encode("utf-8", "replace"))


def _start(events: Sequence[Mapping[str, Any]]) -> float:
    """When the scenario started: its times are shown from then."""
    start = next((e["at"] for e in events if e.get("type") == "scenario_started"), None)
    return float(start if start is not None else (events[0]["at"] if events else 0.0))


def _timeline(rows: list[Row], limit: int, base: float) -> str:
    if not rows:
        return ""
    if len(rows) > limit:
        rows = _shortened(rows, limit)
    conns = list(dict.fromkeys(row.conn for row in rows))
    return f'<div class="tl">{timeline_svg(rows, conns, base)}</div>'


def _without_details(scenario: Mapping[str, Any]) -> str:
    """What a scenario shows when its details do not fit: a failure's message, and a note."""
    failure = scenario.get("failure")
    message = f'<p class="msg">{esc(_cut(str(failure["message"]), 300))}</p>' if failure else ""
    return f'{message}<p class="cut">details cut: see the JSON report</p>'


def _steps_table(steps: Sequence[Mapping[str, Any]], file: Any) -> str:
    """The steps that ran; a location in the scenario's own file is shown as its line:col.

    When every step passed, the result column is left out (the table says so once).
    """
    if not steps:
        return '<p class="none">no step ran</p>'
    own = f"{file}:" if file else None
    results = any(_status(step.get("status")) != "passed" for step in steps)
    head = "<th>result" if results else ""
    rows = [f'<table class="st"><tr><th>#<th>step<th>where<th>conn{head}<th>duration<th>latency']
    for step in steps[:_STEPS]:
        status = _status(step.get("status"))
        latency = step.get("latency")
        where = str(step.get("location"))
        if own and where.startswith(own):
            where = where[len(own) :]
        rows.append(
            f"<tr{'' if status == 'passed' else f' class={status}'}><td>{esc(step.get('index'))}"
            f"<td>{esc(step.get('kind'))}<td>{esc(where)}<td>{esc(step.get('conn') or '')}"
            f"{f'<td>{status}' if results else ''}"
            f"<td>{format_duration(float(step.get('duration') or 0))}"
            f"<td>{format_duration(float(latency)) if latency is not None else ''}"
        )
    if len(steps) > _STEPS:
        rows.append(f'<tr><td colspan="7" class="cut">{len(steps) - _STEPS} more steps')
    if not results:
        rows.append('<tr><td colspan="6" class="none">every step passed')
    return "".join(rows) + "</table>"


def _failure_block(failure: Mapping[str, Any], base: float) -> str:
    parts = [f'<div class="failure"><p class="msg">{esc(failure.get("message"))}</p>']
    if failure.get("location"):
        step = failure.get("step")
        on = f" on {failure['conn']}" if failure.get("conn") else ""
        suffix = f" (step {step}, {failure.get('kind')}{on})" if step is not None else ""
        parts.append(f'<p class="at">at {esc(failure["location"])}{esc(suffix)}</p>')
    parts.append("<dl>")  # dropped below when it stays empty
    if failure.get("expected") is not None:
        parts.append(f"<dt>expected</dt><dd><code>{esc(_cut(failure['expected'], _TEXT))}</code>")
    if failure.get("closest") is not None:
        closest = _payload_preview(failure["closest"], _TEXT)
        parts.append(f"<dt>closest</dt><dd><code>{esc(closest)}</code>")
    if failure.get("reason"):
        parts.append(f"<dt>why</dt><dd>{esc(_cut(failure['reason'], _TEXT))}")
    parts.append("</dl>")
    if parts[-2] == "<dl>":
        del parts[-2:]
    if failure.get("diff"):
        parts.append(_diff(str(failure["diff"])))
    recent = failure.get("recent") or []
    if recent:
        parts.append(f"<p>last frames on {esc(failure.get('conn') or 'the connection')}:</p>")
        lines = [_transcript_line(entry, base) for entry in recent]
        parts.append(f'<pre class="frames">{esc(chr(10).join(lines))}</pre>')
    if failure.get("traceback"):
        trace = _cut(str(failure["traceback"]), _TEXT)
        parts.append(f'<p>wsrun failed internally:</p><pre class="trace">{esc(trace)}</pre>')
    return "".join(parts) + "</div>"


def _diff(diff: str) -> str:
    lines = []
    for line in _cut(diff, _TEXT).splitlines():
        tone = {"-": "del", "+": "add"}.get(line[:1], "") if line[:3] not in ("---", "+++") else ""
        lines.append(f'<span class="{tone}">{esc(line)}</span>' if tone else esc(line))
    return f'<p>diff (expected → closest):</p><pre class="diff">{chr(10).join(lines)}</pre>'


def _transcript_line(entry: Mapping[str, Any], base: float) -> str:
    event = str(entry.get("event"))
    data = _payload_preview(entry.get("data"), 300)
    at = float(entry.get("at") or 0) - base
    return f"+{at:.3f}s {entry.get('conn')} {ARROWS.get(event, '·')} {event} {data}".rstrip()


def _unexpected(messages: Sequence[Mapping[str, Any]], base: float) -> str:
    if not messages:
        return ""
    lines = [
        f"+{float(m.get('at') or 0) - base:.3f}s {m.get('conn')} ← "
        f"{_payload_preview(m.get('data'), 200)}"
        for m in messages[:_UNEXPECTED]
    ]
    if len(messages) > _UNEXPECTED:
        lines.append(f"… {len(messages) - _UNEXPECTED} more")
    noun = "message" if len(messages) == 1 else "messages"
    return (
        f'<p>{len(messages)} unexpected {noun} (received, never expected):</p><pre class="frames">'
        f"{esc(chr(10).join(lines))}</pre>"
    )


def _payload_preview(value: Any, limit: int) -> str:
    """A payload as the JSON report writes it, on one line: text as is, binary as hex."""
    if value is None:
        return ""
    if isinstance(value, str):
        return preview(value, limit)
    if isinstance(value, dict) and "base64" in value:
        try:
            data = base64.b64decode(str(value["base64"]), validate=True)
        except (binascii.Error, ValueError):
            return "<binary, not valid base64>"
        shown = preview(data, limit)
        return (
            f"{shown} (cut in the report: {value['length']} bytes)" if "length" in value else shown
        )
    if isinstance(value, dict) and "text" in value:
        shown = preview(str(value["text"]), limit)
        return f"{shown} (cut in the report: {value.get('length')} characters)"
    return preview(json.dumps(value, ensure_ascii=False), limit)


def _timeline_rows(
    events: Sequence[Mapping[str, Any]], scenario: Mapping[str, Any], limit: int
) -> list[Row]:
    """The rows of a scenario's timeline; a message no step took is marked as unexpected."""
    failure = scenario.get("failure")
    unexpected = {
        (m.get("at"), m.get("conn"))
        for m in scenario.get("unexpected") or []
        if isinstance(m, dict)
    }
    rows = []
    for event in events:
        row = _row(event, failure, limit)
        if row is None:
            continue
        if row.glyph == "received" and (event.get("at"), event.get("conn")) in unexpected:
            row = row._replace(tone="un", label=f"{row.label}  (unexpected)")
        rows.append(row)
    lanes = [row.conn for row in rows if row.conn]
    fallback = lanes[0] if lanes else "steps"
    return [row if row.conn else row._replace(conn=fallback) for row in rows]


def _row(event: Mapping[str, Any], failure: Any, limit: int) -> Row | None:
    kind, at, conn = event.get("type"), float(event.get("at") or 0), str(event.get("conn") or "")
    if kind in ("frame_sent", "frame_received"):
        return _frame_row(event, at, conn, limit)
    if kind == "http_request":
        return _http_row(event, at, limit)
    if kind == "connection_opened":
        proto = f", {event['protocol']}" if event.get("protocol") else ""
        text = f"open {event.get('url')} ({event.get('status')}{proto})"
        return Row(at, conn, "open", "in", _cut_label(text, limit))
    if kind == "handshake_refused":
        text = f"handshake refused, as expected: {event.get('status')} {event.get('url')}"
        return Row(at, conn, "open", "in", _cut_label(text, limit))
    if kind == "connection_closed":
        return _close_row(event, at, conn, limit)
    if kind == "auto_replied":
        got = _payload_preview(event.get("received"), limit // 2)
        sent = _payload_preview(event.get("sent"), limit // 2)
        return Row(at, conn, "reply", "in", f"auto-reply: {got} ⇒ {sent}")
    if kind == "error":
        text = f"error {event.get('code')}: {event.get('message')}"
        return Row(at, conn, "error", "no", _cut_label(text, limit))
    if kind == "step_ended":
        return _step_row(event, at, failure, limit)
    return None


def _frame_row(event: Mapping[str, Any], at: float, conn: str, limit: int) -> Row | None:
    """A message sent or received; on a protocol connection, its envelopes (what the steps
    matched), and no row for the protocol's heartbeats (the console hides them too unless -v;
    the JSON report keeps them)."""
    if event.get("heartbeat"):
        return None
    sent = event.get("type") == "frame_sent"
    envelopes = event.get("envelopes")
    if envelopes:
        shown: Any = envelopes[0] if len(envelopes) == 1 else envelopes
        label = _payload_preview(json.dumps(shown, ensure_ascii=False), limit)
    else:
        label = _payload_preview(event.get("data"), limit)
    return Row(at, conn, "sent" if sent else "received", "tx" if sent else "rx", label)


def _http_row(event: Mapping[str, Any], at: float, limit: int) -> Row:
    """An `http` step's request: method, URL, status (or why none came) and latency."""
    status = event.get("status")
    answer = str(status) if status is not None else f"no answer: {event.get('error')}"
    latency = format_duration(float(event.get("latency") or 0))
    text = f"HTTP {event.get('method')} {event.get('url')} → {answer} in {latency}"
    tone = "in" if status is not None else "no"
    return Row(at, "http", "other", tone, _cut_label(text, limit))


def _close_row(event: Mapping[str, Any], at: float, conn: str, limit: int) -> Row:
    by = {"client": "by wsrun", "server": "by the server"}.get(str(event.get("by")), "link lost")
    text = f"close {event.get('code')} {event.get('reason') or ''} ({by})"
    tone = "in" if event.get("was_clean") else "no"
    return Row(at, conn, "close", tone, _cut_label(" ".join(text.split()), limit))


def _step_row(event: Mapping[str, Any], at: float, failure: Any, limit: int) -> Row | None:
    kind, status = str(event.get("kind")), _status(event.get("status"))
    watched = kind.startswith("expect") or kind in ("poll", "call")
    if not watched and status == "passed":
        return None
    name = f"step {event.get('index')} {kind}"
    if status == "passed":
        latency = event.get("latency")
        matched = f"matched in {format_duration(float(latency))}" if latency is not None else "ok"
        return Row(at, str(event.get("conn") or ""), "matched", "ok", f"✓ {name} {matched}")
    message = status
    if isinstance(failure, dict) and failure.get("step") == event.get("index"):
        message = f"{status}: {failure.get('message')}"
    glyph = "failed" if status in ("failed", "error") else "other"
    tone = "no" if glyph == "failed" else "in"
    mark = "✗" if glyph == "failed" else "-"
    return Row(
        at, str(event.get("conn") or ""), glyph, tone, _cut_label(f"{mark} {name} {message}", limit)
    )


def _cut_label(text: str, limit: int) -> str:
    return preview(text, limit)


def _shortened(rows: list[Row], limit: int) -> list[Row]:
    """The first and the last rows of a long timeline (the failure is near its end), and a
    row between them that says how many were left out."""
    head, tail = limit // 2, limit - limit // 2 - 1
    left_out = len(rows) - head - tail
    note = Row(
        rows[head].at,
        rows[head].conn,
        "other",
        "in",
        f"… {left_out} events left out here (the JSON report holds them all)",
    )
    return [*rows[:head], note, *rows[len(rows) - tail :]]


def _latency_section(report: Mapping[str, Any]) -> str:
    steps = [
        step
        for scenario in report["scenarios"]
        for step in scenario.get("steps") or []
        if step.get("latency") is not None
    ]
    from_start = [float(s["latency"]) for s in steps]
    from_send = [
        float(s["latency_from_send"]) for s in steps if s.get("latency_from_send") is not None
    ]
    parts = ['<section id="latency"><h2>Latency of expects</h2>', _stats_table(report["latency"])]
    if any(scenario.get("events_left_out") for scenario in report["scenarios"]):
        parts.append(
            '<p class="cut">the table counts every expect; the charts, the expects of the '
            "events the page keeps (each scenario's first)</p>"
        )
    parts.append("<h3>Histogram</h3>")
    parts.append(
        histogram_svg([("from the step's start", from_start), ("from the last send", from_send)])
    )
    per_step = _per_step(steps)
    shown = per_step[:_SLOWEST_STEPS]
    more = f", the {len(shown)} slowest of {len(per_step)}" if len(per_step) > len(shown) else ""
    parts.append(f"<h3>p50 · p95 · p99 per step <small>(from the step's start{more})</small></h3>")
    parts.append(percentiles_svg(shown))
    return "".join(parts) + "</section>"


def _stats_table(latency: Mapping[str, Any]) -> str:
    rows = [
        '<table class="stats"><tr><th></th><th>count</th><th>min</th><th>median</th>'
        "<th>p95</th><th>max</th></tr>"
    ]
    for key, label in (
        ("from_step_start", "from the step's start"),
        ("from_last_send", "from the last send"),
    ):
        stats = latency.get(key) or {}
        about = {"median": "≈", "p95": "≈"} if stats.get("estimated") else {}
        cells = "".join(
            f"<td>{about.get(k, '')}{format_duration(float(stats.get(k) or 0))}"
            for k in ("min", "median", "p95", "max")
        )
        rows.append(f"<tr><th>{label}</th><td>{esc(stats.get('count', 0))}{cells}</tr>")
    if any(
        (latency.get(key) or {}).get("estimated") for key in ("from_step_start", "from_last_send")
    ):
        note = f"≈: from a histogram, within {LATENCY_ERROR:.1%} (over {EXACT_LATENCIES:,} expects)"
        rows.append(f'</table><p class="cut">{note}</p>')
        return "".join(rows)
    return "".join(rows) + "</table>"


def _per_step(steps: Sequence[Mapping[str, Any]]) -> list[StepLatency]:
    grouped: dict[tuple[str, str], list[float]] = {}
    for step in steps:
        key = (str(step.get("location")), str(step.get("kind")))
        grouped.setdefault(key, []).append(float(step["latency"]))
    ranked = [StepLatency(where, kind, values) for (where, kind), values in grouped.items()]
    return sorted(ranked, key=lambda s: (-max(s.values), s.location))


def _services_section(report: Mapping[str, Any]) -> str:
    """Each service: what it provides, why its output was shown (a failure, a service that did
    not start), and its output (the last lines), open when the run failed."""
    services = report["services"]
    parts = ['<section id="services"><h2>Services</h2>']
    if not services:
        return parts[0] + '<p class="none">the run had no services</p></section>'
    reasons: dict[Any, list[str]] = {}
    for event in report["events"]:
        if (
            isinstance(event, dict)
            and event.get("type") == "service_output"
            and event.get("reason")
        ):
            reasons.setdefault(event.get("service"), []).append(str(event["reason"]))
    failed = _status(report.get("status")) != "passed"
    for service in services:
        name = esc(service.get("name"))
        provides = service.get("provides") or {}
        given = ", ".join(f"{key} = {value}" for key, value in provides.items())
        parts.append(f'<h3>{name}</h3><p class="where">provides: {esc(given or "nothing")}</p>')
        for reason in dict.fromkeys(reasons.get(service.get("name"), [])):
            parts.append(f'<p class="why">output shown: {esc(_cut(reason, 300))}</p>')
        lines = str(service.get("output") or "").splitlines()
        shown = lines[-_SERVICE_LINES:]
        cut = f", the last {len(shown)} shown" if len(lines) > len(shown) else ""
        parts.append(
            f"<details{' open' if failed else ''}><summary>output of {name} "
            f"({_plural(len(lines), 'line')}{cut})</summary>"
            f'<pre class="out">{esc(chr(10).join(shown))}</pre></details>'
        )
    return "".join(parts) + "</section>"


def _footer(report: Mapping[str, Any]) -> str:
    return (
        "<footer>Rendered by wsrun from its JSON report (report_version "
        f"{esc(report.get('report_version'))}): no script, nothing loaded from anywhere. Long "
        "transcripts and texts are cut here and kept whole in the JSON report.</footer>"
    )


_CSS = """
:root{--ok:#1a7f37;--bad:#cf222e;--warn:#9a6700;--info:#0550ae;--sent:#0a7d8c;--mute:#57606a;
--fg:#1f2328;--line:#d0d7de;--soft:#f6f8fa}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:var(--fg);
background:#fff;margin:0 auto;padding:12px 20px 40px;max-width:1400px}
h1{font-size:22px;margin:4px 0}h2{font-size:18px;border-bottom:1px solid var(--line);
padding-bottom:3px;margin-top:26px}h3{font-size:15px;margin:14px 0 6px}
small,.sc>summary code,.sc>summary span,.where{color:var(--mute)}
code,pre,.where,svg.timeline{font-family:ui-monospace,"DejaVu Sans Mono",Menlo,Consolas,monospace}
pre{background:var(--soft);padding:6px 8px;overflow-x:auto;font-size:12px;margin:4px 0}
.badge,.sc>summary>i{display:inline-block;padding:0 7px;border-radius:9px;font-size:12px;
font-weight:600;font-style:normal;color:#fff;background:var(--mute)}
.badge.passed,.sc.passed>summary>i{background:var(--ok)}
.badge.failed,.badge.error,.sc.failed>summary>i,.sc.error>summary>i{background:var(--bad)}
.badge.interrupted,.badge.skipped,.sc.interrupted>summary>i,.sc.skipped>summary>i{
background:var(--warn)}
ul.failures{padding-left:18px}ul.failures .msg{color:var(--bad)}
details.sc{border:1px solid var(--line);border-left:4px solid var(--ok);border-radius:4px;
margin:6px 0;padding:3px 10px}
details.sc.failed,details.sc.error{border-left-color:var(--bad)}
details.sc.interrupted,details.sc.skipped{border-left-color:var(--warn)}
details.sc>summary{cursor:pointer;padding:2px 0}
.failure{border:1px solid #ffcecb;background:#fff8f7;padding:4px 10px;margin:8px 0}
.msg{color:var(--bad);font-weight:600;margin:4px 0}.at{margin:2px 0}
dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 10px;margin:6px 0}
dt{color:var(--mute)}dd{margin:0;word-break:break-all}
.diff .del{color:var(--bad)}.diff .add{color:var(--ok)}
table{border-collapse:collapse;font-size:12.5px;margin:6px 0}
th,td{border-bottom:1px solid var(--line);padding:2px 8px;text-align:left}
td{font-variant-numeric:tabular-nums}
tr.failed td,tr.error td{color:var(--bad);font-weight:600}tr.skipped td{color:var(--warn)}
.tl{overflow-x:auto;margin:8px 0}
svg{fill:var(--fg);font-size:12px}svg .t,svg .ax{fill:var(--mute);font-size:11px}
svg .lane{font-weight:600;text-anchor:middle}svg .r{text-anchor:end}svg .c{text-anchor:middle}
svg .tx{fill:var(--sent)}svg .rx,svg .ok{fill:var(--ok)}svg .no{fill:var(--bad)}
svg .in{fill:var(--info)}svg .un{fill:var(--warn)}
.life{stroke:var(--line);stroke-width:6;stroke-linecap:round}
.g-sent{stroke:var(--sent);stroke-width:2;fill:none}
.g-received{stroke:var(--ok);stroke-width:2;fill:none}
.g-reply{stroke:var(--info);stroke-width:1.5;fill:none}
.g-open,.g-close{stroke:var(--info);stroke-width:10;stroke-linecap:round}
.g-close{stroke-linecap:square}
.g-error,.g-failed{stroke:var(--bad);stroke-width:3;fill:none}
.g-matched{stroke:var(--ok);stroke-width:3;fill:none}.g-other{stroke:var(--warn);stroke-width:3}
.grid{stroke:var(--line)}.bar.s0{fill:#54aeff}.bar.s1{fill:#d4a72c}
.bar.p0{fill:#ffcecb}.bar.p1{fill:#ff8182}.bar.p2{fill:#cf222e}
.cut{color:var(--warn);font-style:italic}.why{color:var(--warn);margin:2px 0}
.none{color:var(--mute)}
footer{margin-top:30px;color:var(--mute);font-size:12px}
"""
