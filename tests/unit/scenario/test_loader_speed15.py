"""Loading speed and memory (issue 15): a plain file is built from libyaml's events without a node
tree, positions are one int each, a valid reference's location is not looked up, and what a
load allocated ends in the oldest GC generation.

Nothing here asserts a time (that is `bench/bench_loader.py`'s business): memory is measured with
tracemalloc, whose figures do not depend on the machine's load.
"""

from __future__ import annotations

import gc
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
import yaml

from runner.errors import Location, ScenarioErrors
from runner.scenario import checks, load_suite, source
from runner.scenario.source import MAX_DEPTH, Document, pack_position, parse_document

PLAIN = """\
name: plain
vars: {greeting: hello, n: 3, ratio: 1.5, flag: true, nothing: ~, hex: 0x1F}
steps:
  - connect: {url: "ws://127.0.0.1:9/"}
  - send: "${greeting} 1"
  - expect:
      json: {a: [1, 2, {b: null}], "quoted key": 'single', 1.10: on}
  - send: &unused plain words
  - expect_close
  - send: |
      a block
      of text
flow: [a, {b: c}, [d, [e]]]
"""


def node_path(text: str, file: str = "t.yaml") -> Document:
    """What reading `text` gave before the event builder: compose, then build from the nodes."""
    document = Document(file, text)
    node = source._compose(text)
    document.value = source._Builder(document).build(node, ()) if node is not None else None
    return document


def same(fast: Document, slow: Document) -> None:
    assert fast.value == slow.value
    assert fast.values == slow.values
    assert fast.keys == slow.keys
    assert fast.plain == slow.plain
    assert [str(p) for p in fast.problems] == [str(p) for p in slow.problems]
    assert fast.problem_paths == slow.problem_paths


def test_a_plain_file_is_built_from_events_without_composing_nodes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    expected = node_path(PLAIN)

    def no_nodes(text: str) -> None:
        raise AssertionError("a plain file was composed into nodes")

    monkeypatch.setattr(source, "_compose", no_nodes)
    monkeypatch.setattr(yaml, "compose", no_nodes)
    document = parse_document(PLAIN, "t.yaml")
    same(document, expected)
    assert document.value["vars"]["hex"] == 31
    assert document.plain[("vars", "hex")] == "0x1F"
    assert document.location(("flow", 2, 1, 0)) == Location("t.yaml", 13, 24)
    assert document.key_location(("steps", 2, "expect", "json", "1.10")) == Location(
        "t.yaml", 7, 60
    )
    assert document.value["steps"][2]["expect"]["json"]["1.10"] == "on"


@pytest.mark.parametrize(
    "text",
    [
        "a: &x [1, 2]\nb: *x\n",  # an alias
        "a: !!str 010\nb: 1\n",  # a tag
        "a: !!binary aGk=\n",  # a tag refused
        "base: &b {x: 1}\nm:\n  <<: *b\n  y: 2\n",  # a merge key
        "a: 1\nb:\n  c: 1\n  c: 2\n",  # a duplicate key
        "a: 010\n",  # a YAML 1.1 trap
        "? [a]\n: 1\n",  # a key that is not a scalar
        "a: 1\n---\nb: 2\n",  # two documents
        "a: [1, 2\nb: 3\n",  # a YAML error
        "a: x\n b: y\n",  # another
        "[" * (MAX_DEPTH + 1) + "1" + "]" * (MAX_DEPTH + 1) + "\n",  # one level too deep
        "[" * 500 + "]" * 500 + "\n",  # much too deep
    ],
)
def test_what_the_events_cannot_build_is_read_through_nodes_as_before(text: str) -> None:
    assert source._build_from_events(Document("t.yaml", text)) is False
    try:
        slow = node_path(text)
    except (yaml.YAMLError, source._TooDeep):
        with pytest.raises(ScenarioErrors):
            parse_document(text, "t.yaml")
        return
    same(parse_document(text, "t.yaml"), slow)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "# only a comment\n",
        "just a string\n",
        "- 1\n- [2, 3]\n",
        "a: &unused 1\n",
        "010: 3\non: 1\n1.10: x\n'<<': 2\n",  # keys are not resolved: no trap, no merge
    ],
)
def test_the_events_build_what_the_nodes_built(text: str) -> None:
    assert source._build_from_events(Document("t.yaml", text)) is True
    same(parse_document(text, "t.yaml"), node_path(text))


def test_nesting_up_to_the_limit_is_built_from_events() -> None:
    text = "[" * MAX_DEPTH + "1" + "]" * MAX_DEPTH + "\n"
    assert source._build_from_events(Document("t.yaml", text)) is True
    same(parse_document(text, "t.yaml"), node_path(text))


def steps_text(steps: int) -> str:
    lines = ["name: many", "vars: {greeting: hello}", "steps:", '  - connect: "ws://h:9/"']
    for i in range(steps // 2):
        text = f"${{greeting}} {i}" if i % 5 == 0 else f"m{i}"
        lines += [f'  - send: "{text}"', f'  - expect: {{text: "{text}"}}']
    return "\n".join(lines) + "\n"


def test_reading_a_file_takes_about_one_kib_a_step_at_its_peak() -> None:
    """The node tree (every node with its two marks) was more than the values and their
    positions together: reading 20,000 steps peaked at 2.7 KiB a step, and the document kept
    1.2 KiB a step (positions as a tuple and two ints each, a path for a key and another for
    its value). Now about 0.9 KiB a step, peak and kept; the bounds leave room."""
    steps = 20_000
    text = steps_text(steps)
    parse_document(steps_text(100), "warm.yaml")
    was_tracing = tracemalloc.is_tracing()
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        document = parse_document(text, "t.yaml")
        kept, peak = tracemalloc.get_traced_memory()
    finally:
        if not was_tracing:
            tracemalloc.stop()
    assert len(document.values) > 2 * steps
    assert (peak - before) / steps < 1.5 * 1024
    assert (kept - before) / steps < 1.1 * 1024


def test_a_position_is_one_int_and_keeps_long_lines_exact() -> None:
    long = "x" * 70_000
    document = parse_document(f"a: {long}\nb: [{long}, c]\n", "t.yaml")
    assert all(type(p) is int for p in [*document.values.values(), *document.keys.values()])
    assert document.values[("b", 1)] == pack_position(2, 70_007)
    assert document.location(("b", 1)) == Location("t.yaml", 2, 70_007)
    assert document.key_location(("b",)) == Location("t.yaml", 2, 1)
    assert document.location(("b", 7, "x")) == Location("t.yaml", 2, 4)  # nearest known


def test_a_valid_reference_does_not_look_up_its_location(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Checking a reference looked up its field's location first (walking the raw value), also
    when nothing was wrong: a fifth of a 100,000-step file's checking time."""
    lines = ["name: refs", "vars: {who: me}", "steps:", '  - connect: "ws://h:9/"']
    lines += [f'  - send: "${{who}} {i}"' for i in range(50)]
    lines += ['  - send: "${nobody}"']
    path = tmp_path / "refs.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    looked_up: list[Any] = []
    field_location = checks.field_location

    def counted(*args: Any) -> Location:
        looked_up.append(args)
        return field_location(*args)

    monkeypatch.setattr(checks, "field_location", counted)
    with pytest.raises(ScenarioErrors) as caught:
        load_suite([path])
    assert [str(e).split(" (")[0] for e in caught.value.errors] == [
        f"{path}:55:11: unknown variable 'nobody'"
    ]
    assert len(looked_up) == 1  # the bad one only


def test_what_a_load_allocated_is_in_the_oldest_generation(tmp_path: Path) -> None:
    """The collector was paused while loading and then re-enabled: its next run walked all
    that the load had allocated as its youngest generation (0.1 s for 100,000 steps), then again
    as the middle one. The load now ends with everything in the oldest generation."""
    path = tmp_path / "many.yaml"
    path.write_text(steps_text(200), encoding="utf-8")
    assert gc.isenabled()
    [scenario] = load_suite([path]).scenarios
    assert gc.isenabled()
    oldest = {id(o) for o in gc.get_objects(generation=2)}
    steps = scenario.steps
    assert all(id(step) in oldest for step in (steps[0], steps[100], steps[-1]))
    assert gc.get_count()[0] < 1000


def test_a_steps_location_is_not_among_its_written_fields(tmp_path: Path) -> None:
    """`location` is never dumped; as a fifth written name it made each expect step's
    `model_fields_set` grow a 512-byte table (a fifth of a loaded step's memory)."""
    path = tmp_path / "steps.yaml"
    path.write_text(steps_text(4), encoding="utf-8")
    [scenario] = load_suite([path]).scenarios
    expect = scenario.steps[2]
    assert expect.kind == "expect"
    assert expect.location == Location(str(path), 6, 5)
    assert "location" not in expect.model_fields_set
    assert {"text", "conn", "timeout"} <= expect.model_fields_set


def test_loading_a_file_stays_under_2_6_kib_a_step_at_its_peak(tmp_path: Path) -> None:
    """Reading, validating and checking 20,000 steps peaked at 2.84 KiB a step (the node
    tree; then the steps' own memory). Now about 2.2: most of it is the step models, which
    the executor runs (1 KiB a step would need lighter models)."""
    steps = 20_000
    path = tmp_path / "many.yaml"
    path.write_text(steps_text(steps), encoding="utf-8")
    (tmp_path / "warm.yaml").write_text(steps_text(100), encoding="utf-8")
    load_suite([tmp_path / "warm.yaml"])
    was_tracing = tracemalloc.is_tracing()
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        [scenario] = load_suite([path]).scenarios
        _, peak = tracemalloc.get_traced_memory()
    finally:
        if not was_tracing:
            tracemalloc.stop()
    assert len(scenario.steps) == steps + 1
    assert (peak - before) / steps < 2.6 * 1024
