"""`wsrun validate` on a suite file whose values only the suite file's models check."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

from rich.console import Console

from runner.cli import ExitCode, main

BAD_READY_LOG = """\
services:
  - name: server
    command: [wsrun, serve, --port, "0"]
    ready: {log: "listening on ("}
"""


def test_a_ready_log_that_is_no_regex_is_a_located_error_with_exit_2(tmp_path: Path) -> None:
    (tmp_path / "wsrun-suite.yaml").write_text(BAD_READY_LOG, encoding="utf-8")
    (tmp_path / "s.yaml").write_text("steps: [{connect: 'ws://127.0.0.1:1/'}]\n", encoding="utf-8")
    console = Console(file=StringIO(), width=100, color_system=None)
    code = main(["validate", str(tmp_path)], console=console)
    out = console.file.getvalue()  # type: ignore[attr-defined]
    assert code == ExitCode.USAGE == 2
    where = f"{tmp_path / 'wsrun-suite.yaml'}:4:18"
    assert f"{where}: invalid regular expression: missing ): listening on (" in out
    assert "Traceback" not in out
    assert out.endswith("1 error\n")


def test_a_ready_log_that_re2_cannot_take_is_a_located_error(tmp_path: Path) -> None:
    """`ready.log` is RE2, as the supervisor runs it: lookaround is refused, said so and located;
    a repetition count too large for Python's `re` (OverflowError before) is no crash."""
    suite = BAD_READY_LOG.replace('"listening on ("', "'(?=listening) on'")
    suite += '  - name: other\n    command: [wsrun, serve]\n    ready: {log: "a{4294967296}"}\n'
    (tmp_path / "wsrun-suite.yaml").write_text(suite, encoding="utf-8")
    (tmp_path / "s.yaml").write_text("steps: [{connect: 'ws://127.0.0.1:1/'}]\n", encoding="utf-8")
    console = Console(file=StringIO(), width=100, color_system=None)
    code = main(["validate", str(tmp_path)], console=console)
    out = console.file.getvalue()  # type: ignore[attr-defined]
    assert code == ExitCode.USAGE
    where = f"{tmp_path / 'wsrun-suite.yaml'}:4:18"
    assert f"{where}: invalid regular expression: RE2 does not support lookahead (?=...)" in out
    assert "Traceback" not in out and out.endswith("1 error\n")
