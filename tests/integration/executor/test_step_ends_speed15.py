"""Issue 15: each StepEnded carries its step's start and summary (the JSON report's step_ended
line stands for both events): the same `at` and `summary` as its StepStarted, for the steps
of a loop, the loop itself and a failing step inside it."""

from __future__ import annotations

from pathlib import Path

from runner.events import Event, Status, StepEnded, StepStarted
from tests.integration.executor.test_executor import run
from tests.support import echo, url_of, websockets_server

LOOPS = """
name: loops
steps:
  - connect: "${url}"
  - repeat:
      count: 3
      as: i
      steps:
        - send: "m${i}"
        - expect: {text: "m${i}", next: true}
        - repeat:
            count: 2
            steps:
              - send: inner
              - expect: {text: inner, timeout: 0.05s}
  - repeat:
      count: 2
      as: j
      steps:
        - send: "n${j}"
        - expect: {text: "never", timeout: 0.05s}
"""


def _pairs(events: list[Event]) -> list[tuple[StepStarted, StepEnded]]:
    """Each StepEnded with the StepStarted it ends (starts and ends nest, as loops do)."""
    open_steps: list[StepStarted] = []
    pairs = []
    for event in events:
        if isinstance(event, StepStarted):
            open_steps.append(event)
        elif isinstance(event, StepEnded):
            pairs.append((open_steps.pop(), event))
    assert open_steps == []
    return pairs


def test_every_step_end_says_when_its_step_started_and_its_summary(tmp_path: Path) -> None:
    with websockets_server(echo) as server:
        status, events = run(tmp_path, {"loops.yaml": LOOPS}, {"url": url_of(server)})
    assert status is Status.FAILED
    pairs = _pairs(events)
    assert len(pairs) == 1 + (1 + 3 * (2 + 1 + 4)) + (1 + 2)  # connect, loop 1, loop 2's steps
    for started, ended in pairs:
        assert (ended.index, ended.kind, ended.location) == (
            started.index,
            started.kind,
            started.location,
        )
        assert ended.started == started.at and ended.summary == started.summary
        assert ended.started <= ended.at
    summaries = {ended.summary for _, ended in pairs}
    assert "send default (repeat iteration 2 of 3, repeat iteration 1 of 2)" in summaries
    failed = [ended for _, ended in pairs if ended.status is Status.FAILED]
    assert [(e.kind, e.summary) for e in failed] == [
        ("expect", "expect default (repeat iteration 1 of 2)"),
        ("repeat", "repeat"),
    ]
