"""The live log without colours: each line written as its plain text, exactly as rich writes it
(issue 15: rich's rendering was about 80 µs a line), and the piped console asks no terminal
anything per print."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from rich.console import Console
from rich.text import Text

from runner.cli import make_console
from runner.events import EventBus
from runner.report.console import NORMAL, QUIET, VERBOSE, ConsoleReporter
from tests.unit.test_report_render import run_events

TRICKY = [
    "plain ascii",
    "wide 漢字 and e\u0301 combined",
    "a tab\there (rich expands it by cell widths)",
    "漢\tafter a wide one",
    "control \x1b[31m codes \x07 and \r return",
    "[bold]markup-like[/bold] :smile: text",
    "  trailing spaces   ",
    "zero\u200bwidth",
]


def _plain_console(file: StringIO) -> Console:
    return Console(file=file, color_system=None, highlight=False, emoji=False, width=10**6)


def _render(verbosity: int, jobs: int, plain: bool) -> str:
    file = StringIO()
    reporter = ConsoleReporter(_plain_console(file), verbosity, jobs)
    reporter._plain = plain  # the rich path, as a coloured console takes it
    bus = EventBus()
    bus.subscribe(reporter)
    for event in run_events():
        bus.emit(event)
    return file.getvalue()


@pytest.mark.parametrize("verbosity", [QUIET, NORMAL, VERBOSE])
@pytest.mark.parametrize("jobs", [1, 2])
def test_a_run_s_log_is_the_same_written_plain_or_by_rich(verbosity: int, jobs: int) -> None:
    rich_output = _render(verbosity, jobs, plain=False)
    assert rich_output.count("\n") >= 3
    assert _render(verbosity, jobs, plain=True) == rich_output


@pytest.mark.parametrize("content", TRICKY)
def test_each_kind_of_text_is_written_as_rich_writes_it(content: str) -> None:
    line = Text("  1.000s ", style="dim").append(content, style="bold").append(" end")
    by_rich, plain = StringIO(), StringIO()
    _plain_console(by_rich).print(line.copy(), soft_wrap=True)
    reporter = ConsoleReporter(_plain_console(plain))
    assert reporter._plain
    reporter._print(line.copy())
    assert plain.getvalue() == by_rich.getvalue()


class _CountingConsole(Console):
    prints = 0

    def print(self, *objects: Any, **kwargs: Any) -> None:
        self.prints += 1
        super().print(*objects, **kwargs)


def test_a_plain_console_s_live_lines_skip_rich_and_a_coloured_one_s_do_not() -> None:
    plain = _CountingConsole(file=StringIO(), color_system=None, width=10**6)
    coloured = _CountingConsole(file=StringIO(), color_system="truecolor", width=10**6)
    for console in (plain, coloured):
        bus = EventBus()
        bus.subscribe(ConsoleReporter(console, NORMAL, 1))
        for event in run_events():
            bus.emit(event)
    lines = plain.file.getvalue().count("\n")
    assert lines > 8
    assert plain.prints <= 3  # the summary's table and its headings only
    assert coloured.prints >= lines - 3
    assert "\x1b[" in coloured.file.getvalue() and "\x1b[" not in plain.file.getvalue()


class _Piped(StringIO):
    asked = 0

    def isatty(self) -> bool:
        self.asked += 1
        return False


def test_a_piped_console_asks_whether_it_is_a_terminal_once() -> None:
    for no_color in (False, True):
        file = _Piped()
        console = make_console(no_color, file)
        for i in range(20):
            console.print(Text(f"line {i}"), soft_wrap=True)
        assert file.getvalue().count("\n") == 20
        assert file.asked <= 2  # make_console's own look, and rich's first
        assert console.size.height == 25
