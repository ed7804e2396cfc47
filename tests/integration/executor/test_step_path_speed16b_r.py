"""Issue 15, round 16b (helper R): the run phase's own work per send/expect pair, cut again.

A pair cost the runner 27 Python calls of its own after round 16a (`test_step_path_speed16a`,
whose bound is now 20), and 3,673 bytecodes in all (every thread, the client core and the
reporters included, counted with opcode tracing), of which:
- a text-only expect's matcher was compiled at its first run, each expect of a long scenario
  once: 158 bytecodes a pair, for a matcher that an equal text never calls. It is compiled now
  only when a run needs it (a message not equal to its text, a failure to describe), once;
- each step's plan was made in a call of its own, and the look for templates in it in another,
  with the walk's prologue: the plans of a list are made in one call as it starts;
- a passed step's `StepEnded` was made with its 13 fields as keywords: a dict built by the call
  and taken apart again by ``__init__``, two a pair. It is made from positional fields now;
- each message sent and received made a `TranscriptEntry` (each of its five fields set through
  its slot's descriptor, about 700 instructions a field): a connection keeps their fields now,
  and makes the entries only when a failure shows them.
"""

from __future__ import annotations

import dataclasses
import sys
import threading
import types
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from websockets.sync.server import ServerConnection

from runner.events import Status, StepEnded, TranscriptEntry, _step_ended
from runner.executor.clock import Clock, Deadline
from runner.executor.context import ScenarioContext
from tests.integration.executor.test_executor import run
from tests.support import echo, url_of, websockets_server


@contextmanager
def _calls() -> Iterator[Counter[str]]:
    """The Python calls made while inside, on every thread, by qualified name (the code made
    by `exec` for the events, by its function's)."""
    counts: Counter[str] = Counter()
    made = {
        StepEnded.__init__.__code__: "StepEnded.__init__",
        _step_ended.__code__: "StepEnded, positional",
        TranscriptEntry.__init__.__code__: "TranscriptEntry.__init__",
    }

    def hook(frame: types.FrameType, event: str, _arg: Any) -> None:
        if event == "call":
            code = frame.f_code
            counts[made.get(code) or code.co_qualname] += 1

    threading.setprofile(hook)  # the connection's thread, started by connect
    sys.setprofile(hook)
    try:
        yield counts
    finally:
        sys.setprofile(None)
        threading.setprofile(None)


def _pairs(count: int) -> str:
    steps = "".join(f"  - send: m{i}\n  - expect: {{text: m{i}}}\n" for i in range(count))
    return f'name: pairs\nsteps:\n  - connect: "${{url}}"\n{steps}  - close\n'


def test_a_text_only_expect_that_takes_its_text_compiles_no_matcher(tmp_path: Path) -> None:
    """50 pairs: each expect takes its echo, and no matcher is compiled (50 before); the plans
    of the scenario's steps are made in one call, and no passed step's `StepEnded` goes through
    its keyword ``__init__``."""
    with websockets_server(echo) as server, _calls() as calls:
        status, events = run(tmp_path, {"p.yaml": _pairs(50)}, {"url": url_of(server)})
    assert status is Status.PASSED
    ended = [e for e in events if isinstance(e, StepEnded)]
    assert len(ended) == 102 and all(e.status is Status.PASSED for e in ended)
    assert [e.latency is not None for e in ended[1:-1]] == [False, True] * 50
    assert calls["compile_matcher"] == 0
    assert calls["StepPlan.all_of"] == 1 and calls["StepPlan.of"] == 0
    assert calls["StepEnded.__init__"] == 0 and calls["StepEnded, positional"] == 102
    assert calls["TranscriptEntry.__init__"] == 0  # made only when a failure shows them


def _noise_first(conn: ServerConnection) -> None:
    for message in conn:
        conn.send(f"x-{message}")  # not the text: the matcher judges it
        conn.send(message)


NOISE_FIRST = """
name: noise first
steps:
  - connect: "${url}"
  - repeat:
      count: 3
      steps:
        - send: hi
        - expect: {text: hi}
  - expect: {text: nope, timeout: 0.2s}
"""


def test_a_text_only_matcher_is_compiled_when_a_run_needs_it_and_kept(tmp_path: Path) -> None:
    """Each iteration's expect sees ``x-hi`` first (left over: it is not its text): the matcher
    that judges it is compiled once for the three runs; a failing expect describes what it
    wanted and the closest message through its matcher, compiled then."""
    with websockets_server(_noise_first) as server, _calls() as calls:
        status, events = run(tmp_path, {"n.yaml": NOISE_FIRST}, {"url": url_of(server)})
    assert status is Status.FAILED
    ended = [(e.kind, e.status) for e in events if isinstance(e, StepEnded)]
    assert ended[-2:] == [("repeat", Status.PASSED), ("expect", Status.FAILED)]
    assert ended.count(("expect", Status.PASSED)) == 3
    assert calls["compile_matcher"] == 2  # the repeated expect's once, the failing one's
    failure = next(e for e in events if getattr(e, "failure", None) is not None).failure
    assert failure.expected == 'text "nope"'
    assert failure.closest == "x-hi"
    assert failure.reason is not None and failure.reason.startswith("expected text")
    recent = [(e.conn, e.event, e.data) for e in failure.recent]  # the last ten, oldest first
    assert len(recent) == 10 and recent[-3:] == [
        ("default", "sent", "hi"),
        ("default", "received", "x-hi"),
        ("default", "received", "hi"),
    ]


def test_a_positional_step_ended_is_the_one_its_keywords_make() -> None:
    fields = dataclasses.fields(StepEnded)
    values = {f.name: f"v{n}" for n, f in enumerate(fields)}
    made = _step_ended(*values.values())
    assert made == StepEnded(**values) and made.__class__ is StepEnded
    assert {f.name: getattr(made, f.name) for f in fields} == values
    assert [f.name for f in fields][:7] == [
        "at",
        "scenario",
        "index",
        "kind",
        "location",
        "status",
        "duration",
    ]  # fmt: skip  (the order `ScenarioRunner._passed` writes them in)


def test_the_deadline_of_a_wait_is_one_rule_within_the_limit() -> None:
    """`ScenarioContext.deadline`: from `now` (or the clock), the step's seconds or the
    scenario's timeout, never past the ``--timeout``'s deadline; a deadline has no dict."""
    ctx = ScenarioContext(
        index=0,
        variables={},
        timeout=5.0,
        clock=Clock(),
        emit=lambda event: None,
        stop=threading.Event(),
        limit=Deadline(100.0),
    )
    assert ctx.deadline(2.0, 10.0) == Deadline(12.0)
    assert ctx.deadline(None, 10.0) == Deadline(15.0)
    assert ctx.deadline(200.0, 10.0) is ctx.limit
    assert not hasattr(Deadline(1.0), "__dict__")
    ctx.limit = Deadline(float("inf"))
    assert 0 < ctx.deadline(1.0).remaining() <= 1.0
