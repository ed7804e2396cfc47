"""Loading's memory (issue 15): a file built from libyaml's events keeps its positions in one
array, found through each collection's identity, not in two tables of paths.

Memory is measured with tracemalloc (its figures do not depend on the machine's load); the
lookups are compared with those of the node path (`_Builder`'s tables) on every example.
"""

from __future__ import annotations

import tracemalloc
from array import array
from pathlib import Path
from typing import Any

import pytest
import yaml

from runner.errors import Location
from runner.scenario import libraries, load_suite, loader, source
from runner.scenario.files import ScenarioFile
from runner.scenario.libraries import Origin
from runner.scenario.source import Document, ValuePath, parse_document
from tests.unit.scenario.test_loader_speed15 import steps_text

ROOT = Path(__file__).resolve().parents[3]


def node_document(text: str, file: str) -> Document:
    document = Document(file, text)
    node = source._compose(text)
    document.value = source._Builder(document).build(node, ()) if node is not None else None
    return document


def probes(document: Document) -> list[ValuePath]:
    """Every value's and key's path, and paths just beside them: a key that is not there, an
    index past the end, a negative or boolean index, a path through a scalar."""
    paths: list[ValuePath] = [(), ("nowhere",), (0,)]
    for path in [*document.values, *document.keys]:
        paths += [path, (*path, "nowhere"), (*path, 0), (*path, 99), (*path, -1), (*path, True)]
        if path:
            paths.append((*path[:-1], "nowhere", *path[-1:]))
    return paths


def examples() -> list[Path]:
    return sorted((ROOT / "scenarios").rglob("*.yaml"))


def test_the_examples_are_many_and_built_from_events() -> None:
    files = examples()
    assert len(files) > 20
    built = [p for p in files if parse_document(p.read_text(encoding="utf-8"), p.name)._compact]
    assert len(built) > len(files) // 2  # most files take the fast path that this covers


@pytest.mark.parametrize("path", examples(), ids=lambda p: p.name)
def test_every_lookup_matches_the_node_path(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    fast, slow = parse_document(text, path.name), node_document(text, path.name)
    assert fast.values == slow.values
    assert fast.keys == slow.keys
    for probe in probes(slow):
        assert fast.location(probe) == slow.location(probe), probe
        assert fast.key_location(probe) == slow.key_location(probe), probe
    for list_path in slow.values:
        items = _at(slow.value, list_path)
        if isinstance(items, list):
            for count in (len(items), max(0, len(items) - 1), len(items) + 1):
                expected = [slow.location((*list_path, i)) for i in range(count)]
                assert fast.item_locations(list_path, count) == expected
                assert slow.item_locations(list_path, count) == expected
    for names in (frozenset({"json_schema"}), frozenset({"tls"}), source.NOTED_KEYS):
        assert fast.has_key_named(names) == slow.has_key_named(names)


def _at(value: Any, path: ValuePath) -> Any:
    for part in path:
        value = value[part]
    return value


BIG = """\
vars:
{vars}
steps:
{steps}
"""


def test_a_big_mapping_is_indexed_once_and_looked_up_exactly() -> None:
    names = [f"v{i}" for i in range(2_000)]
    text = BIG.format(
        vars="\n".join(f"  {n}: {i}" for i, n in enumerate(names)), steps="  - send: x"
    )
    document = parse_document(text, "t.yaml")
    assert document._compact
    for line, name in enumerate(names, start=2):
        assert document.location(("vars", name)) == Location("t.yaml", line, len(name) + 5)
        assert document.key_location(("vars", name)) == Location("t.yaml", line, 3)
    assert len(document._indexes) == 1  # the 2,000 names indexed once, not searched each time


def test_a_mapping_replaced_after_reading_points_at_its_entry() -> None:
    """`check_file_references` puts `{}` in place of a refused `json_schema` path: a location
    inside it is its entry's, as with the tables."""
    text = "steps:\n  - expect: {json_schema: ../../x.json}\n"
    fast, slow = parse_document(text, "t.yaml"), node_document(text, "t.yaml")
    for document in (fast, slow):
        document.value["steps"][0]["expect"]["json_schema"] = {}
    where = ("steps", 0, "expect", "json_schema", "type")
    assert fast.location(where) == slow.location(where) == Location("t.yaml", 2, 27)
    assert fast.location(where) == fast.location(where[:-1])


def test_an_escaped_file_key_is_still_noted() -> None:
    text = 'steps:\n  - connect: {url: "wss://h/", "t\\x6cs": {ca: ca.pem}}\n'
    document = parse_document(text, "t.yaml")
    assert document._compact
    assert document.has_key_named(frozenset({"tls"}))
    assert not document.has_key_named(frozenset({"json_schema"}))


def test_the_files_check_reads_no_table_of_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    """The check for file references asked every load for all the keys' paths; now for a set
    noted while reading."""
    built: list[int] = []
    tables = Document._tables

    def counted(self: Document) -> Any:
        built.append(1)
        return tables(self)

    monkeypatch.setattr(Document, "_tables", counted)
    document = parse_document(steps_text(100), "t.yaml")
    libraries.check_file_references(document, ROOT, [], [])
    libraries.attach_locations([], document, ("steps",))
    assert built == []


def _traced(function: Any) -> tuple[Any, float, float]:
    """`function()`'s result, and the memory it kept and peaked at, in bytes."""
    was_tracing = tracemalloc.is_tracing()
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        result = function()
        kept, peak = tracemalloc.get_traced_memory()
    finally:
        if not was_tracing:
            tracemalloc.stop()
    return result, kept - before, peak - before


def test_reading_keeps_positions_in_an_array_not_in_tables_of_paths() -> None:
    """Reading 20,000 steps kept 0.91 KiB a step (peak 0.93) when each value and key had a path
    and an int in a table; now 0.46 (peak 0.57)."""
    steps = 20_000
    text = steps_text(steps)
    parse_document(steps_text(100), "warm.yaml")
    document, kept, peak = _traced(lambda: parse_document(text, "t.yaml"))
    assert document._compact and not document._values and not document._keys
    assert kept / steps < 600
    assert peak / steps < 700
    assert document.location(("steps", steps)) == Location("t.yaml", steps + 4, 5)


def test_loading_peaks_lower(tmp_path: Path) -> None:
    """The whole load of 20,000 steps peaked at 2.25 KiB a step (tracemalloc); now about 1.7
    (what it keeps, 1.18 -> 1.13 KiB a step, is the step models: not bounded here)."""
    steps = 20_000
    path = tmp_path / "many.yaml"
    path.write_text(steps_text(steps), encoding="utf-8")
    warm = tmp_path / "warm.yaml"
    warm.write_text(steps_text(100), encoding="utf-8")
    load_suite([str(warm)])
    suite, kept, peak = _traced(lambda: load_suite([str(path)]))
    assert len(suite.scenarios[0].steps) == steps + 1
    assert peak / steps < 2.0 * 1024, (peak / steps, kept / steps)


def test_node_path_documents_keep_their_tables() -> None:
    text = "a: &x {b: 1}\nc: *x\n"
    document = parse_document(text, "t.yaml")
    assert not document._compact
    assert document.values[("c", "b")] == source.pack_position(1, 11)
    assert document.location(("c", "b")) == Location("t.yaml", 1, 11)
    assert yaml.safe_load(text) == document.value


def test_the_positions_are_runs_of_one_array_of_ints() -> None:
    """Each value has its position and where its run starts (-1: a scalar), each key its
    position: nothing else is kept (no path, no table, no id of a collection)."""
    steps = 1_000
    document = parse_document(steps_text(steps), "t.yaml")
    assert document._compact and type(document._positions) is array
    items = 1 + steps  # of the steps list (see steps_text)
    entries = 3 + 1 + 1 + steps // 2 + 2 * (steps // 2)  # name, vars, steps, greeting, connect...
    assert len(document._positions) == 2 * items + 3 * entries
    assert document._root_run >= 0
    assert document.location(("steps", 2, "expect", "text")) == Location("t.yaml", 6, 20)


def test_the_canonical_forms_reach_pydantic_one_by_one(monkeypatch: pytest.MonkeyPatch) -> None:
    """They were a list of them all (0.19 KiB a step held while the steps were validated)."""
    given: list[Any] = []
    validate = ScenarioFile.model_validate

    def spy(data: Any, **kwargs: Any) -> Any:
        given.append(data["steps"])
        return validate(data, **kwargs)

    monkeypatch.setattr(loader.ScenarioFile, "model_validate", spy)
    document = parse_document(steps_text(10), "t.yaml")
    model = loader._SuiteLoader({}, ())._scenario_file(document)
    assert model is not None and len(model.steps) == 11
    assert len(given) == 1 and not isinstance(given[0], list)
    assert next(iter(given[0]), None) is None  # drained


def test_a_canonical_error_is_reported_with_the_validation_errors(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        'steps:\n  - connect: "ws://h:9/"\n  - sned: x\n  - send: {text: 1}\n  - bogus\n',
        encoding="utf-8",
    )
    errors = loader.validate_paths([str(path)])
    assert [(e.location.line if e.location else 0) for e in errors] == [3, 4, 5]
    assert "unknown step kind 'sned'" in str(errors[0])


def test_an_origin_of_a_list_item_makes_its_path_when_asked() -> None:
    document = parse_document("steps: [a]\n", "t.yaml")
    base = ("steps",)
    item = Origin(document, base, 7)
    assert item.path == ("steps", 7)
    assert item._path is base
    assert item == Origin(document, ("steps", 7))
    assert item != Origin(document, ("steps", 8))
    assert Origin(document, ("steps", 7)).path == ("steps", 7)
    assert repr(item).endswith("path=('steps', 7))")
    with pytest.raises(TypeError):
        hash(item)
    assert not hasattr(item, "__dict__")


def test_a_location_has_no_dict() -> None:
    location = Location("t.yaml", 3, 4)
    assert not hasattr(location, "__dict__")
    assert location == Location("t.yaml", 3, 4) and str(location) == "t.yaml:3:4"
    assert hash(location) == hash(Location("t.yaml", 3, 4))
