"""``--shard I/N`` (issue 11, "The CLI in CI"), end to end through the CLI.

Each test generates a project (bounded by a `wsrun.toml`) of scenarios that sleep a
millisecond, runs `wsrun run --shard I/N` for every shard with a JSON report, and reads from
the reports which scenarios each shard ran.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from rich.console import Console

from runner.cli import ExitCode, main
from runner.executor.selection import scenario_id
from runner.executor.shards import Shard, parse_shard, shard_number, take_shard
from runner.scenario import load_suite
from tests.support import timeout

PARAMETRIZED = """\
name: rows
parametrize:
  - {who: alice}
  - {who: bob}
  - {who: carol}
  - {who: dave}
steps:
  - sleep: 1ms
"""


def scenario(name: str, tags: str = "[]") -> str:
    return f"name: {name}\ntags: {tags}\nsteps:\n  - sleep: 1ms\n"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """30 scenarios in three folders, one file with 4 parametrize rows; the cwd."""
    (tmp_path / "wsrun.toml").write_text("", encoding="utf-8")
    for index in range(30):
        folder = tmp_path / "scenarios" / f"area{index % 3}"
        folder.mkdir(parents=True, exist_ok=True)
        tags = "[slow]" if index % 5 == 0 else "[fast]"
        (folder / f"s{index:02}.yaml").write_text(scenario(f"case {index}", tags), "utf-8")
    (tmp_path / "scenarios" / "rows.yaml").write_text(PARAMETRIZED, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run_shard(shard: str, *args: str, report: Path) -> tuple[int, str, list[str]]:
    """Run `wsrun run ... --shard SHARD`; the exit code, the output, the names that ran."""
    console = Console(file=StringIO(), width=200, color_system=None)
    code = main([*args, "--shard", shard, "--json-report", str(report), "-q"], console)
    out = console.file.getvalue()  # type: ignore[attr-defined]
    data = json.loads(report.read_text(encoding="utf-8"))
    return code, out, [s["name"] for s in data["scenarios"]]


def all_shards(count: int, *args: str, folder: Path) -> list[list[str]]:
    shards = []
    for index in range(1, count + 1):
        code, out, names = run_shard(f"{index}/{count}", *args, report=folder / f"r{index}.json")
        assert code == ExitCode.OK, out
        assert f"shard {index}/{count}: " in out
        shards.append(names)
    return shards


def every_name() -> list[str]:
    rows = [f"rows[{who}]" for who in ("alice", "bob", "carol", "dave")]
    return [f"case {i}" for i in range(30)] + rows


def test_the_shards_together_are_the_whole_suite_without_overlap(project: Path) -> None:
    shards = all_shards(3, "scenarios", folder=project)
    names = [name for shard in shards for name in shard]
    assert sorted(names) == sorted(every_name())  # whole, and no scenario twice
    assert len(names) == len(set(names)) == 34
    assert all(shard for shard in shards), shards  # a hash split of 34 fills 3 shards
    # parametrize rows are scenarios of their own: they are split like any other
    rows = {i for i, shard in enumerate(shards) for name in shard if name.startswith("rows[")}
    assert len(rows) > 1, shards


def test_shards_split_the_selection(project: Path) -> None:
    """--shard applies after -k and the tags: the shards together are the selection."""
    shards = all_shards(2, "scenarios", "--exclude-tag", "slow", "-k", "case", folder=project)
    selected = [f"case {i}" for i in range(30) if i % 5]
    assert sorted(n for shard in shards for n in shard) == sorted(selected)


def test_the_split_is_by_id_not_by_order_or_folder(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same scenarios fall in the same shards whatever order the paths come in, and
    from another working folder (ids are relative to the project's root)."""
    reference = [sorted(s) for s in all_shards(3, "scenarios", folder=project)]
    folders = ["scenarios/area2", "scenarios/rows.yaml", "scenarios/area0", "scenarios/area1"]
    assert [sorted(s) for s in all_shards(3, *folders, folder=project)] == reference
    monkeypatch.chdir(project / "scenarios" / "area1")
    from_below = all_shards(3, "../area0", ".", "../area2", "../rows.yaml", folder=project)
    assert [sorted(s) for s in from_below] == reference


def test_adding_a_file_moves_no_other_scenario(project: Path) -> None:
    before = all_shards(3, "scenarios", folder=project)
    for index in range(5):  # files that sort first, last and between the others
        for name in (f"a{index}.yaml", f"area1/s{index:02}b.yaml", f"zz{index}.yaml"):
            (project / "scenarios" / name).write_text(scenario(f"new {name}"), "utf-8")
    after = all_shards(3, "scenarios", folder=project)
    for shard_before, shard_after in zip(before, after, strict=True):
        assert set(shard_before) <= set(shard_after)
        assert all(name.startswith("new ") for name in set(shard_after) - set(shard_before))
    assert sum(map(len, after)) == 34 + 15


def test_the_split_is_the_same_in_every_process(project: Path) -> None:
    """Another interpreter (another str hash seed) runs the same shard: sha256, not hash()."""
    runs = []
    for seed in ("1", "2"):
        report = project / f"seed{seed}.json"
        command = [sys.executable, "-m", "runner", "scenarios", "--shard", "2/3", "-q"]
        result = subprocess.run(
            [*command, "--json-report", str(report)],
            capture_output=True,
            text=True,
            timeout=timeout(30),
            env=os.environ | {"PYTHONHASHSEED": seed},
            cwd=project,
        )
        assert result.returncode == ExitCode.OK, result.stdout + result.stderr
        runs.append([s["name"] for s in json.loads(report.read_text())["scenarios"]])
    assert runs[0] == runs[1] and runs[0]
    _, _, in_process = run_shard("2/3", "scenarios", report=project / "inproc.json")
    assert in_process == runs[0]


def test_an_empty_shard_is_not_an_error(project: Path) -> None:
    """One scenario over 3 shards: two shards are empty, exit 0, say so, write empty reports."""
    seen = []
    for index in (1, 2, 3):
        junit = project / f"j{index}.xml"
        code, out, names = run_shard(
            f"{index}/3",
            "scenarios/area0/s00.yaml",
            "--junit-xml",
            str(junit),
            report=project / f"e{index}.json",
        )
        assert code == ExitCode.OK, out
        seen += names
        if not names:
            assert f"shard {index}/3: no scenario (none of the 1 selected falls in it)" in out
            assert "nothing to run" in out
            assert 'tests="0"' in junit.read_text(encoding="utf-8")
    assert seen == ["case 0"]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0/3", "expected I from 1 to 3 (shards count from 1), found '0/3'"),
        ("4/3", "expected I from 1 to 3 (shards count from 1), found '4/3'"),
        ("1/0", "expected N (the number of shards) of 1 or more, found '1/0'"),
        ("3", "expected I/N such as 2/3, found '3'"),
        ("a/b", "expected I/N such as 2/3, found 'a/b'"),
        ("1/2/3", "expected I/N such as 2/3, found '1/2/3'"),
    ],
)
def test_the_shard_is_validated(
    project: Path, capsys: pytest.CaptureFixture[str], value: str, message: str
) -> None:
    console = Console(file=StringIO(), width=200, color_system=None)
    assert main(["scenarios", "--shard", value], console) == ExitCode.USAGE
    assert f"argument --shard: {message}" in capsys.readouterr().err


def test_shard_helpers() -> None:
    assert parse_shard(" 2/3 ") == Shard(2, 3) and str(Shard(2, 3)) == "2/3"
    assert parse_shard("1/1") == Shard(1, 1)
    assert {shard_number(f"f.yaml::s{i}", 1) for i in range(50)} == {1}
    assert {shard_number(f"f.yaml::s{i}", 4) for i in range(200)} == {1, 2, 3, 4}
    # the documented rule: the first 8 bytes of sha256(id), modulo N, plus 1
    digest = hashlib.sha256(b"scenarios/chat.yaml::chat").digest()
    assert shard_number("scenarios/chat.yaml::chat", 3) == int.from_bytes(digest[:8]) % 3 + 1


def test_scenario_ids_are_relative_to_the_project_root(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    suite = load_suite(["scenarios/area1", "scenarios/rows.yaml"])
    ids = [scenario_id(s) for s in suite.scenarios]
    assert "scenarios/area1/s01.yaml::case 1" in ids
    assert "scenarios/rows.yaml::rows[bob]" in ids
    monkeypatch.chdir(project / "scenarios")
    below = load_suite(["area1", "rows.yaml"])
    assert [scenario_id(s) for s in below.scenarios] == ids
    assert take_shard(below.scenarios, Shard(1, 1)) == below.scenarios
