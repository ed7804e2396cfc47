"""The example suite: it runs green through the CLI and uses every feature of the language."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from runner.scenario import load_suite
from runner.scenario.kinds import step_models
from runner.scenario.steps import matcher_names

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "scenarios"


def test_the_example_suite_passes_through_the_cli_and_stops_its_server(tmp_path: Path) -> None:
    json_path, junit_path = tmp_path / "report.json", tmp_path / "junit.xml"
    result = subprocess.run(
        [sys.executable, "-m", "runner", str(SCENARIOS), "--no-color", "-j", "2",
         "--json-report", str(json_path), "--junit-xml", str(junit_path)],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(json_path.read_text())
    expected = len(load_suite([SCENARIOS]).scenarios)
    assert report["counts"] == {
        "passed": expected, "failed": 0, "error": 0, "interrupted": 0, "skipped": 0
    }  # fmt: skip
    assert expected >= 8
    testcases = ET.parse(junit_path).getroot().iter("testcase")
    assert sum(1 for _ in testcases) == expected
    urls = [url for s in report["services"] for url in s["provides"].values() if "://" in url]
    assert len(urls) == 3  # ws://, wss:// and ws:// with --compression
    kinds = [e["type"] for e in report["events"] if e["type"].startswith("service_")]
    assert sorted(kinds) == ["service_started"] * 3 + ["service_stopped"] * 3
    for url in urls:
        port = int(re.findall(r":(\d+)$", url)[0])
        with socket.socket() as probe:  # the servers are gone: their ports refuse
            assert probe.connect_ex(("127.0.0.1", port)) != 0


def _texts() -> str:
    return "\n".join(p.read_text() for p in sorted(SCENARIOS.rglob("*.yaml")))


def test_the_example_suite_uses_every_step_kind_and_matcher() -> None:
    suite = load_suite([SCENARIOS])
    steps = [step for scenario in suite.scenarios for step in scenario.steps]
    assert {step.kind for step in steps} == {m.kind_name() for m in step_models() if m.runs}
    expects = [step for step in steps if step.kind == "expect"]
    written = {name for step in expects for name in step.matchers()}
    assert written == set(matcher_names())
    assert any(step.next for step in expects) and any(step.ignore for step in expects)
    assert any(step.save for step in expects)
    assert any(scenario.ignore for scenario in suite.scenarios)
    assert any(scenario.row for scenario in suite.scenarios)  # parametrize
    assert any(
        len({getattr(s, "conn", None) for s in sc.steps} - {None}) > 2 for sc in suite.scenarios
    )


def test_the_example_suite_uses_every_shorthand_option_and_template_rule() -> None:
    text = _texts()
    for written in (
        "- use:", "expect-message:", "- close\n", "- send: hello", "- expect: hello",
        "sleep: 50ms", "hex:", "base64:", "next: true", "save:", "ignore:", "parametrize:",
        "imports:", "as: room", "headers:", "subprotocols:", "expect_status: 401", "proxy:",
        "timeout: 3s", "code: 4000", "reason:", "tls: {ca:", "cert:", "key:", "verify: false",
        "${env.", ":-", "$${", "${uuid()}",
        "${now_ms()}", "${now_iso()}", "${random_int(", "${random_string(", "${user.name}",
        "${user.roles.0}", '"{{any}}"', '"{{string}}"', '"{{number}}"', '"{{integer}}"',
        '"{{boolean}}"', '"{{object}}"', '"{{array}}"', '"{{null}}"', '"{{regex:',
        "(?P<",
    ):  # fmt: skip
        assert written in text, written


def test_the_shared_library_is_used_by_several_scenarios() -> None:
    users = [
        p.name
        for p in SCENARIOS.glob("*.yaml")
        if "lib/" in p.read_text() and "use:" in p.read_text()
    ]
    assert len(users) >= 3, users
