"""Whether a step holds a template is worked out from the fields written (the model's set
fields, a few), not by looking at each of its fields: the answer is the one of a walk over
every field, for every kind of value a step holds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from runner.executor.context import _SCALARS, _UNTEMPLATED, _has_template
from runner.scenario import load_suite


def _every_field(value: Any) -> bool:
    """The walk over every field of a model (what `_has_template` did before)."""
    if isinstance(value, str):
        return "${" in value
    if value.__class__ in _SCALARS:
        return False
    if isinstance(value, BaseModel):
        written = value.model_fields_set
        for name, item in value.__dict__.items():
            looked = item is not None and name in written and name not in _UNTEMPLATED
            if looked and _every_field(item):
                return True
        extra = value.__pydantic_extra__
        return bool(extra) and _every_field(extra)
    if isinstance(value, dict):
        return any(_every_field(k) or _every_field(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_every_field(item) for item in value)
    return False


STEPS = """\
name: templates
vars: {x: "1", who: "me"}
steps:
  - connect: {url: "${url}", headers: {X-Who: "${who}"}}
  - connect: {conn: plain, url: "ws://127.0.0.1:1/"}
  - send: plain text
  - send: "${x}"
  - send: "costs $${x}"
  - send: {json: {a: [1, {b: "${x}"}]}}
  - send: {json: {"${x}": 1}}
  - send: {json: {a: [1, 2, {c: null}]}}
  - send: {binary: {base64: "AAEC"}}
  - expect: {text: plain}
  - expect: {text: "${x}", timeout: 2s}
  - expect: {json: {id: "${x}"}, save: {y: "$.id"}}
  - expect: {any_of: [{text: a}, {regex: "^b${x}$"}]}
  - expect: {any_of: [{text: a}, {regex: "^b$"}]}
  - expect: {contains: "x", ignore: [{text: "${who}"}]}
  - sleep: 10ms
  - sleep: "${x}"
  - close
"""


def _steps(tmp_path: Path) -> list[Any]:
    (tmp_path / "t.yaml").write_text(STEPS, encoding="utf-8")
    suite = load_suite([str(tmp_path)], {"url": "ws://127.0.0.1:1/"})
    return list(suite.scenarios[0].steps)


def test_the_written_fields_say_what_every_field_says(tmp_path: Path) -> None:
    steps = _steps(tmp_path)
    assert len(steps) == STEPS.count("\n  - ")
    found = [_has_template(step) for step in steps]
    assert found == [_every_field(step) for step in steps]
    assert found == [
        True, False, False, True, True, True, True, False, False,
        False, True, True, True, False, True, False, True, False,
    ]  # fmt: skip


@pytest.mark.parametrize(
    "value,expected",
    [("a", False), ("${a}", True), (["a", ("b", "${c}")], True), ({"k": 1}, False), (3.5, False)],
)
def test_plain_values(value: object, expected: bool) -> None:
    assert _has_template(value) is expected is _every_field(value)
