"""The README's "CI" section: its workflow files are YAML, every `wsrun` command in them and
in its shell examples parses with wsrun's own options, and the outputs and figures it shows are
what wsrun prints."""

from __future__ import annotations

import re
import shlex
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
import yaml
from rich.console import Console

from runner.cli import ExitCode, build_parser, main, with_default_command
from runner.executor.shards import Shard, take_shard
from runner.scenario import load_suite

ROOT = Path(__file__).resolve().parents[2]
_FENCE = re.compile(r"^```([\w-]+)\n(.*?)^```$", re.MULTILINE | re.DOTALL)
_EXPRESSIONS = {"${{ matrix.shard }}": "1", "$CI_NODE_INDEX/$CI_NODE_TOTAL": "1/3"}


def section() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index("\n## CI\n")
    return text[start : text.index("\n## ", start + 1)]


def blocks(kind: str) -> list[str]:
    return [body for found, body in _FENCE.findall(section()) if found == kind]


def commands(value: Any) -> list[str]:
    """Every string in a loaded workflow that runs wsrun."""
    if isinstance(value, dict):
        return [c for v in value.values() for c in commands(v)]
    if isinstance(value, list):
        return [c for v in value for c in commands(v)]
    return [value] if isinstance(value, str) and value.startswith("wsrun ") else []


def parses(command: str) -> None:
    for expression, value in _EXPRESSIONS.items():
        command = command.replace(expression, value)
    args = shlex.split(command)
    assert args[0] == "wsrun"
    try:
        build_parser().parse_args(with_default_command(args[1:]))
    except SystemExit as exit_:  # argparse's way of saying a flag is unknown or bad
        pytest.fail(f"{command!r} does not parse: exit {exit_.code}")


def test_the_workflows_are_yaml_and_their_commands_parse() -> None:
    workflows = [yaml.safe_load(body) for body in blocks("yaml")]
    assert len(workflows) == 3  # GitHub Actions, its --last-failed steps, GitLab CI
    found = [c for workflow in workflows for c in commands(workflow)]
    assert len(found) == 3, found
    for command in found:
        parses(command)
        assert "--shard" in command and "--junit-xml" in command and "--html-report" in command
    github, _, gitlab = workflows
    assert github["jobs"]["wsrun"]["strategy"]["matrix"]["shard"] == [1, 2, 3]
    assert gitlab["wsrun"]["parallel"] == 3
    assert gitlab["wsrun"]["artifacts"]["reports"]["junit"] == "reports/junit.xml"


def test_the_shown_commands_parse() -> None:
    shown = [line[2:] for body in blocks("text") for line in body.splitlines() if line[:2] == "$ "]
    assert len(shown) >= 4
    for command in shown:
        parses(command)


def test_the_empty_shard_output_is_what_wsrun_prints(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    body = next(b for b in blocks("text") if "--shard 1/3 -q\nshard 1/3: no scenario" in b)
    command, _, expected = body.partition("\n")
    console = Console(file=StringIO(), width=100, color_system=None)
    assert main(shlex.split(command)[2:], console) == ExitCode.OK  # after "$ wsrun"
    assert console.file.getvalue() == expected  # type: ignore[attr-defined]


def test_the_example_suite_falls_as_said(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    scenarios = load_suite(["scenarios/"]).scenarios
    sizes = [len(take_shard(scenarios, Shard(i, 3))) for i in (1, 2, 3)]
    assert f"the example suite's {len(scenarios)} scenarios" in section()
    assert f"fall {sizes[0]}, {sizes[1]} and {sizes[2]} over 3 shards" in section()
    assert f"shard 1/3: {sizes[0]} of the {len(scenarios)} selected scenarios" in section()


def test_the_shard_error_is_what_wsrun_says() -> None:
    from runner.executor.shards import parse_shard

    with pytest.raises(ValueError, match="shards count") as error:
        parse_shard("0/3")
    assert f"(`argument --shard: {error.value}`)" in section().replace("\n", " ")
