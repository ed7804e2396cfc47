"""Issue 15, the JSON report's cost in the run phase: report_version 3 writes the events' times
to the nanosecond (``%.9f``, not the float's 17-digit repr), and a spill encodes the usual step
ends and text frames in its own loop, with no Python call an event; the report's text is what
the classes' encoders write, and `wsrun report` still reads versions 1 and 2."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

from runner.events import (
    Failure,
    FrameReceived,
    FrameSent,
    ScenarioEnded,
    Status,
    StepEnded,
    Unexpected,
)
from runner.report import json_report
from runner.report.json_report import (
    REPORT_VERSION,
    SPOOLED,
    JsonReporter,
    _step_json,
    event_json,
)
from runner.report.payloads import MAX_REPORT_PAYLOAD
from tests.unit.test_report_render import run_events


def _step(index: int, **fields: Any) -> StepEnded:
    values: dict[str, Any] = {
        "at": 1.25 + index / 3,
        "scenario": 0,
        "index": index,
        "kind": "expect",
        "location": f"a.yaml:{index + 3}:5",
        "status": Status.PASSED,
        "duration": 0.1 + 0.2,
        "conn": "default",
        "latency": 1 / 3,
        "latency_from_send": 2 / 7,
        "started": 1.0 + index / 3,
        "summary": "expect default",
    }
    values.update(fields)
    return StepEnded(**values)


def _hot(reporter: JsonReporter, event: Any) -> None:
    """`event` given as the bus gives it (through the handler of its class)."""
    handler = reporter.handler_for(event.__class__)
    assert handler is not None
    handler(event)


def test_the_version_is_3_and_times_are_written_to_the_nanosecond(tmp_path: Path) -> None:
    reporter = JsonReporter(tmp_path / "r.json")
    _hot(reporter, _step(0))
    _hot(reporter, FrameSent(at=0.1 + 0.2, scenario=0, conn="c", data="m", wire_size=1))
    reporter.close()
    text = (tmp_path / "r.json").read_text(encoding="utf-8")
    assert REPORT_VERSION == 3 and '"report_version": 3' in text
    assert (
        '"duration": 0.300000000, "conn": "default", "latency": 0.333333333, '
        '"latency_from_send": 0.285714286, "note": null, "started": 1.000000000'
    ) in text
    assert '{"type": "frame_sent", "at": 0.300000000, "scenario": 0' in text
    assert "0.30000000000000004" not in text  # the float's repr, as version 2 wrote it
    step = json.loads(text)["events"][0]
    assert step["duration"] == 0.3 and step["index"] == 1


def test_a_failures_messages_name_their_frames_times(tmp_path: Path) -> None:
    """Nested times (a failure's transcript, unexpected messages) are rounded alike, so that a
    reader finds the frame they name by its time, as the HTML report's timeline does."""
    at = 0.1 + 0.2 + 1e-12
    reporter = JsonReporter(tmp_path / "r.json")
    _hot(reporter, FrameReceived(at=at, scenario=0, conn="c", data="late", wire_size=4))
    reporter(
        ScenarioEnded(
            at=1.0,
            scenario=0,
            name="n",
            status=Status.FAILED,
            duration=1.0,
            steps_passed=0,
            steps_total=1,
            failure=Failure("m", step=0),
            unexpected=(Unexpected(at=at, conn="c", data="late"),),
        )
    )
    reporter.close()
    report = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    frame = report["events"][0]
    assert report["scenarios"][0]["unexpected"][0]["at"] == frame["at"] == 0.3
    assert report["events"][1]["unexpected"][0]["at"] == frame["at"]


class _Calls:
    """Counts the Python functions called while it is on (`sys.setprofile`), by name."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def __call__(self, frame: FrameType, event: str, arg: object) -> None:
        if event == "call":
            self.names.append(f"{Path(frame.f_code.co_filename).name}:{frame.f_code.co_name}")


def test_a_spill_makes_no_python_call_an_event(tmp_path: Path) -> None:
    """256 steps' ends and frames of the usual shape: the spill writes their lines in its own
    loop (the latencies too). Version 2 called
    the class's encoder for every event, and two functions more for every step."""
    reporter = JsonReporter(tmp_path / "r.json")
    for i in range(SPOOLED - 1):  # the first spill makes the spool
        _hot(reporter, FrameSent(at=i / 10, scenario=0, conn="c", data=f"m{i}", wire_size=2))
    _hot(reporter, FrameSent(at=0.5, scenario=0, conn="c", data="m", wire_size=None))
    assert not reporter._pending
    events: list[Any] = []
    for i in range(SPOOLED // 4):
        events += [
            FrameSent(at=i + 0.1, scenario=0, conn="c", data=f"s{i}", wire_size=2),
            _step(2 * i, kind="send", latency=None, latency_from_send=None),
            FrameReceived(at=i + 0.2, scenario=0, conn="c", data=f"s{i}", wire_size=2),
            _step(2 * i + 1, latency=0.001 * i, latency_from_send=None if i % 2 else 0.002),
        ]
    reporter._pending.extend(events)
    calls = _Calls()
    sys.setprofile(calls)
    try:
        reporter._spill()
    finally:
        sys.setprofile(None)
    # _spill, _encoded_pending, and the latencies' `settle` (two): no call an event, not even
    # for the latencies (taken by their arrays' append, not a recorder's `add`, helper J)
    assert "text.py:add" not in calls.names
    assert len(calls.names) <= 4, calls.names
    reporter.close()
    report = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert report["events"][SPOOLED:] == [json.loads(event_json(e)) for e in events]


ODD_SHAPES: list[Any] = [
    _step(0),
    _step(1, latency=None, latency_from_send=None, conn=None),
    _step(2, latency_from_send=None, note="optional: ✓", summary='say "hi"\n'),
    _step(3, latency=None, latency_from_send=0.5),  # from_send without latency: the class's way
    _step(4, duration=math.inf, latency=math.nan),
    _step(5, duration=3, latency=True, started=None),  # an int, a bool: as json writes them
    _step(6, at=-0.0, duration=1e-12, latency=1e300, status=Status.FAILED, kind="k\x00"),
    FrameSent(at=0.5, scenario=1, conn='c"', data='héllo "q" \\ \n\t\x00 ✓', wire_size=None),
    FrameReceived(at=1e-9, scenario=0, conn="c", data=b"\x00\xff binary", wire_size=10),
    FrameReceived(at=2.0, scenario=0, conn="c", data="x" * (MAX_REPORT_PAYLOAD + 1)),
    FrameReceived(at=2.0, scenario=0, conn="c", data="x" * MAX_REPORT_PAYLOAD),
    FrameSent(at=3.0, scenario=0, conn="c", data="{}", envelopes=[{"a": [1.5, None]}]),
    FrameReceived(at=4.0, scenario=0, conn="c", data="2", heartbeat=True, envelopes=[]),
    FrameReceived(at=math.inf, scenario=0, conn="c", data="x", wire_size=1),
    FrameSent(at=5, scenario=0, conn="c", data="int time", wire_size=True),
]


@pytest.mark.parametrize("copied", [3, 1 << 20])
def test_the_spills_lines_are_the_class_encoders_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, copied: int
) -> None:
    """Every shape, usual or not, in one batch: each line is what `event_json` (the class's
    encoder) writes, each step's entry what `_step_json` writes; the file is the same with a
    redaction that masks nothing as with none, however the spool is cut into pieces."""
    monkeypatch.setattr(json_report, "COPIED", copied)
    texts = []
    for name, redact in (("plain.json", None), ("redacted.json", lambda text: text)):
        reporter = JsonReporter(tmp_path / name, redact)
        for event in ODD_SHAPES:
            _hot(reporter, event)
        reporter.close()
        texts.append((tmp_path / name).read_text(encoding="utf-8"))
        expected = [e for e in ODD_SHAPES if isinstance(e, StepEnded)]
        assert reporter._steps[0] == [_step_json(e) for e in expected]
    assert texts[0] == texts[1]
    events = texts[0][texts[0].index('"events": [\n  ') + len('"events": [\n  ') :]
    assert events.endswith("\n ]\n}\n")
    assert events[: -len("\n ]\n}\n")].split(",\n  ") == [event_json(e) for e in ODD_SHAPES]


def test_wsrun_report_reads_versions_2_and_3_alike(tmp_path: Path) -> None:
    from runner.report.html_report import READABLE_VERSIONS, load_json_report, render_html

    reporter = JsonReporter(tmp_path / "v3.json")
    for event in run_events():
        reporter(event)
    reporter.close()
    new = load_json_report(tmp_path / "v3.json")
    (tmp_path / "v2.json").write_text(json.dumps(dict(new, report_version=2)), encoding="utf-8")
    page = render_html(load_json_report(tmp_path / "v2.json"))
    assert READABLE_VERSIONS == (1, 2, 3)
    assert page.replace("report_version 2", "report_version 3") == render_html(new)
