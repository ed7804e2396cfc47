"""Libraries: imports, namespaces, `use` expansion with parameters, cycles and missing blocks."""

from __future__ import annotations

from pathlib import Path

from runner.errors import Location
from runner.scenario import ExpectStep, SendStep, load_suite, validate_paths
from runner.scenario.kinds import kind_names
from tests.unit.scenario.helpers import write

AUTH = """
imports: [common.yaml]
blocks:
  login:
    description: log a user in
    params: {user: null, password: secret, who: main}
    steps:
      - send: {conn: "${who}", json: {op: login, user: "${user}", password: "${password}"}}
      - use: {block: common.ok, with: {id: "${user}-1"}}
  logout:
    steps:
      - send: {json: {op: logout}}
      - use: bye
  bye:
    steps:
      - close
"""
COMMON = """
blocks:
  ok:
    params: {id: null}
    steps:
      - expect: {json: {ok: true, id: "${id}"}, save: {token: $.token}}
"""
SCENARIO = """
imports: [lib/auth.yaml, {path: lib/common.yaml, as: c}]
vars: {me: alice}
steps:
  - connect: {conn: main, url: "ws://x/"}
  - use: {block: auth.login, with: {user: "${me}"}}
  - send: "token ${token}"
  - use: {block: c.ok, with: {id: 2}}
  - use: auth.logout
"""


def _library(folder: Path) -> None:
    write(folder, "lib/auth.yaml", AUTH)
    write(folder, "lib/common.yaml", COMMON)


def test_use_expands_blocks_with_their_parameters(tmp_path: Path) -> None:
    _library(tmp_path)
    scenario_path = write(tmp_path, "s.yaml", SCENARIO)
    [scenario] = load_suite([scenario_path]).scenarios
    steps = scenario.steps
    assert [s.kind for s in steps] == ["connect", "send", "expect", "send", "expect", "send",
                                       "close"]  # fmt: skip
    login = steps[1]
    assert isinstance(login, SendStep)
    assert login.json_ == {"op": "login", "user": "${me}", "password": "secret"}
    assert login.conn == "main"
    assert login.location == Location(str(tmp_path / "lib/auth.yaml"), 7, 9)
    assert login.bindings == {"user": "${me}", "password": "secret", "who": "main"}
    nested = steps[2]
    assert isinstance(nested, ExpectStep)
    assert nested.json_ == {"ok": True, "id": "${me}-1"}
    assert nested.location == Location(str(tmp_path / "lib/common.yaml"), 5, 9)
    assert nested.bindings == {"id": "${me}-1"}
    aliased = steps[4]
    assert isinstance(aliased, ExpectStep)
    assert aliased.json_ == {"ok": True, "id": 2}  # a lone reference keeps its type


def test_saves_inside_blocks_are_in_scope_after_them(tmp_path: Path) -> None:
    _library(tmp_path)
    write(tmp_path, "s.yaml", SCENARIO)
    assert validate_paths([tmp_path]) == []


def _errors(folder: Path) -> list[str]:
    return [str(e).replace(str(folder) + "/", "") for e in validate_paths([folder / "s.yaml"])]


def test_use_errors(tmp_path: Path) -> None:
    _library(tmp_path)
    write(
        tmp_path,
        "s.yaml",
        """
        imports: [lib/auth.yaml]
        steps:
          - connect: ws://x/
          - use: auth.lgin
          - use: {block: auth.login, with: {usr: bob}}
          - use: other.x
        """,
    )
    assert _errors(tmp_path) == [
        "s.yaml:4:5: unknown block 'auth.lgin'; expected one of auth.bye, auth.login, "
        "auth.logout (did you mean 'auth.login'?)",
        "s.yaml:5:5: block auth.login needs a value for its parameter 'user' "
        "(add with: {user: ...})",
        "s.yaml:5:37: block auth.login has no parameter 'usr'; expected one of user, password, "
        "who (did you mean 'user'?)",
        "s.yaml:6:5: unknown block 'other.x'; expected one of auth.bye, auth.login, auth.logout "
        "(import the library of 'other' with imports: [...])",
    ]


def test_errors_inside_a_library_name_its_lines(tmp_path: Path) -> None:
    write(
        tmp_path,
        "lib/bad.yaml",
        """
        blocks:
          b:
            params: {n: 1}
            steps:
              - send: {txt: hi}
              - send: "${n} ${nope}"
        """,
    )
    write(
        tmp_path, "s.yaml", "imports: [lib/bad.yaml]\nsteps: [{connect: 'ws://x/'}, {use: bad.b}]\n"
    )
    assert _errors(tmp_path) == [
        "lib/bad.yaml:5:16: unknown key 'txt'; expected one of name, conn, text, json, binary "
        "(did you mean 'text'?)",
    ]
    write(tmp_path, "lib/bad.yaml", "blocks:\n  b:\n    steps:\n      - send: '${nope}'\n")
    assert _errors(tmp_path) == ["lib/bad.yaml:4:15: unknown variable 'nope'"]


def test_import_cycles_and_use_cycles(tmp_path: Path) -> None:
    write(tmp_path, "lib/a.yaml", "imports: [b.yaml]\nblocks: {x: {steps: [{use: b.y}]}}\n")
    write(tmp_path, "lib/b.yaml", "imports: [a.yaml]\nblocks: {y: {steps: [{use: a.x}]}}\n")
    write(tmp_path, "s.yaml", "imports: [lib/a.yaml]\nsteps: [{use: a.x}]\n")
    [error] = _errors(tmp_path)
    assert error.startswith("lib/b.yaml:1:11: import cycle: ")
    assert error.endswith(": import cycle: lib/a.yaml → lib/b.yaml → lib/a.yaml")
    write(tmp_path, "lib/a.yaml", "blocks: {x: {steps: [{use: y}]}, y: {steps: [{use: x}]}}\n")
    write(tmp_path, "s.yaml", "imports: [lib/a.yaml]\nsteps: [{use: a.x}]\n")
    assert _errors(tmp_path) == ["lib/a.yaml:1:46: use cycle: x → y → x"]


def test_import_errors(tmp_path: Path) -> None:
    write(tmp_path, "lib/a.yaml", "blocks: {x: {steps: [{sleep: 0}]}}\n")
    write(tmp_path, "other/a.yaml", "blocks: {x: {steps: [{sleep: 0}]}}\n")
    write(tmp_path, "plain.yaml", "steps: [{sleep: 0}]\n")
    write(
        tmp_path,
        "s.yaml",
        "imports: [nope.yaml, plain.yaml, lib/a.yaml, other/a.yaml]\nsteps: [{sleep: 0}]\n",
    )
    assert _errors(tmp_path) == [
        "s.yaml:1:11: library not found: nope.yaml",
        "s.yaml:1:22: plain.yaml is not a library (it has no blocks:)",
        "s.yaml:1:46: two imports use the namespace 'a' (give one of them another name with `as:`)",
    ]


def test_a_library_alone_is_validated(tmp_path: Path) -> None:
    path = write(tmp_path, "lib.yaml", "blocks:\n  bad name: {steps: [{slep: 1}]}\n")
    assert [str(e).replace(str(tmp_path) + "/", "") for e in validate_paths([path])] == [
        "lib.yaml:2:3: block name 'bad name' is not valid (letters, digits, _ and -)",
        f"lib.yaml:2:23: unknown step kind 'slep'; expected one of {', '.join(kind_names())} "
        "(did you mean 'sleep'?)",
    ]
    path.write_text("blocks: {good: {steps: [{sleep: 0}]}}\n")
    assert load_suite([path]).scenarios == []
