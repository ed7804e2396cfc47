"""`${...}` templates: variables, env, functions, escapes, types, errors, substitution."""

from __future__ import annotations

import re
import uuid

import pytest

from runner.errors import Location, ScenarioError
from runner.scenario.templates import is_reference, references, render, substitute

VARIABLES = {"n": 5, "room": "lobby", "user": {"name": "al", "ids": [1, 2]}, "on": True}


@pytest.mark.parametrize(
    ("template", "value"),
    [
        ("${n}", 5),
        ("${user}", {"name": "al", "ids": [1, 2]}),
        ("n=${n}", "n=5"),
        ("${room}/${n}", "lobby/5"),
        ("${user.name}-${user.ids.1}", "al-2"),
        ("${user.ids.-1}", 2),
        ("flag ${on} ${user}", 'flag true {"name":"al","ids":[1,2]}'),
        ("$${room}", "${room}"),
        ("cost: $5", "cost: $5"),
        ("${missing:-fallback}", "fallback"),
        ("${room:-fallback}", "lobby"),
        ("${ n }", 5),
        ("no templates", "no templates"),
    ],
)
def test_render_text(template: str, value: object) -> None:
    assert render(template, VARIABLES) == value


def test_render_goes_through_mappings_and_lists() -> None:
    rendered = render({"k-${room}": ["${n}", {"x": "${user.name}"}], "z": 3}, VARIABLES)
    assert rendered == {"k-lobby": [5, {"x": "al"}], "z": 3}


def test_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WSRUN_T", "set")
    monkeypatch.delenv("WSRUN_UNSET", raising=False)
    assert render("${env.WSRUN_T}", {}) == "set"
    assert render("${env.WSRUN_UNSET:-d}", {}) == "d"
    assert render("${env.WSRUN_UNSET:-}", {}) == ""
    with pytest.raises(ScenarioError, match=r"environment variable WSRUN_UNSET is not set"):
        render("${env.WSRUN_UNSET}", {}, Location("f", 1, 1))


def test_functions() -> None:
    assert uuid.UUID(render("${uuid()}", {}))
    assert isinstance(render("${now_ms()}", {}), int)
    assert isinstance(render("${now_s()}", {}), float)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT.*", render("${now_iso()}", {}))
    assert all(1 <= render("${random_int(1, 3)}", {}) <= 3 for _ in range(20))
    assert render("${random_int(n, n)}", VARIABLES) == 5
    assert re.fullmatch(r"[A-Za-z0-9]{8}", render("${random_string(8)}", {}))
    assert render("id-${random_int(7, 7)}", {}) == "id-7"


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("${nope}", "unknown variable 'nope'"),
        ("${rom}", "unknown variable 'rom' (did you mean 'room'?)"),
        ("${user.age}", "has no item 'age'"),
        ("${uid()}", "unknown function uid(); did you mean uuid()?"),
        ("${open('x')}", "unknown function open()"),
        ("${random_int(1,)}", "cannot read the arguments"),
        ("${random_int(1,}", "cannot read reference"),
        ("${random_int(1)}", "random_int() takes 2 arguments"),
        ("${uuid(1)}", "uuid() takes no arguments"),
        ("abc ${room", "unterminated reference"),
        ("${a b}", "cannot read reference"),
    ],
)
def test_render_errors(template: str, message: str) -> None:
    with pytest.raises(ScenarioError) as caught:
        render(template, VARIABLES, Location("f.yaml", 3, 4))
    assert message in str(caught.value)
    assert str(caught.value).startswith("f.yaml:3:4: ")


def test_is_reference() -> None:
    assert is_reference("${n}")
    assert is_reference("${env.X:-1}")
    assert not is_reference("x${n}")
    assert not is_reference("$${n}")
    assert not is_reference(5)


def test_references() -> None:
    found = list(references({"${k}": ["${x}", "${env.E} ${random_int(y, 2)}"]}))
    assert [(r.kind, r.name) for r in found] == [
        ("var", "k"),
        ("var", "x"),
        ("env", "E"),
        ("call", "random_int"),
    ]
    assert found[-1].args[1] == 2


def test_substitute_replaces_only_bindings() -> None:
    text = "a ${p} b ${q} $${x} ${p.k} ${env.E}"
    assert substitute(text, {"p": "${me}"}) == "a ${me} b ${q} $${x} ${me.k} ${env.E}"
    assert substitute("${p}", {"p": 5}) == 5
    assert substitute({"x": ["${p}-1"]}, {"p": 5}) == {"x": ["5-1"]}
    assert render(substitute("$${lit} ${p}", {"p": "${n}"}), VARIABLES) == "${lit} 5"
