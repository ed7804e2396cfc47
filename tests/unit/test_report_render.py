"""Reporters fed with synthetic events: console text, JSON report against its schema, JUnit XML."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from io import StringIO
from pathlib import Path

import jsonschema
from rich.console import Console

from runner.events import (
    ConnectionClosed,
    ConnectionOpened,
    Event,
    EventBus,
    Failure,
    FrameReceived,
    FrameSent,
    RunEnded,
    RunStarted,
    ScenarioEnded,
    ScenarioStarted,
    ServiceOutput,
    Status,
    StepEnded,
    TranscriptEntry,
    Unexpected,
)
from runner.report.console import QUIET, VERBOSE, ConsoleReporter
from runner.report.json_report import JsonReporter
from runner.report.junit import JunitReporter
from runner.report.report_schema import REPORT_SCHEMA_FILE, report_json_schema
from runner.report.text import preview

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"

FAILURE = Failure(
    message="no message on 'bob' matched within 2.000s",
    location="chat.yaml:12:5",
    step=3,
    kind="expect",
    conn="bob",
    expected='json {"type": "said", "text": "hello"}',
    closest='{"type":"said","text":"hi"}',
    reason="$.text: expected 'hello', found 'hi'",
    diff='--- expected\n+++ received\n@@ -1,4 +1,4 @@\n-  "text": "hello",\n+  "text": "hi",',
    recent=(TranscriptEntry(at=10.1, conn="bob", event="received", data='{"type":"said"}'),),
)


def run_events() -> list[Event]:
    """A run of two scenarios: one passes, one fails with a binary message left over."""
    return [
        RunStarted(
            at=0.0, started_at="2026-01-01T00:00:00.000+00:00", scenarios=2, jobs=1, version="0.1.0"
        ),
        ScenarioStarted(at=0.0, scenario=0, name="echo", file="echo.yaml", line=1, steps=2),
        ConnectionOpened(at=0.01, scenario=0, conn="main", url="ws://h/echo", status=101),
        FrameSent(at=0.02, scenario=0, conn="main", data="[bold]hi[/bold]"),
        FrameReceived(at=0.03, scenario=0, conn="main", data="[bold]hi[/bold]"),
        StepEnded(
            at=0.03,
            scenario=0,
            index=1,
            kind="expect",
            location="echo.yaml:4:5",
            status=Status.PASSED,
            duration=0.01,
            conn="main",
            latency=0.01,
            latency_from_send=0.01,
        ),
        ConnectionClosed(at=0.04, scenario=0, conn="main", code=1000, reason="", was_clean=True),
        ScenarioEnded(
            at=0.05,
            scenario=0,
            name="echo",
            status=Status.PASSED,
            duration=0.05,
            steps_passed=2,
            steps_total=2,
        ),
        ScenarioStarted(at=10.0, scenario=1, name="chat <&>", file="chat.yaml", line=1, steps=8),
        ScenarioStarted(
            at=11.0, scenario=2, name="rooms[red-blue]", file="r.yaml", line=1, steps=1
        ),
        ScenarioEnded(
            at=11.5,
            scenario=2,
            name="rooms[red-blue]",
            status=Status.PASSED,
            duration=0.5,
            steps_passed=1,
            steps_total=1,
        ),
        FrameReceived(at=10.1, scenario=1, conn="bob", data=b"\x00\x01\xff"),
        ScenarioEnded(
            at=12.0,
            scenario=1,
            name="chat <&>",
            status=Status.FAILED,
            duration=2.0,
            steps_passed=3,
            steps_total=8,
            failure=FAILURE,
            unexpected=(Unexpected(at=10.1, conn="bob", data=b"\x00\x01\xff"),),
        ),
        ServiceOutput(at=12.0, service="server", output="listening\nboom", reason="after"),
        RunEnded(at=12.1, status=Status.FAILED, duration=12.1, counts={"passed": 1, "failed": 1}),
    ]


def render(verbosity: int = 0, jobs: int = 1) -> str:
    console = Console(file=StringIO(), width=100, color_system=None)
    bus = EventBus()
    bus.subscribe(ConsoleReporter(console, verbosity, jobs))
    for event in run_events():
        bus.emit(event)
    return console.file.getvalue()  # type: ignore[attr-defined, no-any-return]


def test_console_shows_the_live_log_with_payloads_as_plain_text() -> None:
    out = render()
    assert "▶ echo  echo.yaml:1" in out
    assert "main     → sent      [bold]hi[/bold]" in out
    assert "main     ← received  [bold]hi[/bold]" in out
    assert "✓ expect main matched in 10.0 ms (10.0 ms after send)" in out


def test_console_shows_a_failure_with_location_closest_diff_and_frames() -> None:
    out = render()
    assert "✗ FAILED chat <&>  (2.00 s, 3/8 steps)" in out
    assert "at chat.yaml:12:5 (step 4, expect on bob)" in out
    assert 'closest:  {"type":"said","text":"hi"}' in out
    assert '-  "text": "hello",' in out and '+  "text": "hi",' in out
    assert "last frames on bob:" in out and '+0.100s bob ← received {"type":"said"}' in out
    assert "1 unexpected message" in out and "<3 bytes> 00 01 ff" in out
    assert "output of service 'server' (after), last 2 lines:" in out and "boom" in out


def test_console_summary_table_latency_and_totals() -> None:
    lines = render().splitlines()
    assert any(line.split()[:3] == ["echo", "passed", "50.0"] for line in lines)
    assert any("from step start: n=1" in line for line in lines)
    assert any(line.split()[:2] == ["rooms[red-blue]", "passed"] for line in lines)
    assert lines[-1] == "FAILED: 1 passed, 1 failed in 12.10 s"


def test_quiet_console_has_no_live_log_but_keeps_the_failure() -> None:
    out = render(QUIET)
    assert "→ sent" not in out
    assert "at chat.yaml:12:5" in out


def test_parallel_console_names_the_scenario_on_each_line() -> None:
    assert "[echo] main     → sent" in render(jobs=2)


def test_verbose_console_shows_whole_payloads() -> None:
    long = "x" * 300
    console = Console(file=StringIO(), width=100, color_system=None)
    reporter = ConsoleReporter(console, VERBOSE)
    reporter(FrameSent(at=0.0, scenario=0, conn="c", data=long))
    assert long in console.file.getvalue().replace("\n", "")  # type: ignore[attr-defined]
    assert preview(long).endswith("… (300 chars)")


def test_json_report_validates_against_its_schema(tmp_path: Path) -> None:
    path = tmp_path / "report.json"
    reporter = JsonReporter(path)
    for event in run_events():
        reporter(event)
    reporter.close()
    report = json.loads(path.read_text(encoding="utf-8"))
    jsonschema.validate(report, report_json_schema())
    assert report["status"] == "failed"
    assert [s["status"] for s in report["scenarios"]] == ["passed", "failed", "passed"]
    assert report["scenarios"][1]["unexpected"][0]["data"] == {"base64": "AAH/"}
    assert report["services"] == [{"name": "server", "output": "listening\nboom"}]
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind


def test_committed_report_schema_is_fresh() -> None:
    committed = json.loads((SCHEMAS / REPORT_SCHEMA_FILE).read_text(encoding="utf-8"))
    assert committed == report_json_schema(), "run: wsrun schema --write schemas"


def test_junit_xml_parses_with_a_testcase_per_scenario(tmp_path: Path) -> None:
    path = tmp_path / "junit.xml"
    reporter = JunitReporter(path)
    for event in run_events():
        reporter(event)
    reporter.close()
    root = ET.parse(path).getroot()
    cases = {c.get("name"): c for c in root.iter("testcase")}
    assert set(cases) == {"echo", "chat <&>", "rooms[red-blue]"}
    failure = cases["chat <&>"].find("failure")
    assert failure is not None and failure.get("message") == FAILURE.message
    assert "at chat.yaml:12:5" in (failure.text or "")
    out = cases["echo"].findtext("system-out") or ""
    assert "main → sent [bold]hi[/bold]" in out
    assert [s.get("failures") for s in root.iter("testsuite")] == ["0", "1", "0"]


def test_junit_xml_is_written_for_an_interrupted_run(tmp_path: Path) -> None:
    path = tmp_path / "junit.xml"
    reporter = JunitReporter(path)
    for event in run_events()[:9]:  # the second scenario never ended
        reporter(event)
    reporter.close()
    error = ET.parse(path).getroot().find(".//testcase[@name='chat <&>']/error")
    assert error is not None and error.get("message") == "interrupted"


def test_log_lines_never_wrap_on_a_narrow_console() -> None:
    """Piped output is 80 columns wide: a long line stays one line (CI logs are grepped)."""
    console = Console(file=StringIO(), width=40, color_system=None)
    reporter = ConsoleReporter(console, 0, 1)
    for event in run_events():
        reporter(event)
    text = console.file.getvalue()  # type: ignore[attr-defined]
    step_lines = [line for line in text.splitlines() if "✓ expect" in line]
    assert step_lines and all(":" in line.rsplit("  ", 1)[-1] for line in step_lines)
    assert all(len(line) > 40 for line in step_lines)
