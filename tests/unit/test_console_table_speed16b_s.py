"""The console reporter without rich (issue 15, helper S of 2026-12-02): a plain console's
summary table is laid out by `plain_table` exactly as rich lays it out, and where rich's layout
is another (wide characters, a table wider than the console), rich lays it out."""

from __future__ import annotations

from io import StringIO

import pytest
from rich.console import Console

from runner.events import EventBus, RunEnded, ScenarioEnded, ScenarioStarted, Status
from runner.report.console import QUIET, ConsoleReporter, plain_table

ROWS = [
    [("pair", "passed", "8.3 ms", "4/4")],
    [
        ("a very long scenario name[1]", "passed", "1.2 s", "10/10"),
        ("b", "interrupted", "33.0 ms", "4/4"),
        ("rooms[red-blue]", "failed", "2 min 3 s", "1000/1002"),
    ],
    [("two  spaces inside", "skipped", "0 ms", "0/3"), ("x", "error", "12.5 s", "1/1")],
    [("chat <&> :smile:", "passed", "1.0 ms", "2/2")],
]
#: Rows that rich lays out otherwise (or might): the reporter leaves these to rich.
RICH_ROWS = [
    [("漢字の名前", "passed", "1.0 ms", "2/2")],
    [("e\u0301", "passed", "1.0 ms", "2/2")],
    [(" leading", "passed", "1.0 ms", "2/2")],
    [("trailing ", "passed", "1.0 ms", "2/2")],
    [("two\nlines", "passed", "1.0 ms", "2/2")],
    [("tab\there", "passed", "1.0 ms", "2/2")],
    [("markup", "passed", "[b]1 ms", "2/2")],
]


def _events(rows: list[tuple[str, str, str, str]]) -> list[object]:
    events: list[object] = []
    for index, (name, status, _, steps) in enumerate(rows):
        passed, total = (int(n) for n in steps.split("/"))
        events.append(ScenarioStarted(at=0.0, scenario=index, name=name, file="f", line=1, steps=1))
        events.append(
            ScenarioEnded(
                at=0.1,
                scenario=index,
                name=name,
                status=Status(status),
                duration=0.0123 * (index + 1),
                steps_passed=passed,
                steps_total=total,
            )
        )
    counts = {s: sum(1 for r in rows if r[1] == s.value) for s in Status}
    events.append(RunEnded(at=1.0, status=Status.PASSED, duration=1.0, counts=counts))
    return events


def _output(rows: list[tuple[str, str, str, str]], *, by_rich: bool, width: int = 10**6) -> str:
    file = StringIO()
    console = Console(file=file, color_system=None, highlight=False, emoji=False, width=width)
    reporter = ConsoleReporter(console, QUIET)
    reporter._plain = not by_rich  # rich's own path, as a coloured console takes it
    bus = EventBus()
    bus.subscribe(reporter)
    for event in _events(rows):
        bus.emit(event)  # type: ignore[arg-type]
    return file.getvalue()


@pytest.mark.parametrize("rows", ROWS)
def test_the_plain_table_is_rich_s_table(rows: list[tuple[str, str, str, str]]) -> None:
    console = Console(file=StringIO(), color_system=None, highlight=False, width=10**6)
    reporter = ConsoleReporter(console, QUIET)
    console.print(reporter._summary_table(rows))
    by_rich = console.file.getvalue().splitlines()  # type: ignore[attr-defined]
    assert plain_table(rows, 10**6) == by_rich
    assert _output(rows, by_rich=False) == _output(rows, by_rich=True)


@pytest.mark.parametrize("rows", RICH_ROWS)
def test_what_rich_lays_out_otherwise_is_left_to_rich(
    rows: list[tuple[str, str, str, str]],
) -> None:
    assert plain_table(rows, 10**6) is None
    if "[" not in rows[0][2]:  # a scenario's own rows (a duration never holds markup)
        assert _output(rows, by_rich=False) == _output(rows, by_rich=True)


def test_a_table_wider_than_the_console_is_left_to_rich() -> None:
    rows = [("a" * 50, "passed", "1.0 ms", "2/2")]
    width = len(plain_table(rows, 10**6)[0])  # type: ignore[index]
    assert plain_table(rows, width) is not None
    assert plain_table(rows, width - 1) is None
    assert _output(rows, by_rich=False, width=40) == _output(rows, by_rich=True, width=40)


@pytest.mark.parametrize(
    "text",
    [
        "plain",
        "wide 漢字",
        "bell \x07 backspace \x08 vt \x0b ff \x0c cr \r kept \x1b[31m \t \n",
        "".join(map(chr, range(32))) + "\x7f",
    ],
)
def test_a_plain_line_holds_what_rich_s_text_holds(text: str) -> None:
    from rich.text import Text

    from runner.report.console import _Line

    assert _Line(text).plain == Text(text).plain
    assert _Line("a").append(text).append(text).plain == Text("a").append(text).append(text).plain
