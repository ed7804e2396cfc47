"""Run-time rendering of variables and steps."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.errors import Location, ScenarioError
from runner.scenario import (
    CloseStep,
    ConnectStep,
    ExpectStep,
    SendStep,
    SleepStep,
    render_step,
    render_variables,
)
from tests.unit.scenario.helpers import load


def test_render_variables_in_dependency_order() -> None:
    rendered = render_variables(
        {"url": "${base}/chat/${room}", "room": "r${n}", "n": 3, "base": "${base_url}"},
        {"base_url": "ws://h:1"},
    )
    assert rendered == {"base_url": "ws://h:1", "url": "ws://h:1/chat/r3", "room": "r3", "n": 3,
                        "base": "ws://h:1"}  # fmt: skip


def test_a_variable_may_extend_a_provided_one() -> None:
    assert render_variables({"u": "${u}/v2"}, {"u": "ws://h"}) == {"u": "ws://h/v2"}


def test_render_variables_errors() -> None:
    where = Location("s.yaml", 2, 1)
    with pytest.raises(ScenarioError, match=r"s\.yaml:2:1: variables refer to each other: a, b"):
        render_variables({"a": "${b}", "b": "${a}"}, {}, where)
    with pytest.raises(ScenarioError, match="unknown variable 'x'"):
        render_variables({"a": "${x}"}, {}, where)


def test_render_step_gives_real_types(tmp_path: Path) -> None:
    suite = load(
        tmp_path,
        """
        vars: {code: 4001, wait: 2s, n: 5}
        steps:
          - connect: {url: "${url}", headers: {X-N: "${n}"}, timeout: "${wait}"}
          - send: {json: {n: "${n}", s: "n=${n}", lit: "$${n}"}}
          - expect: {json: {n: "${n}"}, timeout: "${wait}"}
          - close: {code: "${code}"}
          - sleep: "${wait}"
        """,
        url="cli",
    )
    steps = suite.scenarios[0].steps
    variables = {"url": "ws://h/", "code": "4001", "wait": "2s", "n": 5}
    connect = render_step(steps[0], variables)
    assert isinstance(connect, ConnectStep)
    assert (connect.url, connect.headers, connect.timeout) == ("ws://h/", {"X-N": "5"}, 2.0)
    assert connect.location == steps[0].location
    send = render_step(steps[1], variables)
    assert isinstance(send, SendStep)
    assert send.json_ == {"n": 5, "s": "n=5", "lit": "${n}"}
    expect = render_step(steps[2], variables)
    assert isinstance(expect, ExpectStep)
    assert (expect.json_, expect.timeout) == ({"n": 5}, 2.0)
    close = render_step(steps[3], variables)
    assert isinstance(close, CloseStep)
    assert close.code == 4001  # a string from --var becomes the field's type
    assert render_step(steps[4], variables) == SleepStep(duration=2.0, location=steps[4].location)


def test_render_step_errors_name_the_step(tmp_path: Path) -> None:
    text = "steps: [{connect: 'ws://x'}, {close: {code: '${c}'}}]\n"
    steps = load(tmp_path, text, c="1000").scenarios[0]
    close = steps.steps[1]
    with pytest.raises(ScenarioError) as caught:
        render_step(close, {"c": "abc"})
    assert str(caught.value).startswith(f"{close.location}: code: ")
    assert "once rendered" in str(caught.value)
    with pytest.raises(ScenarioError, match="close code 1006 cannot be sent"):
        render_step(close, {"c": 1006})
    with pytest.raises(ScenarioError, match="unknown variable 'c'"):
        render_step(close, {})
