"""YAML reading: YAML 1.2 values, locations, duplicate keys and the YAML 1.1 traps."""

from __future__ import annotations

import math

import pytest

from runner.errors import Location, ScenarioErrors
from runner.scenario.source import parse_document, resolve_plain, snippet


def test_plain_scalars_follow_yaml_1_2() -> None:
    document = parse_document(
        "a: yes\nb: no\nc: on\nd: off\ne: y\nf: true\ng: 0x1F\nh: 0o17\ni: 1.10\nj: 1:30\n"
        "k: ~\nl: 2001-12-14\nm: .inf\nn: -5\n",
        "t.yaml",
    )
    assert document.value == {
        "a": "yes", "b": "no", "c": "on", "d": "off", "e": "y", "f": True, "g": 31,
        "h": 15, "i": 1.1, "j": "1:30", "k": None, "l": "2001-12-14", "m": math.inf, "n": -5,
    }  # fmt: skip


@pytest.mark.parametrize("text", ["010", "-007", "00"])
def test_a_leading_zero_is_ambiguous(text: str) -> None:
    document = parse_document(f"a: {text}\n", "t.yaml")
    [problem] = document.problems
    assert str(problem).startswith(f"t.yaml:1:4: ambiguous number {text}")
    assert "octal" in (problem.hint or "")
    assert document.problem_paths == {("a",)}


def test_zero_and_quoted_octal_are_fine() -> None:
    document = parse_document('a: 0\nb: "010"\nc: !!str 010\n', "t.yaml")
    assert document.value == {"a": 0, "b": "010", "c": "010"}
    assert document.problems == []


def test_keys_are_strings_as_written() -> None:
    document = parse_document("on: 1\n1.10: 2\n010: 3\nnull: 4\n", "t.yaml")
    assert document.value == {"on": 1, "1.10": 2, "010": 3, "null": 4}


def test_duplicate_keys_are_errors_and_the_first_value_stays() -> None:
    document = parse_document("a: 1\nb:\n  c: 1\n  c: 2\na: 3\n", "t.yaml")
    assert [str(p) for p in document.problems] == [
        "t.yaml:4:3: duplicate key 'c' (first defined at line 3) "
        "(YAML keeps only the last value; remove or rename one of them)",
        "t.yaml:5:1: duplicate key 'a' (first defined at line 1) "
        "(YAML keeps only the last value; remove or rename one of them)",
    ]
    assert document.value == {"a": 1, "b": {"c": 1}}


def test_locations_of_values_and_keys() -> None:
    document = parse_document("steps:\n  - send: {text: hi}\n", "t.yaml")
    assert document.location(("steps", 0, "send", "text")) == Location("t.yaml", 2, 18)
    assert document.key_location(("steps", 0, "send")) == Location("t.yaml", 2, 5)
    assert document.location(("steps", 0, "send", "missing")) == Location("t.yaml", 2, 11)


def test_merge_keys_merge_and_explicit_keys_win() -> None:
    document = parse_document("base: &b {x: 1, y: 2}\nm:\n  <<: *b\n  y: 3\n", "t.yaml")
    assert document.value["m"] == {"x": 1, "y": 3}
    assert document.problems == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: !!python/object:os.system x\n", "unsupported tag !!python/object:os.system"),
        ("a: !!binary aGk=\n", "unsupported tag !!binary"),
        ("a: &x [*x]\n", "recursive alias"),
        ("? [a]\n: 1\n", "a mapping key must be a plain string"),
    ],
)
def test_unsafe_or_strange_yaml_is_refused(text: str, message: str) -> None:
    document = parse_document(text, "t.yaml")
    assert message in str(document.problems[0])


def test_billion_laughs_stop() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 7)]
    document = parse_document("\n".join(lines) + "\n", "t.yaml")
    assert "aliases expand without end" in str(document.problems[0])


def test_syntax_errors_name_their_line() -> None:
    with pytest.raises(ScenarioErrors) as caught:
        parse_document("a: 1\nb: [1, 2\nc: 3\n", "t.yaml")
    [error] = caught.value.errors
    assert str(error).startswith("t.yaml:3:2: invalid YAML: expected ',' or ']'")


def test_snippet_points_at_the_column() -> None:
    assert snippet("a: 1\nbb: x\n", Location("f", 2, 5)) == "2 | bb: x\n  |     ^"
    assert snippet("a\n", Location("f", 9, 1)) == ""


@pytest.mark.parametrize(
    ("text", "value"),
    [("", None), ("NULL", None), ("+3", 3), ("1e3", 1000.0), (".5", 0.5), ("0b11", "0b11"),
     ("1_000", "1_000"), ("-.inf", -math.inf), ("True", True), ("FALSE", False)],
)  # fmt: skip
def test_resolve_plain(text: str, value: object) -> None:
    assert resolve_plain(text) == value


def test_libyaml_and_the_python_parser_read_the_same_values_and_locations() -> None:
    """Files are composed with libyaml when PyYAML has it; nothing may differ from pure Python."""
    from pathlib import Path

    import yaml

    from runner.scenario import source

    assert hasattr(yaml, "CSafeLoader")  # the fast path is what CI runs
    root = Path(__file__).resolve().parents[3] / "scenarios"
    for path in sorted(root.rglob("*.yaml")):
        text = path.read_text(encoding="utf-8")
        fast = parse_document(text, path.name)
        slow = source._Builder(source.Document(path.name, text))
        slow.document.value = slow.build(yaml.compose(text, Loader=source._Loader), ())
        assert fast.value == slow.document.value, path.name
        assert fast.values == slow.document.values, path.name
        assert fast.keys == slow.document.keys, path.name
