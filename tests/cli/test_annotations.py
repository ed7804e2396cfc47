"""GitHub Actions annotations (issue 11, "The CLI in CI"): under ``GITHUB_ACTIONS=true`` or
with ``--annotations github``, each failure also prints an ``::error`` workflow command at the
failing step's YAML line, escaped as GitHub's workflow commands require."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from rich.console import Console

from runner.cli import ExitCode, main
from runner.report.annotations import escape_data, escape_property, github_path
from tests.support import echo, timeout, url_of, websockets_server

# The expect on line 8, column 5, fails: the echo server sends "ping" back.
FAILS = """\
name: "fails, with: 100%"
timeout: 1s
steps:
  - connect: "${url}"
  - send: ping
  - expect: {text: ping}
  - send: ping
  - expect: {text: pong, timeout: 100ms}
"""

PASSES = """\
name: passes
steps:
  - connect: "${url}"
  - send: ping
  - expect: {text: ping}
"""

REFUSED = """\
name: refused
steps:
  - sleep: 1ms
  - connect: "ws://127.0.0.1:%d/"
"""


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def project(root: Path) -> Path:
    checks = root / "checks"
    checks.mkdir()
    (checks / "fails.yaml").write_text(FAILS, encoding="utf-8")
    (checks / "passes.yaml").write_text(PASSES, encoding="utf-8")
    (checks / "refused.yaml").write_text(REFUSED % closed_port(), encoding="utf-8")
    (root / "ci").mkdir()
    return checks


def annotations(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith("::")]


def test_failures_are_annotated_at_their_step_under_github_actions(tmp_path: Path) -> None:
    """From a subfolder of the workspace, as a CI job with a working-directory runs it: the
    file is relative to GITHUB_WORKSPACE; properties and message are escaped."""
    project(tmp_path)
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    env |= {"GITHUB_ACTIONS": "true", "GITHUB_WORKSPACE": str(tmp_path)}
    with websockets_server(echo) as server:
        result = subprocess.run(
            [sys.executable, "-m", "runner", "../checks", "--var", f"url={url_of(server)}"],
            capture_output=True,
            text=True,
            timeout=timeout(20),
            env=env,
            cwd=tmp_path / "ci",
        )
    out = result.stdout
    assert result.returncode == ExitCode.FAILED, out + result.stderr
    lines = annotations(out)
    assert len(lines) == 2, out  # the passing scenario has none
    failed, refused = lines
    head, _, message = failed.partition("::no message")
    assert head == (
        "::error file=checks/fails.yaml,line=8,col=5,"
        "title=wsrun%3A fails%2C with%3A 100%25%3A failed (step 5%2C expect on default)"
    )
    assert "%0Aexpected: " in message and "%0Aclosest:  ping" in message, message
    assert "\r" not in failed and "last frames" not in failed
    assert refused.startswith(
        "::error file=checks/refused.yaml,line=4,col=5,"
        "title=wsrun%3A refused%3A error (step 2%2C connect on default)::cannot connect to "
    ), refused
    # the annotations come after the run's summary
    assert out.index("FAILED: 1 passed") < out.index("::error")


def run(args: list[str], url: str) -> tuple[int, str]:
    console = Console(file=StringIO(), width=120, color_system=None)
    code = main([*args, "--var", f"url={url}"], console)
    return code, console.file.getvalue()  # type: ignore[attr-defined]


def test_the_option_and_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    checks = project(tmp_path)
    monkeypatch.chdir(tmp_path)  # the --last-failed cache goes there
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    fails = str(checks / "fails.yaml")
    with websockets_server(echo) as server:
        code, out = run([fails], url_of(server))
        assert code == ExitCode.FAILED and not annotations(out), out  # not in CI: none
        code, out = run([fails, "--annotations", "github"], url_of(server))
        assert code == ExitCode.FAILED
        assert [line[:9] for line in annotations(out)] == ["::error f"], out
        monkeypatch.setenv("GITHUB_ACTIONS", "true")
        code, out = run([fails], url_of(server))
        assert len(annotations(out)) == 1, out
        code, out = run([fails, "--annotations", "none"], url_of(server))
        assert code == ExitCode.FAILED and not annotations(out), out
        code, out = run([str(checks / "passes.yaml")], url_of(server))
        assert code == ExitCode.OK and not annotations(out), out


def test_secrets_are_masked_before_escaping(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A secret with characters that escaping changes is still masked in the annotation."""
    monkeypatch.chdir(tmp_path)
    secret = "s3cret:value,100%\r\nrest"
    (tmp_path / "leak.yaml").write_text(
        'name: leaks\nsteps:\n  - connect: "${url}"\n  - send: "${token}"\n'
        "  - expect: {text: never, timeout: 100ms}\n",
        encoding="utf-8",
    )
    with websockets_server(echo) as server:
        code, out = run(
            [str(tmp_path / "leak.yaml"), "--annotations", "github", "--secret", f"token={secret}"],
            url_of(server),
        )
    assert code == ExitCode.FAILED, out
    (line,) = annotations(out)
    assert "***" in line, line
    for part in ("s3cret", escape_data(secret), escape_property(secret)):
        assert part not in out, part


def test_escaping_follows_the_workflow_command_rules() -> None:
    assert escape_data("100% done\r\nnext: a, b") == "100%25 done%0D%0Anext: a, b"
    assert escape_property("a:b,c%\nd\re") == "a%3Ab%2Cc%25%0Ad%0De"
    assert escape_data("%0A") == "%250A"  # an escape in the text stays text


def test_github_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "repo" / ".git").mkdir(parents=True)
    (tmp_path / "repo" / "a" / "b").mkdir(parents=True)
    file = tmp_path / "repo" / "a" / "b" / "s.yaml"
    monkeypatch.chdir(tmp_path / "repo" / "a")
    assert github_path("b/s.yaml", {}) == "a/b/s.yaml"  # from the git root
    assert github_path(str(file), {"GITHUB_WORKSPACE": str(tmp_path)}) == "repo/a/b/s.yaml"
    assert github_path("/elsewhere/s.yaml", {"GITHUB_WORKSPACE": str(tmp_path)}) == (
        "/elsewhere/s.yaml"
    )


def test_past_ten_failures_a_warning_says_github_shows_no_more(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    port = closed_port()
    for index in range(12):
        (tmp_path / f"r{index:02}.yaml").write_text(REFUSED % port, encoding="utf-8")
    code, out = run([str(tmp_path), "--annotations", "github"], "unused")
    assert code == ExitCode.FAILED, out
    lines = annotations(out)
    assert [line[:8] for line in lines] == ["::error "] * 12 + ["::warnin"], out
    assert lines[-1] == (
        "::warning title=wsrun%3A 12 failures::GitHub shows the first 10 error annotations of a "
        "step: the JUnit and HTML reports and the log above hold every failure"
    )
    code, out = run([str(tmp_path / "r00.yaml"), "--annotations", "github"], "unused")
    assert [line[:8] for line in annotations(out)] == ["::error "], out
