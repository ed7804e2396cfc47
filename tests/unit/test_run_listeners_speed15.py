"""The CLI's own listeners (the Ctrl-C watch, the --last-failed recorder) take only the events
they read: with `-q` and no report, nobody takes a frame, so the bus drops frames unrouted."""

from __future__ import annotations

from runner.cli import _Interrupts, _StopWatch
from runner.events import EventBus, FrameSent, ScenarioEnded, Status, StepStarted
from runner.last_failed import LastFailedRecorder


class _CountingWatch(_StopWatch):
    def __init__(self, interrupts: _Interrupts, scenarios: int) -> None:
        super().__init__(interrupts, scenarios)
        self.seen: list[str] = []

    def __call__(self, event: object) -> None:
        self.seen.append(type(event).__name__)
        super().__call__(event)


class _CountingRecorder(LastFailedRecorder):
    def __init__(self) -> None:
        super().__init__([])
        self.seen: list[str] = []

    def __call__(self, event: object) -> None:
        self.seen.append(type(event).__name__)
        super().__call__(event)  # type: ignore[arg-type]


def _ended() -> ScenarioEnded:
    return ScenarioEnded(
        at=0.0,
        scenario=0,
        name="s",
        status=Status.PASSED,
        duration=0.0,
        steps_passed=1,
        steps_total=1,
    )


def test_frames_and_step_starts_do_not_reach_the_cli_listeners() -> None:
    interrupts = _Interrupts()
    watch = _CountingWatch(interrupts, scenarios=1)
    recorder = _CountingRecorder()
    bus = EventBus()
    bus.subscribe(watch)
    bus.subscribe(recorder)
    bus.emit(FrameSent(at=0.0, scenario=0, conn="default", data="hi"))
    bus.emit(StepStarted(at=0.0, scenario=0, index=1, kind="send", location="f:1:1", summary=""))
    bus.emit(_ended())
    assert watch.seen == ["ScenarioEnded"]
    assert recorder.seen == ["ScenarioEnded"]
    assert interrupts.shielded  # every scenario ended: the run winds up


def test_the_watch_still_shields_a_stopping_run_after_ctrl_c() -> None:
    interrupts = _Interrupts()
    interrupts.count = 1
    bus = EventBus()
    bus.subscribe(interrupts.watch(scenarios=5))
    bus.emit(_ended())
    assert not interrupts.shielded  # one of five ended, passed: not stopping yet
    bus.emit(
        ScenarioEnded(
            at=0.0,
            scenario=0,
            name="s",
            status=Status.INTERRUPTED,
            duration=0.0,
            steps_passed=0,
            steps_total=1,
        )
    )
    assert interrupts.shielded  # a scenario ended interrupted: the run stops
