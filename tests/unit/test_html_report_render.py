"""The HTML report's renderer on its own: runs cut short, empty runs, cut payloads, the size
budget of a huge run, and the arithmetic of the charts."""

from __future__ import annotations

import re
from typing import Any

import runner.report.html_charts
import runner.report.html_report
from runner.events import (
    FrameReceived,
    RunStarted,
    ScenarioEnded,
    ScenarioStarted,
    Status,
    StepEnded,
    StepStarted,
    Unexpected,
)
from runner.report.html_charts import _bin, histogram_svg, percentile
from runner.report.html_report import MAX_PAGE_BYTES, HtmlReporter, render_html
from runner.report.json_report import JsonReporter


def report_of(*events: Any) -> dict[str, Any]:
    collector = JsonReporter("unused.json")
    for event in events:
        collector(event)
    return collector.report()


START = RunStarted(at=0.0, started_at="2026-12-01T00:00:00+00:00", scenarios=1, jobs=1, version="t")


def test_a_run_cut_short_renders_as_interrupted() -> None:
    page = render_html(
        report_of(
            START,
            ScenarioStarted(at=0.1, scenario=0, name="half", file="a.yaml", line=1, steps=2),
            StepStarted(
                at=0.1, scenario=0, index=0, kind="expect", location="a.yaml:3:5", summary=""
            ),
            FrameReceived(at=0.2, scenario=0, conn="c", data=b"\x00\xff" * 40),
        )
    )  # no scenario_ended, no run_ended: Ctrl-C
    assert '<span class="badge interrupted">INTERRUPTED</span>' in page
    assert '<p class="none">no expect latency was measured</p>' in page


def test_an_empty_run_renders() -> None:
    page = render_html(report_of(START))
    assert "<h2>Scenarios</h2></section>" in page and "no scenario" in page


def test_cut_payloads_say_how_long_they_were() -> None:
    report = report_of(
        START,
        ScenarioStarted(at=0.1, scenario=0, name="big", file="a.yaml", line=1, steps=1),
        FrameReceived(at=0.2, scenario=0, conn="c", data="x" * 70_000),
        FrameReceived(at=0.3, scenario=0, conn="c", data=b"\x01" * 70_000),
        ScenarioEnded(at=0.4, scenario=0, name="big", status=Status.PASSED, duration=0.3,
                      steps_passed=0, steps_total=0),
    )  # fmt: skip
    page = render_html(report)
    assert "(cut in the report: 70000 characters)" in page
    assert "&lt;65536 bytes&gt; 01 01" in page and "(cut in the report: 70000 bytes)" in page


def test_a_huge_run_stays_under_the_budget_and_says_what_it_cut() -> None:
    events: list[Any] = [START]
    unexpected = tuple(Unexpected(at=0.0, conn="c", data="z" * 300) for _ in range(50))
    for n in range(400):  # 50 unexpected messages each: 11 KB of details a scenario
        at = n * 0.01
        events += [
            ScenarioStarted(at=at, scenario=n, name=f"s{n}", file="a.yaml", line=1, steps=1),
            *(FrameReceived(at=at, scenario=n, conn="c", data="y" * 200) for _ in range(50)),
            StepEnded(at=at, scenario=n, index=0, kind="expect", location="a.yaml:3:5",
                      status=Status.PASSED, duration=0.001, conn="c", latency=0.001),
            ScenarioEnded(at=at, scenario=n, name=f"s{n}", status=Status.PASSED, duration=0.01,
                          steps_passed=1, steps_total=1, unexpected=unexpected),
        ]  # fmt: skip
    page = render_html(report_of(*events))
    assert len(page.encode()) < MAX_PAGE_BYTES
    assert len(re.findall(r'<details class="sc passed"', page)) == 400
    shown = page.count('<table class="st">')
    assert 50 < shown < 400
    assert page.count("details cut: see the JSON report") == 400 - shown
    note = re.search(r'<p class="cut">Cut to keep the page small: ([^<]+)</p>', page)
    assert note and f"{400 - shown} scenarios shown by the summary line only" in note.group(1)
    assert "timelines shortened" in note.group(1)


def test_the_html_reporter_masks_every_text_and_keeps_the_structure(tmp_path: Any) -> None:
    path = tmp_path / "r.html"
    reporter = HtmlReporter(path, lambda text: text.replace("class", "***").replace("name", "*"))
    for event in (
        START,
        ScenarioStarted(at=0.1, scenario=0, name="class act", file="a.yaml", line=1, steps=0),
        ScenarioEnded(at=0.2, scenario=0, name="class act", status=Status.PASSED, duration=0.1,
                      steps_passed=0, steps_total=0),
    ):  # fmt: skip
        reporter(event)
    reporter.close()
    page = path.read_text(encoding="utf-8")
    assert "<b>*** act</b>" in page  # the name is masked; markup (class=) and keys (name) not
    assert '<details class="sc passed"' in page


def test_percentiles_are_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert [percentile(values, f) for f in (0.5, 0.95, 0.99, 1.0)] == [50.0, 95.0, 99.0, 100.0]
    assert percentile([7.0], 0.99) == 7.0


def test_histogram_bins_count_every_value_once() -> None:
    edges = [0.001, 0.002, 0.005]
    assert _bin([0.0001, 0.001, 0.0019, 0.003, 9.0], edges) == [3, 1, 1]
    svg = histogram_svg([("a", [0.0005, 0.002]), ("b", [])])
    assert svg.count('class="bar s0"><title>') == svg.count('class="bar s1"><title>') > 0


def test_exports_are_honest() -> None:
    for module in (runner.report.html_report, runner.report.html_charts):
        exported = module.__all__
        assert sorted(exported) == sorted(set(exported))
        assert all(hasattr(module, name) for name in exported)
