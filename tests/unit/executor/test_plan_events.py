"""The run phase's hot path: step plans, events built by a quick ``__init__``, a bus that gives
each listener only the event classes it takes, and a quiet console that keeps no steps."""

from __future__ import annotations

import dataclasses
import tracemalloc
from io import StringIO
from pathlib import Path

import pytest
from rich.console import Console

from runner.events import (
    ConnectionClosed,
    Event,
    EventBus,
    FrameReceived,
    FrameSent,
    RunEnded,
    ScenarioEnded,
    Status,
    StepEnded,
    StepStarted,
    TranscriptEntry,
)
from runner.executor.scenario_run import StepPlan
from runner.report.console import NORMAL, QUIET, ConsoleReporter
from runner.scenario import load_suite


def _frame(at: float = 0.0) -> FrameSent:
    return FrameSent(at=at, scenario=0, conn="c", data="x")


def _step(at: float = 0.0, latency: float | None = 0.002) -> StepEnded:
    return StepEnded(
        at=at,
        scenario=0,
        index=1,
        kind="expect",
        location="a.yaml:3:5",
        status=Status.PASSED,
        duration=0.002,
        conn="c",
        latency=latency,
        latency_from_send=latency,
    )


class _Counter:
    """A listener that counts what it is given; `events` set: only those classes."""

    def __init__(self, events: frozenset[type[Event]] | None = None) -> None:
        self.seen: list[Event] = []
        if events is not None:
            self.events = events

    def __call__(self, event: Event) -> None:
        self.seen.append(event)


def test_the_bus_gives_a_listener_only_the_event_classes_it_takes() -> None:
    bus, picky, everything = EventBus(), _Counter(frozenset({StepEnded})), _Counter()
    bus.subscribe(picky)
    bus.subscribe(everything)
    events: list[Event] = [_frame(), _step(), _frame(), _step()]
    for event in events:
        bus.emit(event)
    assert picky.seen == [events[1], events[3]]
    assert everything.seen == events
    late = _Counter(frozenset({FrameSent}))
    bus.subscribe(late)  # the routes are worked out again for a new listener
    bus.emit(events[0])
    assert late.seen == [events[0]] and len(picky.seen) == 2


def test_a_disabled_listener_leaves_the_routes_of_the_others() -> None:
    bus, after = EventBus(), _Counter(frozenset({FrameSent}))

    def broken(event: Event) -> None:
        raise RuntimeError("broken")

    bus.subscribe(broken)
    bus.subscribe(after)
    bus.emit(_frame(1.0))
    bus.emit(_frame(2.0))
    assert [f.listener for f in bus.failures] == [broken]
    assert [e.at for e in after.seen] == [1.0, 2.0]


def test_the_quiet_console_is_not_given_what_only_its_live_log_shows() -> None:
    console = Console(file=StringIO(), color_system=None)
    quiet, normal = ConsoleReporter(console, QUIET), ConsoleReporter(console, NORMAL)
    assert FrameSent not in quiet.events and FrameReceived not in quiet.events
    for needed in (StepEnded, ScenarioEnded, ConnectionClosed, RunEnded):
        assert needed in quiet.events  # the summary, failures and compression figures
    assert {FrameSent, FrameReceived} <= normal.events


def test_the_console_keeps_latencies_not_every_step() -> None:
    """50,000 expects: the quiet console keeps their latencies in bounded memory (exact up to
    20,000, then a histogram), not their events (it kept every StepEnded twice over, ~13 MiB
    here), and says the figures, marked as estimates (within 0.4%)."""
    out = StringIO()
    reporter = ConsoleReporter(Console(file=out, color_system=None, width=200), QUIET)
    tracemalloc.start()
    try:
        for i in range(50_000):
            reporter(_step(i / 1000, latency=(i % 100 + 1) / 1000))
        grown, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert grown < 256 * 1024, f"{grown:,} bytes kept for 50,000 steps"  # arrays: 800 KiB
    reporter(RunEnded(at=60.0, status=Status.PASSED, duration=60.0, counts={"passed": 1}))
    text = out.getvalue()
    # exact: median 50.5 ms, p95 96.0 ms
    assert "from step start: n=50000  min 1.0 ms · median ≈50.4 ms · p95 ≈95.9 ms" in text
    assert "max 100.0 ms  (≈: from a histogram, within 0.4%)" in text
    assert "from last send:  n=50000" in text


HOT = (TranscriptEntry, StepStarted, StepEnded, FrameSent, FrameReceived)


@pytest.mark.parametrize("cls", HOT, ids=lambda c: c.__name__)
def test_the_quick_init_is_the_dataclass_init(cls: type) -> None:
    """Same parameters, defaults, result and refusals as the one `dataclasses` writes."""
    fields = dataclasses.fields(cls)
    values = {f.name: f"v{n}" for n, f in enumerate(fields)}
    made = cls(**values)
    assert {f.name: getattr(made, f.name) for f in fields} == values
    required = [f.name for f in fields if f.default is dataclasses.MISSING]
    least = cls(**{name: values[name] for name in required})
    for f in fields:
        if f.default is not dataclasses.MISSING:
            assert getattr(least, f.name) == f.default
    assert dataclasses.replace(made) == made and hash(made) == hash(dataclasses.replace(made))
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.at = 1.0
    with pytest.raises(TypeError):
        cls(**{name: values[name] for name in required[1:]})
    if all(f.kw_only for f in fields):
        with pytest.raises(TypeError):
            cls(*values.values())


def test_a_plan_is_what_the_events_of_its_step_say(tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_text(
        "name: s\nsteps:\n"
        "  - connect: {url: 'ws://127.0.0.1:9/', conn: bob}\n"
        "  - send: {text: hi, conn: bob}\n"
        "  - sleep: 1ms\n",
        encoding="utf-8",
    )
    steps = load_suite([str(tmp_path)], {}).scenarios[0].steps
    plans = [StepPlan.of(step) for step in steps]
    assert [p.summary for p in plans] == ["connect bob", "send bob", "sleep"]
    assert [p.location for p in plans] == [str(step.location) for step in steps]
    assert [p.runner.inline for p in plans] == [False, True, False]
    assert plans[1].conn == "bob" and plans[2].conn is None
