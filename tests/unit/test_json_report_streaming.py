"""The JSON report streams: each event's line is written as it comes, by an encoder made once
per event class, and the reporter keeps only what the summary needs."""

from __future__ import annotations

import json
import math
import tracemalloc
from pathlib import Path

import pytest

from runner.events import (
    AutoReplied,
    Event,
    Failure,
    FrameReceived,
    FrameSent,
    ScenarioEnded,
    Status,
    StepEnded,
    StepStarted,
    TranscriptEntry,
    Unexpected,
)
from runner.report.json_report import JsonReporter, _step_json, event_json
from runner.report.payloads import MAX_REPORT_PAYLOAD, PayloadWriter
from tests.unit.json_lines_speed16b import reference_json, reference_line
from tests.unit.test_report_render import run_events

ODD_EVENTS: list[Event] = [
    FrameSent(at=0.5, scenario=1, conn="c", data='héllo "q" \\ \n\t\x00 ✓', wire_size=None),
    FrameReceived(at=1e-9, scenario=0, conn="c", data=b"\x00\xff binary", wire_size=10),
    FrameReceived(at=2.0, scenario=0, conn="c", data="x" * (MAX_REPORT_PAYLOAD + 1)),
    FrameReceived(at=2.0, scenario=0, conn="c", data=b"y" * (MAX_REPORT_PAYLOAD + 1)),
    FrameSent(at=3.0, scenario=0, conn="c", data="{}", envelopes=[{"a": [1, None, True]}]),
    AutoReplied(at=1.0, scenario=0, conn="c", received=b"ping", sent="pong", rule=0),
    StepStarted(at=0.1, scenario=0, index=0, kind="send", location="a.yaml:3:5", summary="s"),
    StepEnded(
        at=float("inf"),
        scenario=2,
        index=7,
        kind="expect",
        location="a:1:1",
        status=Status.FAILED,
        duration=0.25,
        conn=None,
        latency=0.001,
        note="optional: ✓",
    ),
    ScenarioEnded(
        at=4.0,
        scenario=0,
        name="n",
        status=Status.ERROR,
        duration=1.0,
        steps_passed=0,
        steps_total=1,
        failure=Failure("m", step=None, recent=(TranscriptEntry(1.0, "c", "sent", b"\x01"),)),
        unexpected=(Unexpected(at=1.0, conn="c", data=b"\x02"),),
    ),
]


@pytest.mark.parametrize("event", run_events() + ODD_EVENTS, ids=lambda e: type(e).__name__)
def test_each_events_line_is_what_json_dumps_writes(event: Event) -> None:
    """The encoder made per class writes the text the generic walk writes, byte for byte."""
    expected = reference_line(event)  # report_version 3: times to the nanosecond
    assert event_json(event, PayloadWriter()) == expected


def test_the_report_keeps_no_frame_in_memory(tmp_path: Path) -> None:
    """20,000 frames of 1 KiB: the reporter's memory does not grow with them (it held every
    event until it closed, 20 MiB here, and then their whole text again)."""
    reporter = JsonReporter(tmp_path / "r.json")
    payload = "p" * 1024
    tracemalloc.start()
    try:
        for i in range(20_000):
            reporter(FrameReceived(at=i / 1000, scenario=0, conn="c", data=payload + str(i)))
        grown, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert grown < 2 * 1024 * 1024, f"{grown:,} bytes kept for 20,000 frames"
    reporter.close()
    data = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert len(data["events"]) == 20_000
    assert data["events"][-1]["data"] == payload + "19999"


def test_report_mid_run_and_close_agree(tmp_path: Path) -> None:
    """`report()` reads the spool back without losing its place: events after it are kept,
    and the file closed at the end holds them all, in order, as `report()` gave them."""
    events = run_events()
    reporter = JsonReporter(tmp_path / "r.json")
    for event in events[:3]:
        reporter(event)
    assert len(reporter.report()["events"]) == 3
    for event in events[3:]:
        reporter(event)
    whole = reporter.report()
    reporter.close()
    assert json.loads((tmp_path / "r.json").read_text(encoding="utf-8")) == whole
    assert [e["type"] for e in whole["events"]] == [e.type for e in events]


def test_a_steps_entry_is_what_the_encoder_writes_of_its_mapping() -> None:
    """The summary keeps each step as its entry's text: the text json writes of the mapping."""
    for event in ODD_EVENTS + run_events():
        if not isinstance(event, StepEnded):
            continue
        mapping = {
            "index": event.index + 1,
            "kind": event.kind,
            "location": event.location,
            "status": event.status.value,
            "duration": event.duration,
            "conn": event.conn,
            "latency": event.latency,
            "latency_from_send": event.latency_from_send,
        }
        if math.isfinite(event.duration):
            assert _step_json(event) == reference_json(mapping)  # times to the nanosecond
