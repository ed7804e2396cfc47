"""The JSON report numbers steps from 1, as the console does (issue 14)."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import jsonschema
from rich.console import Console

from runner.cli import ExitCode, main
from runner.report.report_schema import report_json_schema
from tests.support import echo, url_of, websockets_server

FAILS_AT_STEP_3 = """
name: fails at the third step
timeout: 300ms
steps:
  - connect: {conn: a, url: "${url}"}
  - send: {conn: a, text: hi}
  - expect: {conn: a, text: hello}
"""


def test_failure_step_in_the_json_report_is_the_consoles_step_number(tmp_path: Path) -> None:
    scenario, report = tmp_path / "s.yaml", tmp_path / "report.json"
    scenario.write_text(FAILS_AT_STEP_3, encoding="utf-8")
    console = Console(file=StringIO(), width=100, color_system=None)
    with websockets_server(echo) as server:
        argv = [str(scenario), "--var", f"url={url_of(server)}", "--json-report", str(report)]
        code = main(argv, console=console)
    out = console.file.getvalue()  # type: ignore[attr-defined]
    assert code == ExitCode.FAILED
    assert "(step 3, expect on a)" in out
    data = json.loads(report.read_text(encoding="utf-8"))
    jsonschema.validate(data, report_json_schema())
    scenario_result = data["scenarios"][0]
    assert scenario_result["failure"]["step"] == 3
    assert [step["index"] for step in scenario_result["steps"]] == [1, 2, 3]
    ended = [e for e in data["events"] if e["type"] == "scenario_ended"]
    assert ended[0]["failure"]["step"] == 3
    steps = [e for e in data["events"] if e["type"] == "step_ended"]
    assert [e["index"] for e in steps] == [1, 2, 3]  # report_version 2: no step_started line
    assert all(e["started"] <= e["at"] for e in steps)
    assert [e["summary"] for e in steps] == ["connect a", "send a", "expect a"]
