"""One emit path per event: a scenario's events go to the run's sink with nothing on the way
unless something needs to see them (a paced start, a suite's services), the bus returns at
once for an event nobody takes, and the redactor with no secret passes an event on after one
look at its texts."""

from __future__ import annotations

import dataclasses
import sys
import threading
from pathlib import Path

import pytest

from runner.events import (
    ConnectionOpened,
    Event,
    EventBus,
    FrameReceived,
    FrameSent,
    Status,
    StepEnded,
    StepStarted,
)
from runner.executor import RunOptions, run_suite
from runner.report import redaction
from runner.report.redaction import Redactor
from runner.scenario import load_suite
from tests.support import echo, url_of, websockets_server


def test_a_scenarios_events_reach_the_sink_from_the_step_itself(tmp_path: Path) -> None:
    """Unpaced and with no services, the run's sink is called by the scenario runner's own
    code (it went through a closure of the suite's run first, which checked every event's
    class and raised and caught an IndexError for each step's end)."""
    (tmp_path / "s.yaml").write_text(
        'name: s\nsteps:\n  - connect: {url: "${url}"}\n  - send: hi\n  - expect: {text: hi}\n',
        encoding="utf-8",
    )
    callers: dict[str, set[str]] = {}

    def sink(event: Event) -> None:
        callers.setdefault(type(event).__name__, set()).add(sys._getframe(1).f_code.co_name)

    with websockets_server(echo) as server:
        suite = load_suite([str(tmp_path)], {"url": url_of(server)})
        status = run_suite(suite, suite.scenarios, RunOptions(), sink)
    assert status is Status.PASSED
    assert callers["StepStarted"] == {"_begin"}
    assert callers["StepEnded"] == {"_passed"}
    assert "emit" not in set().union(*callers.values())


def test_an_event_nobody_takes_does_not_wait_for_the_bus(tmp_path: Path) -> None:
    """With no listener for frames (the console with -q), emitting one returns at once: it
    does not take the bus's lock, which another thread holds here."""
    bus = EventBus()
    seen: list[Event] = []

    class Steps:
        events = frozenset({StepStarted})

        def __call__(self, event: Event) -> None:
            seen.append(event)

    bus.subscribe(Steps())
    bus.emit(FrameSent(at=0.0, scenario=0, conn="c", data="x"))  # its route: nobody
    done = threading.Event()
    with bus._lock:
        thread = threading.Thread(
            target=lambda: (bus.emit(FrameSent(at=1.0, scenario=0, conn="c", data="y")), done.set())
        )
        thread.start()
        assert done.wait(5), "the emit of a frame nobody takes waited for the lock"
    thread.join()
    bus.emit(StepStarted(at=0.0, scenario=0, index=0, kind="send", location="a:1:1", summary="s"))
    assert [type(e) for e in seen] == [StepStarted]


PLAIN: list[Event] = [
    StepStarted(at=0.0, scenario=0, index=0, kind="send", location="a:1:1", summary="send"),
    StepEnded(
        at=0.0, scenario=0, index=0, kind="send", location="a:1:1", status=Status.PASSED,
        duration=0.1, conn="default",
    ),
    FrameSent(at=0.0, scenario=0, conn="default", data="hello", wire_size=7),
    FrameReceived(at=0.0, scenario=0, conn="default", data=b"\x00bin", wire_size=6),
]  # fmt: skip


def test_with_no_secret_a_plain_event_is_passed_on_after_one_look(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No secret and no "@" in its texts: the event itself is passed on, and the generic walk
    (`_redact`, a dozen calls an event) is not made at all."""
    walks: list[object] = []
    walk = redaction._redact
    monkeypatch.setattr(redaction, "_redact", lambda r, v: walks.append(v) or walk(r, v))
    passed: list[Event] = []
    emit = Redactor().emitter(passed.append)
    for event in PLAIN:
        emit(event)
    assert all(a is b for a, b in zip(passed, PLAIN, strict=True))
    assert walks == []


MASKED: list[tuple[Event, str]] = [
    (ConnectionOpened(at=0.0, scenario=0, conn="c", url="ws://u:pw@h/", status=101), "url"),
    (StepStarted(at=0, scenario=0, index=0, kind="k", location="l", summary="ws://u:pw@h/"),
     "summary"),
    (FrameSent(at=0.0, scenario=0, conn="c", data="go to ws://u:pw@h/"), "data"),
]  # fmt: skip


@pytest.mark.parametrize("event,field", MASKED, ids=lambda v: type(v).__name__)
def test_with_no_secret_a_url_password_is_still_masked(event: Event, field: str) -> None:
    passed: list[Event] = []
    Redactor().emitter(passed.append)(event)
    assert getattr(passed[0], field).count("u:***@h") == 1
    assert dataclasses.replace(passed[0], **{field: getattr(event, field)}) == event


def test_a_secret_added_during_the_run_is_masked_from_then_on() -> None:
    redactor, passed = Redactor(), []
    emit = redactor.emitter(passed.append)
    frame = FrameSent(at=0.0, scenario=0, conn="c", data="key abcdef")
    emit(frame)
    redactor.add("abcdef")  # a ${env.X} read at run time
    emit(frame)
    assert [e.data for e in passed] == ["key abcdef", "key ***"]  # type: ignore[attr-defined]
