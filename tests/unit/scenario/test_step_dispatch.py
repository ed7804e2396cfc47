"""A file's steps validated by their kind alone (`step_dispatch`) give what the whole union gives:
the same values, and the same errors (type, location, message, input, context) for every kind."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import Field, TypeAdapter, ValidationError

from runner.scenario import libraries
from runner.scenario.files import Block, LibraryFile, ScenarioFile
from runner.scenario.kinds import step_models
from runner.scenario.steps import Step
from tests.support import timeout

ROOT = Path(__file__).resolve().parents[3]


class WholeUnionFile(ScenarioFile):
    """The scenario file as it was: its steps one tagged union of every kind."""

    steps: list[Step] = Field(min_length=1, description="the steps, in order")


class WholeUnionBlock(Block):
    steps: list[Step] = Field(min_length=1, description="the steps, in order")


CONNECT = {"kind": "connect", "url": "ws://127.0.0.1:9/"}
STEPS: list[Any] = [
    CONNECT,
    {"kind": "connect"},
    {"kind": "connect", "url": 5},
    {"kind": "connect", "url": "ws://127.0.0.1:9/", "bogus": 1},
    {"kind": "nope"},
    {},
    {"kind": 5},
    {"kind": None},
    "connect",
    5,
    None,
    [1],
    {"kind": "send", "text": 1},
    {"kind": "expect", "json": {"a": 1}, "timeout": "x"},
    {"kind": "expect", "not": {}},
    {"kind": "expect", "any_of": [{}, {"text": 1}]},
    {"kind": "repeat", "count": 2, "steps": [{"kind": "send", "text": "a"}, {"kind": "zzz"}]},
    {"kind": "repeat", "count": 0, "steps": []},
    {"kind": "close", "code": 99999},
    {"kind": "sleep", "duration": -1},
    {"kind": "expect_close", "code": "x"},
    *({"kind": model.kind_name()} for model in step_models()),
    *({"kind": model.kind_name(), "zz": 1, "name": ""} for model in step_models()),
]


def outcome(model: type[ScenarioFile] | type[Block], data: dict[str, Any]) -> Any:
    try:
        return model.model_validate(data, context={}).model_dump()
    except ValidationError as error:
        return [
            (d["type"], d["loc"], d["msg"], repr(d["input"]), str(d.get("ctx")))
            for d in error.errors(include_url=False)
        ]


@pytest.mark.parametrize("step", STEPS, ids=range(len(STEPS)))
def test_a_step_validates_as_in_the_whole_union(step: Any) -> None:
    for steps in ([step], [CONNECT, step], [step, step]):
        data = {"name": "x", "steps": steps}
        assert outcome(ScenarioFile, data) == outcome(WholeUnionFile, data)
        assert outcome(Block, {"steps": steps}) == outcome(WholeUnionBlock, {"steps": steps})


def test_a_use_s_expanded_step_validates_as_in_the_whole_union() -> None:
    whole: TypeAdapter[Any] = TypeAdapter(Step)

    def validated(adapter: TypeAdapter[Any], step: Any) -> Any:
        try:
            return adapter.validate_python(step).model_dump()
        except ValidationError as error:
            return [(d["type"], d["loc"], d["msg"]) for d in error.errors(include_url=False)]

    for step in STEPS:
        assert validated(libraries._STEP, step) == validated(whole, step)


def test_the_file_s_own_errors_are_unchanged() -> None:
    for data in ({"name": "x", "steps": []}, {"name": "x", "steps": "x"}, {"name": "x"}):
        errors = outcome(ScenarioFile, data)
        assert isinstance(errors, list)
        assert errors == outcome(WholeUnionFile, data)


def test_the_json_schemas_still_describe_every_kind() -> None:
    ours, whole = ScenarioFile.model_json_schema(), WholeUnionFile.model_json_schema()
    assert ours["$defs"] == whole["$defs"]
    assert ours["properties"]["steps"] == whole["properties"]["steps"]
    defs = LibraryFile.model_json_schema()["$defs"]
    assert {model.__name__ for model in step_models()} <= set(defs)


THREADS_PROBE = """
import threading
from runner.scenario import step_dispatch
from runner.scenario.files import ScenarioFile

steps = [
    {"kind": "connect", "url": "ws://127.0.0.1:9/"},
    {"kind": "send", "text": "hi"},
    {"kind": "expect", "json": {"a": 1}, "not": {"text": "b"}},
    {"kind": "sleep", "duration": "1ms"},
    {"kind": "close"},
]
results, start = [], threading.Barrier(8)

def validate():
    start.wait()
    try:
        results.append(ScenarioFile.model_validate({"name": "x", "steps": steps}).model_dump())
    except Exception as error:
        results.append(repr(error))

threads = [threading.Thread(target=validate) for _ in range(8)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join(timeout=30)
print(len(results), all(r == results[0] for r in results), isinstance(results[0], dict))
print(",".join(step_dispatch.built_kinds()))
"""


def test_threads_that_first_meet_their_kinds_at_once_build_each_once() -> None:
    done = subprocess.run(
        [sys.executable, "-c", THREADS_PROBE],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout(60),
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["8 True True", "close,connect,expect,send,sleep"]
