"""repeat against real servers: loops run lazily, name the failing iteration, hold any kind, and
`wsrun validate` refuses each misuse at its line."""

from __future__ import annotations

from pathlib import Path

from runner.events import Status, StepEnded, StepStarted
from runner.executor.flow import Loop
from runner.scenario import validate_paths
from runner.scenario.steps_flow import RepeatStep
from runner.server import TestServer
from tests.integration.executor.test_executor import ended, run
from tests.support import echo, url_of, websockets_server

ECHO_LOOP = """
name: loop
steps:
  - connect: "${url}"
  - repeat:
      count: 50
      as: i
      steps:
        - send: {json: {seq: "${i}"}}
        - expect: {json: {seq: "${i}"}, next: true, save: {last: $.seq}}
  - repeat:
      for_each: [{word: a}, {word: b}]
      as: item
      steps:
        - send: "${item.word} after ${last}"
        - expect: {text: "${item.word} after 50", next: true}
"""


def test_a_loop_runs_its_steps_once_per_iteration(tmp_path: Path) -> None:
    with websockets_server(echo) as server:
        status, events = run(tmp_path, {"loop.yaml": ECHO_LOOP}, {"url": url_of(server)})
    result = ended(events)["loop"]
    assert status is Status.PASSED, result.failure
    assert (result.steps_passed, result.steps_total) == (3, 3)
    expects = [e for e in events if isinstance(e, StepEnded) and e.kind == "expect"]
    assert len(expects) == 52 and all(e.index in (1, 2) for e in expects)
    loops = [e for e in events if isinstance(e, StepEnded) and e.kind == "repeat"]
    assert [(e.index, e.status) for e in loops] == [(1, Status.PASSED), (2, Status.PASSED)]
    starts = [e.summary for e in events if isinstance(e, StepStarted) and e.kind == "send"]
    assert starts[0] == "send default (repeat iteration 1 of 50)"
    assert starts[-1] == "send default (repeat iteration 2 of 2)"


TICKER = """
name: ticks
steps:
  - connect: "${url}/ticker?count=5&interval=0"
  - repeat:
      count: 5
      as: i
      steps:
        - expect: {json: {type: tick, seq: "${i}"}, next: true, timeout: 2s}
  - expect_close: {code: 1000}
"""


def test_the_loop_variable_counts_from_one_against_the_ticker(tmp_path: Path) -> None:
    with TestServer() as server:
        status, events = run(tmp_path, {"t.yaml": TICKER}, {"url": server.url})
    assert status is Status.PASSED, ended(events)["ticks"].failure


NESTED_FAIL = """
name: nested
steps:
  - connect: "${url}"
  - repeat:
      count: 3
      as: outer
      steps:
        - repeat:
            count: 4
            as: inner
            steps:
              - send: "${outer}.${inner}"
              - expect: {text: "${outer}.${inner}", next: true, timeout: 1s}
  - send: never
"""


def test_a_failure_names_the_iteration_of_each_loop(tmp_path: Path) -> None:
    def echo_but_2_3(conn):  # type: ignore[no-untyped-def]
        for message in conn:
            conn.send("wrong" if message == "2.3" else message)

    with websockets_server(echo_but_2_3) as server:
        status, events = run(tmp_path, {"n.yaml": NESTED_FAIL}, {"url": url_of(server)})
    failure = ended(events)["nested"].failure
    assert status is Status.FAILED and failure is not None
    assert failure.message == (
        "repeat iteration 2 of 3: repeat iteration 3 of 4: the next message on 'default' "
        "did not match (next: true)"
    )
    assert failure.closest == "wrong" and failure.step == 1 and failure.kind == "expect"
    assert failure.location is not None and failure.location.endswith("n.yaml:14:17")
    statuses = [(e.kind, e.status) for e in events if isinstance(e, StepEnded)][-3:]
    assert statuses == [
        ("expect", Status.FAILED),
        ("repeat", Status.FAILED),
        ("repeat", Status.FAILED),
    ]
    assert ended(events)["nested"].steps_passed == 1


LIB = """
blocks:
  ping:
    params: {word: null}
    steps:
      - repeat:
          count: 2
          as: k
          steps:
            - send: "${word}${k}"
            - expect: {text: "${word}${k}", next: true}
"""

USES = """
name: uses
imports: [lib.yaml]
steps:
  - connect: "${url}"
  - repeat:
      for_each: [x, y]
      as: w
      steps:
        - use: {block: lib.ping, with: {word: "${w}"}}
"""


def test_use_expands_inside_loops_and_loops_inside_blocks(tmp_path: Path) -> None:
    files = {"lib.yaml": LIB, "uses.yaml": USES}
    with websockets_server(echo) as server:
        status, events = run(tmp_path, files, {"url": url_of(server)})
    assert status is Status.PASSED, ended(events)["uses"].failure
    sent = [e for e in events if isinstance(e, StepEnded) and e.kind == "send"]
    assert len(sent) == 4


def test_a_rendered_count_that_is_not_positive_fails_at_the_loop(tmp_path: Path) -> None:
    text = 'name: c\nvars: {n: 0}\nsteps:\n  - connect: "${url}"\n'
    text += '  - repeat: {count: "${n}", steps: [send: x]}\n'
    with websockets_server(echo) as server:
        status, events = run(tmp_path, {"c.yaml": text}, {"url": url_of(server)})
    failure = ended(events)["c"].failure
    assert status is Status.FAILED and failure is not None and failure.kind == "repeat"
    assert failure.message == "count: expected 1 or more iterations once rendered"
    assert failure.location is not None and failure.location.endswith("c.yaml:5:5")


def test_a_million_iterations_are_never_copied_out() -> None:
    step = RepeatStep.model_validate(
        {
            "kind": "repeat",
            "count": 1_000_000,
            "as": "i",
            "steps": [{"kind": "sleep", "duration": 0}],
        }
    )
    loop = Loop(step, step.steps, 1_000_000, None)
    variables: dict[str, object] = {"i": "before"}
    seen = 0
    while loop.next_iteration(variables):
        seen += 1
    assert seen == 1_000_000 and len(step.steps) == 1
    assert variables == {"i": "before"}  # the loop variable is restored after the loop


BAD = """name: bad
steps:
  - connect: ws://localhost:1/
  - repeat:
      steps: [send: x]
  - repeat: {count: 0, steps: [send: x]}
  - repeat: {count: 2, times: 3, steps: [send: x]}
  - repeat: {count: 2, for_each: [a], steps: [send: x]}
  - repeat: {for_each: [], steps: [send: x]}
  - repeat:
      count: 2
      as: i
      steps:
        - send: {conn: bob, text: "${i}"}
        - expct: x
        - send: "${j}"
  - send: "${i}"
"""


def test_validate_refuses_each_misuse_at_its_line(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text(BAD, encoding="utf-8")
    shown = [str(e).split(": ", 1)[1] for e in validate_paths([tmp_path])]
    lines = [str(e).split(":")[1] for e in validate_paths([tmp_path])]
    assert shown[:6] == [
        "repeat: expected exactly one of count, for_each; found neither",
        "count: expected 1 or more iterations, found 0",
        "unknown key 'times'; expected one of name, count, for_each, as, steps",
        "repeat: expected exactly one of count, for_each; found count and for_each",
        "for_each: expected at least one item, found an empty list",
        "unknown step kind 'expct'; expected one of connect, send, expect, expect_none, close, "
        "expect_close, sleep, use, expect_all, expect_sequence, poll, repeat, http, call (did "
        "you mean 'expect'?)",
    ]
    assert lines[:6] == ["5", "6", "7", "8", "9", "15"]


def test_validate_checks_connections_and_variables_inside_loops(tmp_path: Path) -> None:
    text = BAD.split("  - repeat:\n      steps")[0] + BAD.split("  - repeat: {for_each: []")[1]
    text = text.replace("        - expct: x\n", "").split("[send: x]}\n", 1)[1]
    text = "name: bad\nsteps:\n  - connect: ws://localhost:1/\n" + text
    (tmp_path / "bad.yaml").write_text(text, encoding="utf-8")
    shown = [str(e) for e in validate_paths([tmp_path])]
    assert [s.split(":")[1] for s in shown] == ["8", "9", "10"]
    assert "unknown connection 'bob'" in shown[0]
    assert "unknown variable 'j'" in shown[1]
    assert "unknown variable 'i'" in shown[2]  # the loop variable is known inside only
