"""A long `repeat` in the HTML report: the page is made from each scenario's first
`HTML_EVENTS` events (it kept them all, six an iteration, as parsed JSON at the end), says how
many it left out, and its latency table counts every expect (estimates marked ≈)."""

from __future__ import annotations

import re
from pathlib import Path

from runner.events import (
    FrameReceived,
    FrameSent,
    RunEnded,
    ScenarioEnded,
    ScenarioStarted,
    Status,
    StepEnded,
)
from runner.report.html_report import HTML_EVENTS, HtmlReporter


def _iteration(reporter: HtmlReporter, i: int) -> None:
    at = i / 1000
    reporter(FrameSent(at=at, scenario=0, conn="c", data="hello"))
    reporter(FrameReceived(at=at, scenario=0, conn="c", data="hello"))
    reporter(
        StepEnded(
            at=at,
            scenario=0,
            index=1,
            kind="expect",
            location="long.yaml:6:11",
            status=Status.PASSED,
            duration=0.001,
            conn="c",
            latency=(i % 100 + 1) / 1e4,
        )
    )


def test_a_long_scenario_is_shown_from_its_first_events(tmp_path: Path) -> None:
    path = tmp_path / "r.html"
    reporter = HtmlReporter(path)
    reporter(ScenarioStarted(at=0.0, scenario=0, name="long", file="l.yaml", line=1, steps=1))
    iterations = 30_000  # 90,000 events
    for i in range(iterations):
        _iteration(reporter, i)
    ended = ScenarioEnded(
        at=30.0,
        scenario=0,
        name="long",
        status=Status.PASSED,
        duration=30.0,
        steps_passed=1,
        steps_total=1,
    )
    reporter(ended)
    reporter(RunEnded(at=30.0, status=Status.PASSED, duration=30.0, counts={"passed": 1}))
    assert reporter._collector._count == HTML_EVENTS + 3  # and the starts and ends
    reporter.close()
    page = path.read_text(encoding="utf-8")
    left_out = 3 * iterations - HTML_EVENTS
    assert f"made from its first {HTML_EVENTS:,} events: {left_out:,} more (a long repeat)" in page
    assert re.search(rf"<th>from the step's start</th><td>{iterations}<td>", page)
    assert "≈" in page and "from a histogram, within 0.4%" in page
    assert "the table counts every expect" in page


def test_a_short_scenario_is_shown_whole(tmp_path: Path) -> None:
    path = tmp_path / "r.html"
    reporter = HtmlReporter(path)
    reporter(ScenarioStarted(at=0.0, scenario=0, name="s", file="s.yaml", line=1, steps=1))
    for i in range(100):
        _iteration(reporter, i)
    reporter(
        ScenarioEnded(
            at=1.0,
            scenario=0,
            name="s",
            status=Status.PASSED,
            duration=1.0,
            steps_passed=1,
            steps_total=1,
        )
    )
    reporter.close()
    page = path.read_text(encoding="utf-8")
    assert "(a long repeat)" not in page and "≈" not in page
    assert re.search(r"<th>from the step's start</th><td>100<td>", page)
