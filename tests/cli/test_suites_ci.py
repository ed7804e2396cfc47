"""Suites that hold in CI (issue 14, "Services" and "Folders and selection"), through the CLI.

Every test runs `wsrun` in-process (`runner.cli.main`) against real services started by the
suite file (the built-in server, `sh`), in a folder bounded by a `wsrun.toml` so that the
suite-file lookup does not wander above the test's folder.
"""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import pytest
from rich.console import Console

from runner.cli import ExitCode, main

SERVER = """\
  - name: server
    command: [wsrun, serve, --port, "0"]
    ready: {log: 'listening on (?P<url>ws://\\S+)'}
    provides: {base: "${url}"}
"""

ECHO = """\
name: %s
steps:
  - connect: "${base}/echo"
  - send: "${who}"
  - expect: "${who}"
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def cli(*args: str) -> tuple[int, str]:
    console = Console(file=StringIO(), width=200, color_system=None)
    code = main(list(args), console=console)
    return code, console.file.getvalue()  # type: ignore[attr-defined]


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project folder (with a wsrun.toml: the suite-file lookup stops there), as the cwd."""
    (tmp_path / "wsrun.toml").write_text("", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def report(path: Path) -> dict[str, object]:
    data = json.loads(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def services_of(path: Path) -> dict[str, dict[str, object]]:
    return {s["name"]: s for s in report(path)["services"]}  # type: ignore[attr-defined]


# -- services ------------------------------------------------------------------------------------


def test_a_later_service_uses_what_an_earlier_one_provides_and_numbers_become_text(
    project: Path,
) -> None:
    """Before: `unknown variable 'http'` (a ~160-line traceback, exit 3); a number in a list
    command was a TypeError."""
    suite = f"""\
vars: {{who: hello, n: 18080}}
services:
{SERVER}  - name: second
    command: [sh, -c, 'echo "second sees $0 and $1"; exec sleep 60', "${{base}}/echo", "${{n}}"]
    ready: {{log: 'second sees (?P<target>\\S+)'}}
    provides: {{target: "${{target}}"}}
"""
    write(project, "wsrun-suite.yaml", suite)
    write(project, "s.yaml", ECHO.replace('"${base}/echo"', '"${target}"') % "chained")
    assert cli("validate", ".") == (ExitCode.OK, "valid: 1 path checked, no errors\n")
    code, out = cli(".", "--json-report", "r.json")
    assert code == ExitCode.OK, out
    assert "PASSED chained" in out
    output = str(services_of(project / "r.json")["second"]["output"])
    assert "second sees ws://127.0.0.1:" in output
    assert "/echo and 18080" in output


def test_unresolvable_service_references_are_located_errors_of_validate_and_run(
    project: Path,
) -> None:
    """Before: `wsrun validate` said the suite file was valid, and `run` crashed (exit 3)."""
    suite = """\
services:
  - name: first
    command: 'touch started.txt; echo ${HOME}; exec sleep 60'
    ready: {log: started}
  - name: second
    command: [sh, -c, "echo ${later}; exec sleep 60"]
    ready: {log: "."}
  - name: third
    command: [sh, -c, "exec sleep 60"]
    ready: {log: "."}
    provides: {later: "x"}
  - name: fourth
    command: [sh, -c, "exec sleep 60"]
    env: {X: "${nope}"}
    ready: {url: "ws://127.0.0.1:${prot}/"}
"""
    write(project, "wsrun-suite.yaml", suite)
    write(project, "s.yaml", "name: s\nsteps: [{sleep: 1ms}]\n")
    for command in (["validate", "."], ["run", "."]):
        code, out = cli(*command)
        assert code == ExitCode.USAGE, out
        assert "wsrun-suite.yaml:3:14: unknown variable 'HOME' in service 'first'" in out
        assert "write $${HOME}, or ${env.HOME}" in out
        assert "wsrun-suite.yaml:6:23: unknown variable 'later' in service 'second'" in out
        assert "services start in order" in out
        assert "wsrun-suite.yaml:14:14: unknown variable 'nope' in service 'fourth'" in out
        assert "wsrun-suite.yaml:15:18: unknown variable 'prot' in service 'fourth'" in out
        assert "Traceback" not in out
    assert not (project / "started.txt").exists()  # nothing started


def test_a_literal_shell_variable_is_written_double_dollar_or_env(project: Path) -> None:
    suite = """\
services:
  - name: shell
    command: 'WORD=from-the-shell; echo "word=$${WORD} env=${env.HOME}"; exec sleep 60'
    ready: {log: 'word='}
"""
    write(project, "wsrun-suite.yaml", suite)
    write(project, "s.yaml", "name: s\nsteps: [{sleep: 1ms}]\n")
    assert cli("validate", ".")[0] == ExitCode.OK
    code, out = cli(".", "--json-report", "r.json")
    assert code == ExitCode.OK, out
    output = str(services_of(project / "r.json")["shell"]["output"])
    assert "word=from-the-shell env=" in output
    assert "${env.HOME}" not in output and "env=\n" not in output  # rendered (maybe redacted)


def test_var_reaches_the_services_commands_env_and_provides(project: Path) -> None:
    """Before: the services saw the suite's own `vars` only."""
    suite = f"""\
vars: {{who: suite-value}}
services:
{SERVER}  - name: shell
    command: [sh, -c, 'echo "command=$0 env=$GREETING"; exec sleep 60', "${{who}}"]
    env: {{GREETING: "${{who}}"}}
    ready: {{log: 'command='}}
    provides: {{said: "${{who}}"}}
"""
    write(project, "wsrun-suite.yaml", suite)
    write(project, "s.yaml", ECHO.replace('"${who}"', '"${said}"') % "said")
    code, out = cli(".", "--var", "who=from-cli", "--json-report", "r.json")
    assert code == ExitCode.OK, out
    services = services_of(project / "r.json")
    assert "command=from-cli env=from-cli" in str(services["shell"]["output"])
    assert services["shell"]["provides"] == {"said": "from-cli"}
    assert "suite-value" not in out


def test_a_service_that_exits_during_the_run_is_told_at_once_and_named_in_failures(
    project: Path,
) -> None:
    """Before: the scenarios failed with connection errors, and nobody said the server exited."""
    suite = """\
services:
  - name: app
    command: 'echo ready; sleep 0.3; echo "app: out of memory"; exit 3'
    ready: {log: ready}
"""
    write(project, "wsrun-suite.yaml", suite)
    # a outlasts the service by 1.7 s: the watcher tells its exit before b starts, under load too
    write(project, "a.yaml", "name: a first\nsteps: [{sleep: 2s}]\n")
    write(project, "b.yaml", "name: b then\nsteps: [{connect: 'ws://127.0.0.1:1/'}]\n")
    code, out = cli(".")
    assert code == ExitCode.FAILED, out
    told = out.index("output of service 'app' (exited with code 3 while the scenarios ran)")
    assert out.index("app: out of memory", told) < out.index("ERROR b then")
    failed = out[out.index("ERROR b then") :]
    assert "service 'app' exited with code 3 at " in failed
    assert out.count("exited with code 3 while the scenarios ran") == 1


def test_service_output_is_shown_once_per_run_and_kept_whole_in_the_report(
    project: Path,
) -> None:
    """Before: after every failing scenario, the whole output of every service (3 dumps here)."""
    suite = """\
services:
  - name: ticker
    command: >-
      echo "ticker banner"; for i in 1 2 3 4 5 6 7 8 9; do echo "tick-$i"; sleep 0.05; done;
      exec sleep 60
    ready: {log: banner}
"""
    write(project, "wsrun-suite.yaml", suite)
    for name in "abc":
        steps = "[{sleep: 150ms}, {connect: 'ws://127.0.0.1:1/'}]"
        write(project, f"{name}.yaml", f"name: {name}\nsteps: {steps}\n")
    code, out = cli(".", "--json-report", "r.json")
    assert code == ExitCode.FAILED, out
    assert out.count("ticker banner") == 1
    ticks = [line.strip() for line in out.splitlines() if line.strip().startswith("tick-")]
    assert ticks, out
    assert len(ticks) == len(set(ticks)), "a line of service output was shown twice"
    assert out.count("printed while 'a' ran") == 1
    whole = str(services_of(project / "r.json")["ticker"]["output"])
    assert "ticker banner" in whole
    assert len([line for line in whole.splitlines() if line.startswith("tick-")]) >= len(ticks)


# -- folders and selection -----------------------------------------------------------------------


def two_suites(project: Path) -> None:
    for folder in ("alpha", "beta"):
        write(
            project, f"{folder}/wsrun-suite.yaml", f"vars: {{who: {folder}}}\nservices:\n{SERVER}"
        )
        write(project, f"{folder}/s.yaml", ECHO % f"{folder} echo")


def test_a_parent_folder_runs_each_scenario_with_its_nearest_suite_file(project: Path) -> None:
    """Before: `unknown variable` for every scenario, or `several suite files: ...; run them
    separately`."""
    two_suites(project)
    assert cli("validate", ".")[0] == ExitCode.OK
    code, out = cli(".", "--json-report", "r.json")
    assert code == ExitCode.OK, out
    assert "PASSED alpha echo" in out and "PASSED beta echo" in out
    assert "suite file alpha/wsrun-suite.yaml (1 scenario; services: server)" in out
    assert "suite file beta/wsrun-suite.yaml (1 scenario; services: server)" in out
    assert set(services_of(project / "r.json")) == {"alpha/server", "beta/server"}


def test_only_the_suites_of_selected_scenarios_start_their_services(project: Path) -> None:
    two_suites(project)
    code, out = cli(".", "-k", "beta", "--json-report", "r.json")
    assert code == ExitCode.OK, out
    assert "alpha/wsrun-suite.yaml" not in out
    assert set(services_of(project / "r.json")) == {"server"}


@pytest.mark.parametrize("marker", [".git", "pyproject.toml", "wsrun.toml"])
def test_the_suite_file_lookup_stops_at_the_projects_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, marker: str
) -> None:
    """Before: only `.git` stopped it; a suite file above a project's root was taken."""
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "wsrun-suite.yaml", "vars: {x: from-above}\n")
    write(tmp_path, "project/s.yaml", "name: s\nsteps: [{connect: 'ws://127.0.0.1:1/${x}'}]\n")
    write(tmp_path, f"project/{marker}" if marker != ".git" else "project/.git/HEAD", "")
    code, out = cli("validate", "project")
    assert code == ExitCode.USAGE
    assert "unknown variable 'x'" in out
    (tmp_path / "project" / "sub").mkdir()
    (tmp_path / "project" / "s.yaml").rename(tmp_path / "project" / "sub" / "s.yaml")
    write(tmp_path, "project/wsrun-suite.yaml", "vars: {x: nearest}\n")
    assert cli("validate", "project/sub")[0] == ExitCode.OK  # found one folder up


def test_quiet_says_which_suite_file_and_services_the_run_uses(project: Path) -> None:
    write(project, "wsrun-suite.yaml", f"vars: {{who: q}}\nservices:\n{SERVER}")
    write(project, "s.yaml", ECHO % "quiet")
    code, out = cli(".", "-q")
    assert code == ExitCode.OK, out
    assert out.splitlines()[0] == "suite file wsrun-suite.yaml (1 scenario; services: server)"


def selection(project: Path) -> None:
    for index, (name, tags) in enumerate(
        [("Engine.IO open", "[fast]"), ("Engine.IO close", "[slow]"), ("open and IO", "[fast]")]
    ):
        write(project, f"s{index}.yaml", f"name: {name}\ntags: {tags}\nsteps: [{{sleep: 1ms}}]\n")


def test_k_takes_a_quoted_phrase(project: Path) -> None:
    """Before: `-k '"Engine.IO open"'` failed with `unexpected "Engine'"`."""
    selection(project)
    code, out = cli(".", "-k", '"Engine.IO open"')
    assert code == ExitCode.OK, out
    assert "PASSED Engine.IO open" in out
    assert "Engine.IO close" not in out and "open and IO" not in out
    code, out = cli(".", "-k", "'open and' or close")
    assert code == ExitCode.OK, out
    assert "PASSED open and IO" in out and "PASSED Engine.IO close" in out
    assert "Engine.IO open" not in out
    code, out = cli(".", "-k", '"Engine.IO')
    assert code == ExitCode.USAGE
    assert 'the quote " is not closed' in out


def test_exclude_tag_leaves_out_scenarios(project: Path) -> None:
    selection(project)
    code, out = cli(".", "--exclude-tag", "slow")
    assert code == ExitCode.OK, out
    assert "PASSED Engine.IO open" in out and "PASSED open and IO" in out
    assert "Engine.IO close" not in out
    code, out = cli(".", "--tag", "fast", "--exclude-tag", "fast")
    assert code == ExitCode.USAGE
    assert "none selected" in out
