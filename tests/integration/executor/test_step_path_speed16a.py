"""Issue 15, round 16 (helper A): the runner's own work per send/expect pair.

A pair of template-free steps cost the runner 65 Python calls of its own (every thread, the
client core and the reporters left out): the clock read through `Clock.now` seven times, each
step rendered, its connection and deadline looked up through `ScenarioContext`, its plan made
in five calls, the transcript noted through `_note`, the message matched through the matcher.
Now a step's plan is made in one call and holds what its runs share (`plain`, an expect's
compiled matcher and its text), and the step path does the rest inline: 27 calls. Counted with
a profile hook, over 300 pairs less the same scenario's 100 (connect and close cancel out).
"""

from __future__ import annotations

import dataclasses
import sys
import threading
import types
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from websockets.sync.server import ServerConnection

from runner.events import Event, EventBus, FrameSent, ScenarioEnded, Status, StepEnded
from runner.executor import RunOptions, run_suite
from runner.executor.inbox import Message
from runner.executor.step_registry import Outcome, StepPlan
from runner.scenario import load_suite
from tests.integration.executor.test_executor import run
from tests.support import echo, url_of, websockets_server


def _pairs(count: int) -> str:
    steps = "".join(f"  - send: m{i}\n  - expect: {{text: m{i}}}\n" for i in range(count))
    return f'name: pairs\nsteps:\n  - connect: "${{url}}"\n{steps}  - close\n'


class _Quiet:
    """A listener that takes what ``wsrun -q``'s console takes of a passing run."""

    events = frozenset({StepEnded, ScenarioEnded})

    def __call__(self, event: Event) -> None:
        assert event.__class__ in self.events


def _runner_calls(folder: Path, url: str, pairs: int) -> Counter[str]:
    """The runner's own Python calls (`module.qualname`) in a run of `pairs` pairs, on every
    thread: what is under ``runner/``, but not ``runner/client`` (the client core)."""
    folder.mkdir()
    (folder / "pairs.yaml").write_text(_pairs(pairs), encoding="utf-8")
    suite = load_suite([str(folder)], {"url": url})
    bus = EventBus()
    bus.subscribe(_Quiet())
    counts: Counter[str] = Counter()

    def hook(frame: types.FrameType, event: str, _arg: Any) -> None:
        if event == "call":
            code = frame.f_code
            name = code.co_filename
            if f"{Path('runner')}/" in name and "/client/" not in name:
                counts[f"{Path(name).stem}.{code.co_qualname}"] += 1

    threading.setprofile(hook)  # the connection's thread, started by connect
    sys.setprofile(hook)
    try:
        status = run_suite(suite, suite.scenarios, RunOptions(), bus.emit)
    finally:
        sys.setprofile(None)
        threading.setprofile(None)
    assert status is Status.PASSED
    return counts


#: The runner's own calls a pair: 65 before round 16a, 27 after it, 19 after round 16b (the plans
#: of a list made in one call, and a text-only expect's matcher not compiled: its text is kept).
BOUND = 19


def test_a_pair_costs_the_runner_few_calls_of_its_own(tmp_path: Path) -> None:
    with websockets_server(echo) as server:
        few = _runner_calls(tmp_path / "few", url_of(server), 100)
        many = _runner_calls(tmp_path / "many", url_of(server), 300)
    per_pair = {name: (many[name] - few[name]) / 200 for name in many if many[name] > few[name]}
    total = sum(per_pair.values())
    assert total <= BOUND, f"{total:.1f} calls a pair (65 before, 27 in round 16a): {per_pair}"
    # Made once a step: the look for templates in it (its plan is made with its list's, in one
    # call: round 16b), and its wait's deadline, by the one rule (`ScenarioContext.deadline`).
    assert per_pair["context._model_has_template"] == 2
    assert per_pair["context.ScenarioContext.deadline"] == 1
    # Done inline now, or not at all for a step without templates.
    for gone in (
        "clock.Clock.now",
        "context.ScenarioContext.rendered",
        "context.ScenarioContext.connection",
        "step_registry.StepPlan.of",
        "step_registry.StepPlan.all_of",
        "clock.Deadline.after",
        "connection.Connection._note",
        "connection.Connection.send_outgoing",
        "outgoing.Outgoing.payload",
        "core.Matcher.match",
        "events.EventBus.takes",
        "scenario_run.ScenarioRunner._begin",
        "scenario_run.ScenarioRunner._watch",
    ):
        assert per_pair.get(gone, 0) == 0, f"{gone}: {per_pair[gone]} a pair"


def test_the_bus_says_who_takes_a_class_with_no_call_once_asked() -> None:
    bus = EventBus()
    bus.subscribe(_Quiet())
    assert bus.takes(StepEnded) and not bus.takes(FrameSent)  # worked out, then kept
    calls: list[str] = []

    def hook(frame: types.FrameType, event: str, _arg: Any) -> None:
        if event == "call":
            calls.append(frame.f_code.co_qualname)

    sys.setprofile(hook)
    try:
        answers = [bus.takes(StepEnded), bus.takes(FrameSent)]
    finally:
        sys.setprofile(None)
    assert answers == [True, False] and calls == []

    def broken(event: Event) -> None:
        raise RuntimeError("broken")

    bus.subscribe(broken)  # a new listener: asked again
    assert bus.takes(FrameSent)
    bus.emit(
        FrameSent(at=0.0, scenario=0, conn="c", data="x")
    )  # `broken` raises and is disabled: nobody takes it again
    assert [f.listener for f in bus.failures] == [broken]
    assert not bus.takes(FrameSent) and bus.takes(StepEnded)


def _text_then_binary(conn: ServerConnection) -> None:
    for message in conn:
        if message == "go":
            conn.send(b"hi")  # binary, the same bytes as the text expected
            conn.send("hi")


TEXT_ONLY = """
name: text only
steps:
  - connect: "${url}"
  - send: go
  - expect: {text: hi}
  - expect: {text: nope, timeout: 0.3s}
"""


def test_a_text_only_expect_takes_an_equal_text_and_judges_the_rest_with_its_matcher(
    tmp_path: Path,
) -> None:
    """The equal text is taken without the matcher; a binary message of the same bytes is not
    (a text matcher never takes binary), and a miss fails as the matcher says."""
    with websockets_server(_text_then_binary) as server:
        status, events = run(tmp_path, {"t.yaml": TEXT_ONLY}, {"url": url_of(server)})
    assert status is Status.FAILED
    steps = [e for e in events if isinstance(e, StepEnded)]
    assert [(e.kind, e.status) for e in steps] == [
        ("connect", Status.PASSED),
        ("send", Status.PASSED),
        ("expect", Status.PASSED),
        ("expect", Status.FAILED),
    ]
    assert steps[2].latency is not None and steps[2].latency_from_send is not None
    (result,) = [e for e in events if isinstance(e, ScenarioEnded)]
    failure = result.failure
    assert failure is not None and failure.location is not None
    assert failure.message.startswith("no message on 'default' matched within 0.3")
    assert failure.location.endswith("t.yaml:7:5")
    assert failure.expected == 'text "nope"'
    assert failure.reason == "expected a text message, found binary (2 bytes)"


ROWS = """
name: rows
parametrize:
  - {word: alpha}
  - {word: beta}
steps:
  - connect: "${url}"
  - repeat:
      count: 3
      as: i
      steps:
        - send: "${word}-${i}"
        - expect: {text: "${word}-${i}"}
        - send: plain
        - expect: {text: plain}
"""


def test_templated_steps_are_rendered_on_each_run_and_plain_ones_prepared_once(
    tmp_path: Path,
) -> None:
    """Two parametrize rows share their step models, and a loop runs them three times: the
    templated steps send and expect each row's and iteration's values; the plain ones pass."""
    with websockets_server(echo) as server:
        status, events = run(tmp_path, {"r.yaml": ROWS}, {"url": url_of(server)})
    assert status is Status.PASSED
    sent = [e.data for e in events if isinstance(e, FrameSent)]
    assert sent == [f"{w}-{i}" if k == 0 else "plain" for w in ("alpha", "beta")
                    for i in (1, 2, 3) for k in (0, 1)]  # fmt: skip
    ended = [e for e in events if isinstance(e, ScenarioEnded)]
    assert [(e.name, e.status, e.steps_passed) for e in ended] == [
        ("rows[alpha]", Status.PASSED, 2),
        ("rows[beta]", Status.PASSED, 2),
    ]


def test_a_plan_knows_whether_its_step_holds_templates(tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_text(
        "name: s\nsteps:\n"
        "  - connect: {url: 'ws://127.0.0.1:9/', conn: bob}\n"
        '  - send: {text: "${x}", conn: bob}\n'
        "  - expect: {text: hi, conn: bob}\n"
        "  - sleep: 1ms\n",
        encoding="utf-8",
    )
    steps = load_suite([str(tmp_path)], {"x": "1"}).scenarios[0].steps
    plans = [StepPlan.of(step) for step in steps]
    assert [p.plain for p in plans] == [True, False, True, True]
    assert [p.conn for p in plans] == ["bob", "bob", "bob", None]
    assert [p.location for p in plans] == [str(step.location) for step in steps]
    assert all(p.prepared is None for p in plans)  # a runner fills it as the step runs


@pytest.mark.parametrize("cls", [Message, Outcome], ids=lambda c: c.__name__)
def test_a_pairs_message_and_outcome_are_made_by_the_quick_init(cls: type) -> None:
    """One of each a pair: set through their slots (`runner.events._quick_init`), with the
    parameters, defaults, result and refusals of the ``__init__`` `dataclasses` writes."""
    # not `object.__setattr__`: made a builder of its class, its slots stored (16c: was `_set0`)
    assert vars(cls)["__init__"].__code__.co_names[0] == "_set_class"
    fields = dataclasses.fields(cls)
    values = {f.name: f"v{n}" for n, f in enumerate(fields)}
    made = cls(**values)
    assert {f.name: getattr(made, f.name) for f in fields} == values
    assert cls(*values.values()) == made and hash(made) == hash(dataclasses.replace(made))
    required = [f.name for f in fields if f.default is dataclasses.MISSING]
    least = cls(**{name: values[name] for name in required})
    assert all(getattr(least, f.name) == f.default for f in fields if f.name not in required)
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(made, fields[0].name, "x")
    with pytest.raises(TypeError):
        cls(*values.values(), "one too many")
