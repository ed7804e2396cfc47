"""The event bus contains a failing listener: it is disabled, the others get every event."""

from __future__ import annotations

import threading

import pytest

from runner.events import Event, EventBus, FrameReceived, RunEnded, Status


def frame(n: int, scenario: int = 0) -> FrameReceived:
    return FrameReceived(at=float(n), scenario=scenario, conn="a", data=f"m{n}")


class Raises:
    """A listener that raises `error` on its `after`-th call (from 1), counting every call."""

    def __init__(self, after: int = 1, error: BaseException | None = None) -> None:
        self.after = after
        self.error = error or RuntimeError("reporter bug")
        self.calls = 0

    def __call__(self, event: Event) -> None:
        self.calls += 1
        if self.calls >= self.after:
            raise self.error


def test_a_listener_that_raises_is_disabled_and_the_others_get_every_event() -> None:
    bus = EventBus()
    before: list[Event] = []
    after: list[Event] = []
    raises = Raises(after=2)
    for listener in (before.append, raises, after.append):
        bus.subscribe(listener)
    events = [frame(n) for n in range(5)]
    for event in events:
        bus.emit(event)  # never raises
    assert before == events and after == events
    assert raises.calls == 2  # nothing after its failure
    [failure] = bus.failures
    assert failure.listener is raises and failure.event == events[1]
    assert failure.error is raises.error
    assert failure.traceback.startswith("Traceback (most recent call last):")
    assert failure.traceback.rstrip().endswith("RuntimeError: reporter bug")


def test_a_broken_pipe_and_a_system_exit_are_contained_too() -> None:
    bus = EventBus()
    seen: list[Event] = []
    pipe, exits = Raises(error=BrokenPipeError(32, "Broken pipe")), Raises(error=SystemExit(1))
    for listener in (pipe, exits, seen.append):
        bus.subscribe(listener)
    ended = RunEnded(at=1.0, status=Status.PASSED, duration=1.0)
    bus.emit(ended)
    assert seen == [ended]
    assert [type(f.error) for f in bus.failures] == [BrokenPipeError, SystemExit]


def test_ctrl_c_is_not_a_listener_failure() -> None:
    bus = EventBus()
    bus.subscribe(Raises(error=KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        bus.emit(frame(0))
    assert bus.failures == ()


def test_threads_emitting_at_once_lose_no_event_when_a_listener_fails() -> None:
    bus = EventBus()
    seen: list[Event] = []
    raises = Raises(after=50)
    bus.subscribe(raises)
    bus.subscribe(seen.append)
    threads = [
        threading.Thread(target=lambda s=s: [bus.emit(frame(n, s)) for n in range(500)])
        for s in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(seen) == 8 * 500 and raises.calls == 50
    assert len(bus.failures) == 1
    for s in range(8):  # each thread's events in the order it emitted them
        mine = [e for e in seen if isinstance(e, FrameReceived) and e.scenario == s]
        assert [e.at for e in mine] == [float(n) for n in range(500)]
