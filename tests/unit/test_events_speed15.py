"""Issue 15: the bus hands each event class to the callable a listener's `handler_for` gives,
and the reporters that use it write and count exactly what they did through `__call__`."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

from rich.console import Console

from runner.events import (
    Event,
    EventBus,
    FrameReceived,
    FrameSent,
    RunEnded,
    Status,
    StepEnded,
    StepStarted,
)
from runner.report.console import QUIET, ConsoleReporter
from runner.report.json_report import JsonReporter, event_json
from runner.report.payloads import PayloadWriter
from tests.unit.json_lines_speed16b import reference_line
from tests.unit.test_json_report_streaming import ODD_EVENTS
from tests.unit.test_report_render import run_events

STARTS = ("at", "scenario", "index", "kind", "location")


class ByClass:
    """A listener whose `handler_for` takes frames in a list of their own, and nothing else;
    its `__call__` must never be used."""

    def __init__(self) -> None:
        self.frames: list[Event] = []
        self.asked: list[type] = []

    def __call__(self, event: Event) -> None:
        raise AssertionError("the bus called the listener, not its handler")

    def handler_for(self, cls: type) -> object:
        self.asked.append(cls)
        return self.frames.append if cls in (FrameSent, FrameReceived) else None


def test_the_bus_calls_the_handler_a_listener_gives_for_each_class_once_asked() -> None:
    bus, listener, seen = EventBus(), ByClass(), []
    bus.subscribe(listener)
    bus.subscribe(seen.append)
    sent = FrameSent(at=1.0, scenario=0, conn="c", data="a")
    ended = RunEnded(at=2.0, status=Status.PASSED, duration=2.0)
    received = FrameReceived(at=3.0, scenario=0, conn="c", data="b")
    for event in (sent, ended, received, sent, ended):
        bus.emit(event)
    assert listener.frames == [sent, received, sent]
    assert seen == [sent, ended, received, sent, ended]
    assert listener.asked == [FrameSent, RunEnded, FrameReceived]  # once per class
    assert bus.failures == ()


def test_a_handler_that_raises_disables_its_listener_by_name() -> None:
    bus, listener = EventBus(), ByClass()

    def broken(event: Event) -> None:
        raise RuntimeError("handler bug")

    listener.handler_for = lambda cls: broken  # type: ignore[method-assign]
    bus.subscribe(listener)
    first = FrameSent(at=1.0, scenario=0, conn="c", data="a")
    bus.emit(first)
    bus.emit(FrameSent(at=2.0, scenario=0, conn="c", data="b"))
    [failure] = bus.failures
    assert failure.listener is listener and failure.event is first
    assert str(failure.error) == "handler bug"


def test_a_heartbeat_frame_line_is_what_json_dumps_writes() -> None:
    beat = FrameReceived(at=0.5, scenario=0, conn="c", data="2", heartbeat=True, envelopes=[])
    expected = reference_line(beat)  # report_version 3: times to the nanosecond
    assert event_json(beat, PayloadWriter()) == expected
    assert '"heartbeat": true' in expected


def test_the_json_report_through_the_bus_is_the_one_its_call_writes(tmp_path: Path) -> None:
    """The per-class handlers (steps and frames) write the same report, byte for byte, as the
    reporter's `__call__` does for the same events."""
    events = run_events() + [e for e in ODD_EVENTS if not isinstance(e, StepEnded)]
    direct = JsonReporter(tmp_path / "direct.json")
    for event in events:
        direct(event)
    direct.close()
    bus, routed = EventBus(), JsonReporter(tmp_path / "routed.json")
    bus.subscribe(routed)
    for event in events:
        bus.emit(event)
    routed.close()
    assert bus.failures == ()
    written = (tmp_path / "routed.json").read_bytes()
    assert written == (tmp_path / "direct.json").read_bytes()
    report = json.loads(written)
    started = [e for e in events if isinstance(e, StepStarted)]
    assert started  # none has a line: each step's is in its step_ended line
    assert len(report["events"]) == len(events) - len(started)
    assert "step_started" not in {e["type"] for e in report["events"]}
    assert report["scenarios"] and report["scenarios"][0]["steps"]  # the steps were kept


def test_the_quiet_console_takes_step_ends_through_its_handler_and_no_frame() -> None:
    console = ConsoleReporter(Console(file=StringIO(), color_system=None), QUIET)
    assert console.handler_for(FrameSent) is None
    assert console.handler_for(FrameReceived) is None
    handler = console.handler_for(StepEnded)
    assert handler is not None
    handler(
        StepEnded(
            at=1.0,
            scenario=0,
            index=0,
            kind="expect",
            location="a:1:1",
            status=Status.PASSED,
            duration=0.5,
            conn="c",
            latency=0.25,
        )
    )
    assert console._latencies.count == 1


def test_wsrun_report_renders_a_version_1_report_like_its_version_2(tmp_path: Path) -> None:
    """A report of the version before (a step_started line per step) still renders, to the
    same page as the same run's version 2 report but for the version it names."""
    from runner.report.html_report import load_json_report, render_html

    reporter = JsonReporter(tmp_path / "v2.json")
    events = run_events()
    for event in events:
        reporter(event)
    reporter.close()
    new = load_json_report(tmp_path / "v2.json")
    assert new["report_version"] == 3  # and version 3 (times to the nanosecond) alike
    old = dict(new, report_version=1)
    starts = [
        json.loads(event_json(StepStarted(**{k: getattr(e, k) for k in STARTS}, summary="s")))
        for e in events
        if isinstance(e, StepEnded)
    ]
    assert starts
    old["events"] = starts + list(new["events"])  # what version 1 had more: those lines
    (tmp_path / "v1.json").write_text(json.dumps(old), encoding="utf-8")
    page = render_html(load_json_report(tmp_path / "v1.json"))
    assert page.replace("report_version 1", "report_version 3") == render_html(new)


def test_batched_lines_keep_the_events_order_and_every_step(tmp_path: Path) -> None:
    """Hot events wait to be encoded in batches, other events' lines are made at once: the
    file still has every event in the order it came, across spills, and every step's entry
    and latency, also when the report closes with a batch pending."""
    from runner.report.json_report import SPOOLED

    events: list[Event] = []
    for n in range(SPOOLED * 2 + 7):
        events.append(FrameSent(at=float(n), scenario=0, conn="c", data=f"m{n}"))
        if n % 50 == 0:  # a line made at once, between batched ones
            events.append(RunEnded(at=float(n), status=Status.PASSED, duration=float(n)))
        events.append(
            StepEnded(
                at=float(n),
                scenario=0,
                index=n,
                kind="expect",
                location="a:1:1",
                status=Status.PASSED,
                duration=0.5,
                conn="c",
                latency=0.25,
                started=n - 0.5,
                summary="expect c",
            )
        )
    bus, reporter = EventBus(), JsonReporter(tmp_path / "r.json")
    bus.subscribe(reporter)
    for event in events:
        bus.emit(event)
    mid = reporter.report()
    reporter.close()
    report = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    expected = [json.loads(event_json(e)) for e in events]
    assert report["events"] == expected == mid["events"]
    assert report["latency"]["from_step_start"]["count"] == SPOOLED * 2 + 7
