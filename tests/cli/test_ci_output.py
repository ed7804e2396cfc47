"""What a CI log gets: no wrapping when piped (unless COLUMNS says a width), a quiet -q, and
report files with the user's umask."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from io import StringIO
from pathlib import Path

from rich.console import Console
from websockets.sync.server import ServerConnection

from runner.cli import ExitCode, main
from tests.support import echo, timeout, url_of, websockets_server

LONG_NAME = "a scenario whose name is long enough to wrap at eighty columns " * 2

FAILS = f"""
name: {LONG_NAME.strip()}
timeout: 200ms
steps:
  - connect: "${{url}}"
  - send: {{json: {{text: "{"word " * 30}"}}}}
  - expect: {{json: {{text: something else entirely, long enough to wrap a line at eighty}}}}
"""


def _piped(folder: Path, url: str, **env: str) -> str:
    (folder / "fails.yaml").write_text(FAILS, encoding="utf-8")
    environment = {k: v for k, v in os.environ.items() if k != "COLUMNS"} | env
    result = subprocess.run(
        [sys.executable, "-m", "runner", str(folder / "fails.yaml"), "--var", f"url={url}"],
        capture_output=True,
        text=True,
        timeout=timeout(10),
        env=environment,
    )
    assert result.returncode == ExitCode.FAILED, result.stdout + result.stderr
    return result.stdout


def test_piped_output_does_not_wrap_without_columns(tmp_path: Path) -> None:
    with websockets_server(echo) as server:
        out = _piped(tmp_path, url_of(server))
    lines = out.splitlines()
    name = LONG_NAME.strip()
    assert any(line.startswith(name) and "failed" in line for line in lines), out  # the table
    assert f"✗ FAILED {name}" in out
    assert any(len(line) > 120 for line in lines)


def test_piped_output_wraps_at_columns_when_it_is_set(tmp_path: Path) -> None:
    with websockets_server(echo) as server:
        out = _piped(tmp_path, url_of(server), COLUMNS="100")
    lines = out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.split()[:2] == ["scenario", "result"])
    table = lines[header : header + 3]
    assert all(len(line) <= 100 for line in table), table


def chatty(conn: ServerConnection) -> None:
    """Say hello (a message no step expects), then echo."""
    conn.send("hello, unexpected")
    for message in conn:
        conn.send(message)


PASSES = """
name: passes with noise
steps:
  - connect: "${url}"
  - send: ping
  - expect: {text: ping}
  - close: {}
"""


def test_quiet_is_one_line_per_passed_scenario(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text(PASSES, encoding="utf-8")
    console = Console(file=StringIO(), width=100, color_system=None)
    with websockets_server(chatty) as server:
        code = main([str(tmp_path / "p.yaml"), "-q", "--var", f"url={url_of(server)}"], console)
    out = console.file.getvalue()  # type: ignore[attr-defined]
    assert code == ExitCode.OK, out
    assert "✓ PASSED passes with noise" in out
    assert "unexpected" not in out


def test_report_files_get_the_users_umask(tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_text("name: naps\nsteps:\n  - sleep: 10ms\n", encoding="utf-8")
    for mask, mode in ((0o022, 0o644), (0o077, 0o600), (0o002, 0o664)):
        previous = os.umask(mask)
        try:
            report, junit = tmp_path / f"r{mask}.json", tmp_path / f"j{mask}.xml"
            console = Console(file=StringIO(), width=100, color_system=None)
            argv = [str(tmp_path / "s.yaml"), "--json-report", str(report)]
            code = main([*argv, "--junit-xml", str(junit)], console)
        finally:
            os.umask(previous)
        assert code == ExitCode.OK
        assert stat.S_IMODE(report.stat().st_mode) == mode, oct(report.stat().st_mode)
        assert stat.S_IMODE(junit.stat().st_mode) == mode
