"""What the JSON report costs at its close and per step: the spool is copied in large pieces
of whole lines (not a line at a time), a step's summary entry is cut out of its event's line,
and a finite float is written in place; the report's text stays what `json` writes."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from runner.events import FrameSent, Status, StepEnded
from runner.report import json_report
from runner.report.json_report import (
    JsonReporter,
    _step_entry,
    _step_json,
    event_json,
)
from runner.report.redaction import Redactor
from tests.unit.json_lines_speed16b import reference_line
from tests.unit.test_report_render import run_events


def _step(index: int, **fields: object) -> StepEnded:
    values: dict[str, object] = {
        "at": 1.0 + index,
        "scenario": 0,
        "index": index,
        "kind": "expect",
        "location": "a.yaml:3:5",
        "status": Status.PASSED,
        "duration": 0.25,
        "conn": "default",
        "latency": 0.001,
        "latency_from_send": 0.0005,
    }
    values.update(fields)
    return StepEnded(**values)  # type: ignore[arg-type]


def test_the_spool_is_copied_in_a_few_pieces(tmp_path: Path) -> None:
    """30,000 events: the report is written in a handful of pieces (it was two per event,
    60,001 here, each a generator step and a write), and parses to every event in order."""
    reporter = JsonReporter(tmp_path / "r.json")
    for i in range(30_000):
        reporter(FrameSent(at=i / 1000, scenario=0, conn="c", data=f"m{i}", wire_size=4))
    pieces = list(reporter._pieces(json.dumps({"summary": 1}, indent=1)))
    assert len(pieces) < 10, f"{len(pieces)} pieces"
    reporter.close()
    events = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))["events"]
    assert [e["data"] for e in events] == [f"m{i}" for i in range(30_000)]


@pytest.mark.parametrize("copied", [1, 7, 64, 1 << 20])
def test_pieces_of_any_size_give_the_same_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, copied: int
) -> None:
    """However the spool is cut into pieces (one byte, mid-line, all of it), each piece holds
    whole lines: the report is the same text, and a secret split across two reads is masked."""
    secret = "s3cr3t-token"
    redactor = Redactor([secret])
    events = run_events() + [
        FrameSent(at=9.0, scenario=0, conn="c", data=f"x{secret}y{n}", wire_size=1)
        for n in range(40)
    ]
    texts = []
    for size, name in ((1 << 20, "whole.json"), (copied, "cut.json")):
        monkeypatch.setattr(json_report, "COPIED", size)
        reporter = JsonReporter(tmp_path / name, redactor.text)
        for event in events:
            reporter(event)
        reporter.close()
        texts.append((tmp_path / name).read_text(encoding="utf-8"))
    assert texts[0] == texts[1]
    assert secret not in texts[1]
    data = json.loads(texts[1])
    assert [e["type"] for e in data["events"]] == [e.type for e in events]
    assert data["events"][-1]["data"] == "x***y39"


def test_a_report_with_no_event_is_still_json(tmp_path: Path) -> None:
    JsonReporter(tmp_path / "r.json").close()
    assert json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))["events"] == []


TRICKY_STEPS = [
    _step(0),
    _step(1, conn=None, latency=None, latency_from_send=None),
    _step(2, location='odd "index": 1, "note": x.yaml:1:1', kind='k, "note": "', note="n"),
    _step(3, note=', "note": "x"', conn='c "index": '),
    _step(4, duration=math.inf, latency=-math.inf, latency_from_send=math.nan),
    _step(5, duration=-0.0, latency=1e-300, latency_from_send=1e300, status=Status.FAILED),
    _step(6, duration=3, latency=True),  # an int and a bool where floats go: as json writes
]


@pytest.mark.parametrize("step", TRICKY_STEPS, ids=lambda s: str(s.index))
def test_a_steps_entry_cut_from_its_line_is_the_entry_written_whole(step: StepEnded) -> None:
    """Quotes, field names and separators inside values, no values, non-finite floats: the
    entry cut out of the event's line is the one `_step_json` writes, and the line is the
    text json writes (the floats written in place included)."""
    line = event_json(step)
    assert line == reference_line(step)  # report_version 3: times to the nanosecond
    assert _step_entry(line) == _step_json(step)
    assert json.loads(_step_entry(line))["location"] == step.location


def test_the_summary_keeps_the_entries_cut_from_the_lines(tmp_path: Path) -> None:
    reporter = JsonReporter(tmp_path / "r.json")
    for step in TRICKY_STEPS:
        reporter(step)
    reporter.report()  # the steps' entries are kept as their lines are encoded (in batches)
    assert reporter._steps[0] == [_step_json(step) for step in TRICKY_STEPS]
