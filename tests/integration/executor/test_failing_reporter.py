"""A reporter that raises changes no verdict: real servers on loopback, the executor's own bus.

Every run here is compared with the same run without the failing reporter: same status, same
results, and the reporter that does not fail sees every event.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from runner.events import (
    ConnectionClosed,
    Event,
    EventBus,
    Failure,
    FrameReceived,
    RunEnded,
    ScenarioEnded,
    Status,
)
from runner.executor import RunOptions, run_suite
from runner.scenario import load_suite
from tests.support import echo, url_of, websockets_server

PASSES = """
name: passes
steps:
  - connect: {conn: a, url: "${url}"}
  - send: {conn: a, text: one}
  - expect: {conn: a, text: one}
  - send: {conn: a, json: {type: two}}
  - expect: {conn: a, json: {type: two}}
  - close: {conn: a, code: 1000}
"""

FAILS = """
name: fails
timeout: 300ms
steps:
  - connect: {conn: a, url: "${url}"}
  - send: {conn: a, json: {type: said, text: hi}}
  - expect: {conn: a, json: {type: said, text: hello}}
"""


class Raises:
    """A reporter that raises on the events `when` picks; it counts the events it was given."""

    def __init__(self, when: Callable[[Event], bool]) -> None:
        self.when = when
        self.calls = 0

    def __call__(self, event: Event) -> None:
        self.calls += 1
        if self.when(event):
            raise BrokenPipeError(32, "Broken pipe")


def on_first_message(event: Event) -> bool:
    return isinstance(event, FrameReceived)


def on_every_event(_event: Event) -> bool:
    return True


def run(
    folder: Path, url: str, *first: Callable[[Event], None], jobs: int = 1
) -> tuple[Status, list[Event], EventBus]:
    """Run every scenario in `folder`; `first` listeners come before the recording one."""
    suite = load_suite([str(folder)], {"url": url})
    events: list[Event] = []
    bus = EventBus()
    for listener in (*first, events.append):
        bus.subscribe(listener)
    return run_suite(suite, suite.scenarios, RunOptions(jobs=jobs), bus.emit), events, bus


def results(events: list[Event]) -> dict[str, tuple[object, ...]]:
    """Each scenario's result; of a failure, what the step found (its message holds a time)."""
    return {
        e.name: (e.status, e.steps_passed, found(e.failure))
        for e in events
        if isinstance(e, ScenarioEnded)
    }


def found(failure: Failure | None) -> tuple[object, ...] | None:
    if failure is None:
        return None
    return (failure.location, failure.expected, failure.closest, failure.reason, failure.traceback)


def kinds(events: list[Event]) -> Counter[str]:
    return Counter(e.type for e in events)


@pytest.mark.parametrize("when", [on_first_message, on_every_event])
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(PASSES, Status.PASSED, id="passes"),
        pytest.param(FAILS, Status.FAILED, id="fails"),
    ],
)
def test_a_raising_reporter_changes_no_verdict_and_the_others_get_every_event(
    tmp_path: Path, when: Callable[[Event], bool], text: str, expected: Status
) -> None:
    (tmp_path / "s.yaml").write_text(text, encoding="utf-8")
    raises = Raises(when)
    with websockets_server(echo) as server:
        clean_status, clean, _ = run(tmp_path, url_of(server))
        status, events, bus = run(tmp_path, url_of(server), raises)
    assert clean_status is expected and status is expected
    assert results(events) == results(clean)
    assert kinds(events) == kinds(clean)
    [failure] = bus.failures
    assert failure.listener is raises and when(failure.event)
    assert raises.calls == events.index(failure.event) + 1  # none after it failed
    assert "BrokenPipeError" in failure.traceback


def test_the_message_a_failing_reporter_saw_still_reaches_the_step(tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_text(FAILS, encoding="utf-8")
    with websockets_server(echo) as server:
        _, events, _ = run(tmp_path, url_of(server), Raises(on_first_message))
    [ended] = [e for e in events if isinstance(e, ScenarioEnded)]
    assert ended.failure is not None
    assert ended.failure.closest == '{"type":"said","text":"hi"}'  # it was in the inbox


def test_parallel_scenarios_lose_nothing_when_a_reporter_fails(tmp_path: Path) -> None:
    for i in range(8):
        text = PASSES.replace("name: passes", f"name: passes {i}")
        (tmp_path / f"s{i}.yaml").write_text(text, encoding="utf-8")
    with websockets_server(echo) as server:
        status, events, bus = run(tmp_path, url_of(server), Raises(on_first_message), jobs=4)
    assert status is Status.PASSED
    assert [s for s, _, _ in results(events).values()] == [Status.PASSED] * 8
    assert kinds(events)["frame_received"] == 8 * 2
    assert len(bus.failures) == 1


def test_a_reporter_that_raises_on_run_ended_changes_nothing(tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_text(PASSES, encoding="utf-8")
    with websockets_server(echo) as server:
        status, events, bus = run(
            tmp_path, url_of(server), Raises(lambda e: isinstance(e, RunEnded))
        )
    assert status is Status.PASSED and isinstance(events[-1], RunEnded)
    [failure] = bus.failures
    assert isinstance(failure.event, RunEnded)


def test_an_emitter_that_raises_loses_no_message_and_no_close(tmp_path: Path) -> None:
    """Without a bus: the connection records what the steps read even when emitting raised."""
    (tmp_path / "s.yaml").write_text(PASSES, encoding="utf-8")
    seen: list[Event] = []

    def emit(event: Event) -> None:
        seen.append(event)
        if isinstance(event, FrameReceived | ConnectionClosed):
            raise RuntimeError("emitter bug")

    with websockets_server(echo) as server:
        suite = load_suite([str(tmp_path)], {"url": url_of(server)})
        status = run_suite(suite, suite.scenarios, RunOptions(), emit)
    assert status is Status.PASSED, results(seen)
    assert kinds(seen)["frame_received"] == 2 and kinds(seen)["connection_closed"] == 1
