"""``--last-failed`` (issue 11, "The CLI in CI"): every run records its failures in
``.wsrun_cache/lastfailed`` of the working folder; ``--last-failed`` runs those again, or all
the selected scenarios when there are none (as pytest's ``--lf``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from rich.console import Console

from runner.cli import ExitCode, main
from runner.last_failed import CACHE_FILE
from tests.support import echo, timeout, url_of, websockets_server

SCENARIO = """\
name: {name}
steps:
  - connect: "${{url}}"
  - send: "{send}"
  - expect: {{text: "{expect}", timeout: 200ms}}
"""


def write(folder: Path, name: str, passes: bool) -> None:
    text = SCENARIO.format(name=name, send="ping", expect="ping" if passes else "pong")
    (folder / f"{name}.yaml").write_text(text, encoding="utf-8")


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project (wsrun.toml) with scenarios a, b, c; b fails; the cwd."""
    (tmp_path / "wsrun.toml").write_text("", encoding="utf-8")
    (tmp_path / "s").mkdir()
    for name in ("a", "b", "c"):
        write(tmp_path / "s", name, passes=name != "b")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(url: str, *args: str) -> tuple[int, str, list[str]]:
    """`wsrun run s ARGS`: the exit code, the output, the names of the scenarios that ran."""
    console = Console(file=StringIO(), width=200, color_system=None)
    code = main(["s", "-q", "--json-report", "r.json", "--var", f"url={url}", *args], console)
    out = console.file.getvalue()  # type: ignore[attr-defined]
    ran = [s["name"] for s in json.loads(Path("r.json").read_text(encoding="utf-8"))["scenarios"]]
    return code, out, ran


def cache() -> dict[str, bool]:
    data = json.loads(Path(CACHE_FILE).read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def test_last_failed_reruns_what_failed(project: Path) -> None:
    with websockets_server(echo) as server:
        url = url_of(server)
        code, out, ran = run(url, "--last-failed")  # no cache yet: everything runs
        assert code == ExitCode.FAILED and ran == ["a", "b", "c"], out
        assert f"--last-failed: no failure recorded in {CACHE_FILE}: running all 3 selected" in out
        assert cache() == {"s/b.yaml::b": True}
        assert (project / ".wsrun_cache" / ".gitignore").read_text().endswith("*\n")
        assert (project / ".wsrun_cache" / "CACHEDIR.TAG").read_text().startswith("Signature: ")

        code, out, ran = run(url, "--last-failed")
        assert code == ExitCode.FAILED and ran == ["b"], out
        assert "running the 1 scenario that failed last time (2 of the 3 selected left out)" in out

        write(project / "s", "b", passes=True)  # the fix
        code, out, ran = run(url, "--last-failed")
        assert code == ExitCode.OK and ran == ["b"], out
        assert cache() == {}

        code, out, ran = run(url, "--last-failed")  # like pytest's --lf: then all again
        assert code == ExitCode.OK and ran == ["a", "b", "c"], out
        assert "no failure recorded" in out
    leftovers = [p.name for p in (project / ".wsrun_cache").iterdir()]
    assert sorted(leftovers) == [".gitignore", "CACHEDIR.TAG", "lastfailed"]  # no temp file


def test_failures_not_run_are_kept(project: Path) -> None:
    write(project / "s", "c", passes=False)
    with websockets_server(echo) as server:
        url = url_of(server)
        assert run(url)[0] == ExitCode.FAILED
        assert cache() == {"s/b.yaml::b": True, "s/c.yaml::c": True}
        write(project / "s", "c", passes=True)
        code, out, ran = run(url, "-k", "c")  # b is not selected: it stays recorded
        assert code == ExitCode.OK and ran == ["c"], out
        assert cache() == {"s/b.yaml::b": True}
        code, out, ran = run(url, "--last-failed", "-k", "a or c")
        assert ran == ["a", "c"], out
        assert "--last-failed: none of the 1 recorded failure is selected: running all 2" in out
        code, out, ran = run(url, "--last-failed", "-x")
        assert code == ExitCode.FAILED and ran == ["b"], out


def test_the_cache_is_shared_by_working_folder_not_by_path_spelling(project: Path) -> None:
    """A scenario's id is relative to the project root, so `s/b.yaml` and `./s/./b.yaml`
    are one scenario; a run that passes everything and has no cache writes nothing."""
    (project / "s" / "b.yaml").unlink()
    with websockets_server(echo) as server:
        url = url_of(server)
        assert run(url)[0] == ExitCode.OK
        assert not (project / ".wsrun_cache").exists()
        write(project / "s", "b", passes=False)
        console = Console(file=StringIO(), width=200, color_system=None)
        assert main(["./s/./b.yaml", "--var", f"url={url}"], console) == ExitCode.FAILED
        code, out, ran = run(url, "--last-failed")
        assert code == ExitCode.FAILED and ran == ["b"], out


def test_a_broken_cache_counts_as_empty(project: Path) -> None:
    (project / ".wsrun_cache").mkdir()
    Path(CACHE_FILE).write_text("{not json", encoding="utf-8")
    with websockets_server(echo) as server:
        code, out, ran = run(url_of(server), "--last-failed")
    assert code == ExitCode.FAILED and ran == ["a", "b", "c"] and "no failure recorded" in out, out
    assert cache() == {"s/b.yaml::b": True}  # and it is written anew


def test_a_cache_that_cannot_be_written_is_said_and_changes_no_exit_code(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / ".wsrun_cache").write_text("a file where the folder would be", encoding="utf-8")
    with websockets_server(echo) as server:
        code, out, _ = run(url_of(server))
    assert code == ExitCode.FAILED, out
    assert "wsrun: warning: cannot write the --last-failed cache .wsrun_cache/lastfailed" in (
        capsys.readouterr().err
    )


def test_last_failed_with_shards(project: Path) -> None:
    """--last-failed and --shard together: each shard re-runs its own failures."""
    for name in ("d", "e", "f", "g", "h"):
        write(project / "s", name, passes=False)
    with websockets_server(echo) as server:
        url = url_of(server)
        assert run(url)[0] == ExitCode.FAILED
        failed = {key.rpartition("::")[2] for key in cache()}
        assert failed == {"b", "d", "e", "f", "g", "h"}
        ran = []
        for index in (1, 2):
            code, out, names = run(url, "--last-failed", "--shard", f"{index}/2")
            assert code == ExitCode.FAILED, out  # the hash split puts failures in both
            ran += names
        assert sorted(ran) == sorted(failed)


def test_in_a_subprocess_as_ci_runs_it(project: Path) -> None:
    with websockets_server(echo) as server:
        command = [sys.executable, "-m", "runner", "s", "--var", f"url={url_of(server)}", "-q"]
        results = [
            subprocess.run(
                [*command, *extra],
                capture_output=True,
                text=True,
                timeout=timeout(20),
                cwd=project,
                env=os.environ | {"PYTHONHASHSEED": seed},
            )
            for extra, seed in (([], "1"), (["--last-failed"], "2"))
        ]
    first, second = results
    assert first.returncode == second.returncode == ExitCode.FAILED
    assert "--last-failed: running the 1 scenario that failed last time" in second.stdout
    assert "PASSED a" in first.stdout and "PASSED a" not in second.stdout, second.stdout
    assert second.stderr == ""


def test_entries_of_gone_files_outside_any_project_are_dropped(
    project: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    outside = tmp_path_factory.mktemp("outside")  # no .git, pyproject.toml, wsrun.toml above
    write(outside, "gone", passes=False)
    with websockets_server(echo) as server:
        url = url_of(server)
        console = Console(file=StringIO(), width=200, color_system=None)
        assert main([str(outside), "--var", f"url={url}"], console) == ExitCode.FAILED
        assert cache() == {f"{outside.as_posix()}/gone.yaml::gone": True}
        (outside / "gone.yaml").unlink()
        write(project / "s", "b", passes=True)
        assert run(url)[0] == ExitCode.OK
    assert cache() == {}


def test_two_runs_at_once_both_count(project: Path) -> None:
    """Each run merges its results into the file as it ends, not into what it read at start."""
    from runner.events import ScenarioEnded, Status
    from runner.last_failed import LastFailedRecorder
    from runner.scenario import load_suite

    url = {"url": "ws://127.0.0.1:1/"}
    first, second = (load_suite([f"s/{n}.yaml"], url).scenarios for n in ("a", "c"))
    recorders = [LastFailedRecorder(first), LastFailedRecorder(second)]  # both started
    for recorder, name in zip(recorders, ("a", "c"), strict=True):
        recorder(
            ScenarioEnded(
                at=0.0,
                scenario=0,
                name=name,
                status=Status.FAILED,
                duration=0.0,
                steps_passed=0,
                steps_total=1,
            )
        )
    for recorder in recorders:
        recorder.close()
    assert cache() == {"s/a.yaml::a": True, "s/c.yaml::c": True}
