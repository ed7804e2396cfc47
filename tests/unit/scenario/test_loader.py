"""Loading scenarios: every step kind, shorthands, connections, variables, parametrize, suites."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.errors import Location, ScenarioErrors
from runner.scenario import (
    CloseStep,
    ConnectStep,
    ExpectCloseStep,
    ExpectStep,
    ProxyServer,
    SendStep,
    SleepStep,
    load_suite,
    validate_paths,
)
from tests.unit.scenario.helpers import errors, load, messages, write


def same(step: object, other: object) -> bool:
    """Steps with the same fields (their locations left out)."""
    assert type(step) is type(other)
    return bool(step.model_dump() == other.model_dump())  # type: ignore[attr-defined]


def test_every_kind_with_its_options(tmp_path: Path) -> None:
    suite = load(
        tmp_path,
        """
        name: all kinds
        timeout: 2s
        steps:
          - connect:
              conn: a
              url: wss://example.test/x
              headers: {X-User: bob}
              subprotocols: [chat, superchat]
              timeout: 1.5
              tls: {verify: false, ca: ca.pem, cert: c.pem, key: k.pem, password: pw}
              proxy: {host: proxy.test, port: 3128, exclude: [localhost]}
              expect_status: 101
          - send: {conn: a, text: hi}
          - send: {conn: a, json: {type: say, n: [1, 2]}}
          - send: {conn: a, json: null}
          - send: {conn: a, binary: {hex: "01 ff"}}
          - send: {conn: a, binary: {base64: aGk=}}
          - expect:
              conn: a
              json: {type: said}
              timeout: 250ms
              next: true
              ignore: [{text: ping}]
              save: {said_id: $.id}
          - expect: {regex: '^(?P<word>\\w+)$', save: {w: word}}
          - expect: {jsonpath: {$.a: 1}}
          - expect: {binary: {hex: "00"}}
          - close: {conn: a, code: 4000, reason: done}
          - expect_close: {conn: a, code: 4000, reason: done, timeout: 1m}
          - sleep: {duration: 0.25}
        """,
    )
    [scenario] = suite.scenarios
    steps = scenario.steps
    assert [type(s) for s in steps] == [ConnectStep, *[SendStep] * 5, *[ExpectStep] * 4,
                                         CloseStep, ExpectCloseStep, SleepStep]  # fmt: skip
    connect = steps[0]
    assert isinstance(connect, ConnectStep)
    assert connect.headers == {"X-User": "bob"}
    assert connect.subprotocols == ["chat", "superchat"]
    assert connect.timeout == 1.5
    assert connect.tls is not None
    assert connect.tls.verify is False
    assert connect.proxy == ProxyServer(host="proxy.test", port=3128, exclude=["localhost"])
    assert connect.expect_status == 101
    sends = steps[1:6]
    assert [s.model_fields_set & {"text", "json_", "binary"} for s in sends] == [
        {"text"}, {"json_"}, {"json_"}, {"binary"}, {"binary"}]  # fmt: skip
    assert isinstance(sends[3], SendStep)
    assert sends[3].binary is not None
    assert sends[3].binary.to_bytes() == b"\x01\xff"
    expect = steps[6]
    assert isinstance(expect, ExpectStep)
    assert (expect.timeout, expect.next, expect.save) == (0.25, True, {"said_id": "$.id"})
    assert expect.ignore[0].text == "ping"
    assert [s.timeout for s in steps[7:10]] == [2.0, 2.0, 2.0]  # the scenario's timeout
    assert same(steps[10], CloseStep(conn="a", code=4000, reason="done"))
    assert isinstance(steps[11], ExpectCloseStep)
    assert steps[11].timeout == 60.0
    assert same(steps[12], SleepStep(duration=0.25))
    assert {s.conn for s in steps if not isinstance(s, SleepStep)} == {"a"}


def test_shorthands_and_synonyms(tmp_path: Path) -> None:
    suite = load(
        tmp_path,
        """
        steps:
          - connect: ws://localhost:1/
          - send: hello
          - expect: hello
          - expect-message: {regex: h}
          - sleep: 500ms
          - close
          - expect_close
          - close:
        """,
    )
    steps = suite.scenarios[0].steps
    assert same(steps[0], ConnectStep(conn="default", url="ws://localhost:1/"))
    assert isinstance(steps[1], SendStep)
    assert steps[1].text == "hello"
    assert isinstance(steps[2], ExpectStep)
    assert steps[2].text == "hello"
    assert isinstance(steps[3], ExpectStep)
    assert steps[3].regex == "h"
    assert same(steps[4], SleepStep(duration=0.5))
    assert same(steps[5], CloseStep(conn="default"))
    assert isinstance(steps[6], ExpectCloseStep)
    assert steps[6].code is None
    assert same(steps[7], CloseStep(conn="default"))


@pytest.mark.parametrize(
    ("text", "seconds"), [("250ms", 0.25), ("2s", 2.0), ("1m", 60.0), ("1h", 3600.0), ("3", 3.0),
                          ("1.5s", 1.5), (".5s", 0.5)]
)  # fmt: skip
def test_durations(tmp_path: Path, text: str, seconds: float) -> None:
    suite = load(tmp_path, f"steps: [{{sleep: {text}}}]\n")
    assert same(suite.scenarios[0].steps[0], SleepStep(duration=seconds))


def test_locations_and_metadata(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "chat.yaml",
        """
        description: d
        tags: [a, b]
        steps:
          - connect: ws://x/
          -   send: hi
        """,
    )
    [scenario] = load_suite([path]).scenarios
    assert (scenario.name, scenario.description, scenario.tags) == ("chat", "d", ["a", "b"])
    assert scenario.file == path
    assert scenario.timeout == 5.0
    assert [s.location for s in scenario.steps] == [
        Location(str(path), 4, 5),
        Location(str(path), 5, 7),
    ]


def test_connections_default_to_the_first(tmp_path: Path) -> None:
    suite = load(
        tmp_path,
        """
        steps:
          - connect: {conn: alice, url: ws://x/}
          - connect: {conn: bob, url: ws://x/}
          - send: hi
          - send: {conn: bob, text: hi}
          - connect: ws://x/
        """,
    )
    assert [s.conn for s in suite.scenarios[0].steps] == ["alice", "bob", "alice", "bob", "default"]


def test_connection_errors(tmp_path: Path) -> None:
    assert messages(
        tmp_path,
        """
        steps:
          - send: early
          - connect: {conn: alice, url: ws://x/}
          - send: {conn: alcie, text: hi}
        """,
    ) == [
        "2:5: send before any connect (add a connect step first)",
        "4:18: unknown connection 'alcie'; expected one of alice (did you mean 'alice'?)",
    ]


def test_variables_merge_in_order(tmp_path: Path) -> None:
    write(tmp_path, "wsrun-suite.yaml", "vars: {a: suite, b: suite, c: suite, d: suite}\n")
    suite = load(
        tmp_path,
        """
        vars: {b: scenario, c: scenario, d: scenario}
        parametrize: [{c: row, d: row}]
        steps: [{sleep: 0}]
        """,
        d="cli",
    )
    assert suite.scenarios[0].variables == {"a": "suite", "b": "scenario", "c": "row", "d": "cli"}
    assert suite.suite_file is not None
    assert suite.suite_file.vars["a"] == "suite"


def test_parametrize_makes_one_scenario_per_row(tmp_path: Path) -> None:
    suite = load(
        tmp_path,
        """
        name: login
        parametrize:
          - {user: alice, code: 1000}
          - {user: bob, code: 4001}
          - {user: bob, code: 4001}
          - {user: [x]}
        steps:
          - connect: ws://x/${user}
          - close: {code: "${code:-1000}"}
        """,
    )
    names = [s.name for s in suite.scenarios]
    assert names == ["login[alice-1000]", "login[bob-4001-1]", "login[bob-4001-2]", "login[3]"]
    assert suite.scenarios[1].variables == {"user": "bob", "code": 4001}
    assert suite.scenarios[1].row == {"user": "bob", "code": 4001}


def test_unknown_variables_are_errors_where_used(tmp_path: Path) -> None:
    assert messages(
        tmp_path,
        """
        vars: {room: lobby, url: "ws://x/${rooom}"}
        steps:
          - connect: {url: "ws://x/${room}/${env.HOME}/${uuid()}"}
          - send: "${said}"
          - expect: {json: {id: "${nn:-1}"}, save: {said: $.id}}
          - expect: {regex: "(?P<grp>.)"}
          - send: {json: {a: "${said} ${grp} ${random_int(1, lim)}"}}
          - send: {text: "${room"}
        """,
    ) == [
        "1:26: unknown variable 'rooom' (did you mean 'room'?)",
        "4:11: unknown variable 'said'",
        "7:22: unknown variable 'lim'",
        "8:18: unterminated reference '${room'",
    ]


def test_cli_and_service_variables_are_in_scope(tmp_path: Path) -> None:
    write(
        tmp_path,
        "wsrun-suite.yaml",
        """
        vars: {port: 8765}
        services:
          - name: server
            command: [python, -m, server, "${port}"]
            ready: {log: 'listening on (?P<url>\\S+)'}
            provides: {base_url: "${url}", p: "${port}"}
        """,
    )
    suite = load(tmp_path, "steps: [{connect: '${base_url}/${token}'}]\n", token="t")
    assert suite.suite_file is not None
    [service] = suite.suite_file.services
    assert service.cwd == str(tmp_path)
    assert service.timeout == 10.0


def test_a_service_ready_on_a_port_provides_port(tmp_path: Path) -> None:
    write(
        tmp_path,
        "wsrun-suite.yaml",
        """
        services:
          - name: api
            command: [python, -m, server]
            ready: {port: 9000}
            provides: {base_url: "ws://127.0.0.1:${port}", bad: "${url}"}
        """,
    )
    write(tmp_path, "s.yaml", "steps: [{connect: '${base_url}/'}]\n")
    found = [str(e).split("wsrun-suite.yaml:")[1] for e in validate_paths([tmp_path])]
    assert found == ["5:57: unknown variable 'url'"]


def test_suite_file_errors(tmp_path: Path) -> None:
    write(
        tmp_path,
        "wsrun-suite.yaml",
        """
        services:
          - name: a
            command: []
            ready: {port: 1, url: "ws://x/"}
            provides: {u: "${nope}"}
            timout: 2s
        """,
    )
    write(tmp_path, "s.yaml", "steps: [{sleep: 0}]\n")
    found = [str(e).split("wsrun-suite.yaml:")[1] for e in validate_paths([tmp_path])]
    assert found == [
        "3:14: expected a command, found an empty one",
        "4:12: expected exactly one of port, url, log; found port, url",
        "6:5: unknown key 'timout'; expected one of name, command, cwd, env, ready, timeout, "
        "provides (did you mean 'timeout'?)",
    ]


def test_folders_are_searched_recursively_in_order(tmp_path: Path) -> None:
    write(tmp_path, "b.yaml", "steps: [{sleep: 0}]\n")
    write(tmp_path, "a/z.yml", "steps: [{sleep: 0}]\n")
    write(tmp_path, "a/lib/l.yaml", "blocks: {x: {steps: [{sleep: 0}]}}\n")
    write(tmp_path, ".hidden/h.yaml", "nonsense: [\n")
    write(tmp_path, "notes.txt", "not yaml")
    suite = load_suite([tmp_path])
    assert [s.name for s in suite.scenarios] == ["z", "b"]
    assert [p.name for p in suite.files] == ["l.yaml", "z.yml", "b.yaml"]


def test_missing_paths_and_non_mappings(tmp_path: Path) -> None:
    write(tmp_path, "list.yaml", "- a\n")
    with pytest.raises(ScenarioErrors) as caught:
        load_suite([tmp_path / "nope", tmp_path / "list.yaml"])
    assert [str(e).replace(str(tmp_path), "T") for e in caught.value.errors] == [
        "T/nope: no such file or folder",
        "T/list.yaml:1:1: a scenario file is a mapping; expected keys such as name and steps; "
        "found a list",
    ]


def test_all_errors_of_a_file_at_once(tmp_path: Path) -> None:
    found = errors(
        tmp_path,
        """
        nme: x
        steps:
          - sned: hi
          - connect: {url: "ws://x/", tls: {verify: yes}}
          - close: {code: 999}
        """,
    )
    assert [(e.location.line if e.location else 0) for e in found] == [1, 3, 4, 5]
    assert found[1].hint == "did you mean 'send'?"
    assert found[1].snippet == "3 |   - sned: hi\n  |     ^"
