"""The README's "pytest" section: its options are pytest's (with the plugin and xdist), and the
output it shows is what pytest prints for its scenario (numbers that change aside)."""

from __future__ import annotations

import re
import shlex
import shutil
import tomllib
from pathlib import Path

import yaml

from tests.pytest_plugin.projects import project, run_pytest

ROOT = Path(__file__).resolve().parents[2]
_FENCE = re.compile(r"^ *```(\w+)\n(.*?)^ *```$", re.MULTILINE | re.DOTALL)


def section() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index("\n### pytest\n")
    return text[start : text.index("\n## ", start)]


def blocks(kind: str) -> list[str]:
    return [body for found, body in _FENCE.findall(section()) if found == kind]


def normal(text: str) -> list[str]:
    """`text`'s lines with what changes from run to run (ports, times, folders, the width of
    rules around them) made the same."""
    text = re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:PORT", text)
    text = re.sub(r"wsrun-tls-\w+", "wsrun-tls-DIR", text)
    text = re.sub(r"\d+\.\d+", "N", text)
    text = re.sub(r"[=_-]{3,}", "===", text)
    return [re.sub(r" +(\[100%\])$", r" \1", line.rstrip()) for line in text.splitlines()]


def test_the_commands_use_options_that_pytest_has() -> None:
    [commands] = blocks("sh")
    [ini] = blocks("toml")
    assert tomllib.loads(ini)["tool"]["pytest"]["ini_options"] == {"wsrun_paths": ["scenarios"]}
    helped = run_pytest(ROOT, "--help").stdout
    options = set()
    for line in commands.splitlines():
        args = shlex.split(line.split("#")[0])
        assert args[:3] == ["pytest", "--wsrun", "scenarios/"]
        options.update(a for a in args if a.startswith("-"))
    assert options == {"--wsrun", "-n", "--dist", "-m", "-k", "--junit-xml"}
    for option in [*options, "wsrun_paths"]:
        assert re.search(rf"(^|[\s,]){re.escape(option)}\b", helped, re.MULTILINE), option


def test_the_failure_shown_is_what_pytest_prints(tmp_path: Path) -> None:
    [scenario] = blocks("yaml")
    assert yaml.safe_load(scenario)["name"] == "echo json"
    root = project(tmp_path, {"scenarios/echo-json.yaml": scenario})
    shutil.copy(ROOT / "scenarios" / "wsrun-suite.yaml", root / "scenarios")
    result = run_pytest(root, "--wsrun", "scenarios/echo-json.yaml")
    assert result.returncode == 1, result.stdout + result.stderr
    [shown] = blocks("text")
    printed = result.stdout[result.stdout.index("scenarios/echo-json.yaml uF") :]
    assert normal(printed) == normal(shown)
