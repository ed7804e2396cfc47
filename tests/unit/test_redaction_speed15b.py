"""Issue 15, second round: the redaction in front of the bus drops an event nobody takes (frames
with -q) before looking at its texts (0.49 -> 0.17 us an event); what is taken is masked as
before. `EventBus.takes` says who takes a class, as `emit` routes it."""

from __future__ import annotations

from typing import Any

import pytest

import runner.report.redaction
from runner.events import ConnectionOpened, Event, EventBus, FrameSent, StepEnded
from runner.report.redaction import Redactor

URL = "ws://user:hunter2@example.test/"


def frame(data: str) -> FrameSent:
    return FrameSent(at=0.0, scenario=0, conn="default", data=data, wire_size=len(data))


class Taker:
    """A listener of the classes it names (``events``), keeping what it is given."""

    def __init__(self, *classes: type) -> None:
        self.events = classes
        self.seen: list[Event] = []

    def __call__(self, event: Event) -> None:
        self.seen.append(event)


class Routed:
    """A listener that routes by class (``handler_for``): it takes connection openings only."""

    def __init__(self) -> None:
        self.seen: list[Event] = []

    def handler_for(self, cls: type) -> Any:
        return self.seen.append if cls is ConnectionOpened else None

    def __call__(self, event: Event) -> None:  # the bus calls handlers, never this
        raise AssertionError("called directly")


def test_takes_follows_the_listeners_and_their_routes() -> None:
    bus = EventBus()
    assert not bus.takes(FrameSent)
    bus.subscribe(Taker(StepEnded))
    assert bus.takes(StepEnded) and not bus.takes(FrameSent)
    bus.subscribe(Routed())
    assert bus.takes(ConnectionOpened) and not bus.takes(FrameSent)
    bus.subscribe(Taker(FrameSent))  # a new listener: the routes are worked out again
    assert bus.takes(FrameSent)


def test_an_event_nobody_takes_is_not_looked_at(monkeypatch: pytest.MonkeyPatch) -> None:
    looked: list[object] = []
    real = runner.report.redaction._may_hold_userinfo

    def counted(value: Any) -> bool:
        looked.append(value)
        return real(value)

    monkeypatch.setattr(runner.report.redaction, "_may_hold_userinfo", counted)
    bus, opened = EventBus(), Routed()
    bus.subscribe(opened)
    emit = Redactor().emitter(bus.emit, bus.takes)
    emit(frame(URL))  # nobody takes frames: dropped before any look
    assert looked == []
    event = ConnectionOpened(at=0.0, scenario=0, conn="default", url=URL, status=101, protocol=None)
    emit(event)
    assert looked == [event]
    assert [e.url for e in opened.seen] == ["ws://user:***@example.test/"]  # type: ignore[attr-defined]


def test_without_takes_every_event_is_looked_at_and_masked() -> None:
    bus, frames = EventBus(), Taker(FrameSent)
    bus.subscribe(frames)
    Redactor().emitter(bus.emit)(frame(URL))
    Redactor().emitter(bus.emit, bus.takes)(frame(URL))
    assert [e.data for e in frames.seen] == ["ws://user:***@example.test/"] * 2  # type: ignore[attr-defined]
