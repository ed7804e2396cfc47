"""The events a worker process sends (`runner.executor.processes`) come back equal, nested
dataclasses included, through its faster pickling of dataclasses."""

from __future__ import annotations

import pickle

from runner.events import (
    Failure,
    FrameSent,
    RunStarted,
    ScenarioEnded,
    Status,
    StepEnded,
    TranscriptEntry,
    Unexpected,
)
from runner.executor.processes import _dumps


def test_events_come_back_equal_through_the_workers_pickling() -> None:
    failure = Failure(
        message="no match",
        location="a.yaml:3:5",
        step=2,
        recent=(TranscriptEntry(at=0.5, conn="c", event="received", data=b"\x00\xff"),),
    )
    events = [
        RunStarted(
            at=0.0, started_at="2026-12-01T19:00:00.000+00:00", scenarios=2, jobs=2, version="0"
        ),
        FrameSent(at=0.1, scenario=1, conn="c", data="hé", wire_size=3, envelopes=[{"a": [1]}]),
        StepEnded(
            at=0.2,
            scenario=1,
            index=2,
            kind="expect",
            location="a.yaml:3:5",
            status=Status.FAILED,
            duration=0.1,
            conn="c",
            latency=None,
        ),
        ScenarioEnded(
            at=0.3,
            scenario=1,
            name="s",
            status=Status.FAILED,
            duration=0.3,
            steps_passed=1,
            steps_total=2,
            failure=failure,
            unexpected=(Unexpected(at=0.25, conn="c", data="x"),),
        ),
    ]
    data = _dumps(events)
    assert pickle.loads(data) == events
    assert [type(e) for e in pickle.loads(data)] == [type(e) for e in events]
    # As fast as it is, it is still pickle: the default pickling reads it back the same.
    assert pickle.loads(pickle.dumps(events)) == pickle.loads(data)
