"""A long `repeat` in the JUnit report: a testcase's ``system-out`` keeps the first and last
1,000 lines of its transcript and says how many it left out between (it kept all: four lines
an iteration)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from runner.events import FrameSent, ScenarioEnded, ScenarioStarted, Status
from runner.report.junit import TRANSCRIPT_HEAD, TRANSCRIPT_TAIL, JunitReporter


def test_a_long_transcript_keeps_its_first_and_last_lines(tmp_path: Path) -> None:
    path = tmp_path / "junit.xml"
    reporter = JunitReporter(path)
    reporter(ScenarioStarted(at=0.0, scenario=0, name="long", file="l.yaml", line=1, steps=1))
    frames = 10_000
    for i in range(frames):
        reporter(FrameSent(at=i / 1000, scenario=0, conn="c", data=f"m{i}"))
    reporter(
        ScenarioEnded(
            at=11.0,
            scenario=0,
            name="long",
            status=Status.PASSED,
            duration=11.0,
            steps_passed=1,
            steps_total=1,
        )
    )
    reporter.close()
    case = ET.parse(path).getroot().find("testsuite/testcase")
    assert case is not None
    out = case.findtext("system-out") or ""
    lines = out.split("\n")
    assert len(lines) == TRANSCRIPT_HEAD + 1 + TRANSCRIPT_TAIL
    assert lines[0].endswith("c → sent m0")
    assert lines[TRANSCRIPT_HEAD - 1].endswith(f"sent m{TRANSCRIPT_HEAD - 1}")
    left_out = frames - TRANSCRIPT_HEAD - TRANSCRIPT_TAIL
    assert lines[TRANSCRIPT_HEAD] == f"… {left_out:,} lines left out …"
    assert lines[TRANSCRIPT_HEAD + 1].endswith(f"sent m{TRANSCRIPT_HEAD + left_out}")
    assert lines[-1].endswith(f"sent m{frames - 1}")


def test_a_short_transcript_is_whole(tmp_path: Path) -> None:
    path = tmp_path / "junit.xml"
    reporter = JunitReporter(path)
    reporter(ScenarioStarted(at=0.0, scenario=0, name="s", file="s.yaml", line=1, steps=1))
    for i in range(TRANSCRIPT_HEAD + TRANSCRIPT_TAIL):
        reporter(FrameSent(at=i / 1000, scenario=0, conn="c", data=f"m{i}"))
    reporter.close()
    case = ET.parse(path).getroot().find("testsuite/testcase")
    assert case is not None
    lines = (case.findtext("system-out") or "").split("\n")
    assert len(lines) == TRANSCRIPT_HEAD + TRANSCRIPT_TAIL and "left out" not in " ".join(lines)
