"""Start-up (issue 15, helper C of 2026-12-01): modules a run imports only when it needs them.

- `subprocess` and `shlex` (~3 ms): only the process supervisor uses them, to start a suite's
  services; a run of a file without services does not import them.
- `html` (~1.5 ms, with its entity tables): only the redactor uses it, for the escaped forms of a
  secret; a run without secrets, and ``wsrun validate``, do not import it.

Each is checked in a fresh process (what the process imported, not a time), and the features that
need the module still work through the CLI.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from runner.cli import ExitCode, main
from tests.support import echo, timeout, url_of, websockets_server

ROOT = Path(__file__).resolve().parents[2]
LATE = ("subprocess", "shlex", "html")
PROBE = """
import sys
from runner.cli import main
code = main(sys.argv[1:])
print("imported:", ",".join(m for m in {late!r} if m in sys.modules) or "none")
sys.exit(code)
"""

PAIRS = """\
name: pairs
steps:
  - connect: "${url}"
  - send: a
  - expect: {text: a}
  - close
"""


def _probe(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", PROBE.format(late=LATE), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout(30),
    )


def test_a_run_without_services_or_secrets_imports_neither_subprocess_nor_html(
    tmp_path: Path,
) -> None:
    (tmp_path / "pairs.yaml").write_text(PAIRS, encoding="utf-8")
    with websockets_server(echo) as server:
        done = _probe("run", "-q", str(tmp_path / "pairs.yaml"), "--var", f"url={url_of(server)}")
    assert done.returncode == ExitCode.OK, done.stdout + done.stderr
    assert "PASSED: 1 passed" in done.stdout
    assert done.stdout.splitlines()[-1] == "imported: none"


def test_validate_imports_no_html(tmp_path: Path) -> None:
    (tmp_path / "pairs.yaml").write_text(PAIRS, encoding="utf-8")
    done = _probe("validate", str(tmp_path / "pairs.yaml"), "--var", "url=ws://127.0.0.1:9/")
    assert done.returncode == ExitCode.OK, done.stdout + done.stderr
    assert done.stdout.splitlines() == ["valid: 1 path checked, no errors", "imported: none"]


def test_a_secret_s_html_escaped_form_is_still_masked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = tmp_path / "secret.yaml"
    scenario.write_text(
        'name: secret\nsteps:\n  - connect: "${url}"\n  - send: "x"\n'
        '  - expect: {text: "${token}"}\n  - close\n',
        encoding="utf-8",
    )
    with websockets_server(echo) as server:
        code = main(
            [
                "run",
                str(scenario),
                "--var",
                f"url={url_of(server)}",
                "--secret",
                "token=a<b&c",
                "--no-color",
            ]
        )
    out = capsys.readouterr().out
    assert code == ExitCode.FAILED
    assert "a<b&c" not in out and "a&lt;b&amp;c" not in out
    assert "***" in out


def test_a_service_still_starts_and_stops(tmp_path: Path) -> None:
    (tmp_path / "wsrun-suite.yaml").write_text(
        "services:\n"
        "  - name: server\n"
        "    command: [wsrun, serve, --port, '0']\n"
        "    ready: {log: 'listening on (?P<url>ws://\\S+)'}\n"
        "    timeout: 10s\n"
        "    provides: {url: '${url}/echo'}\n",
        encoding="utf-8",
    )
    (tmp_path / "pairs.yaml").write_text(PAIRS, encoding="utf-8")
    done = _probe("run", "-q", str(tmp_path))
    assert done.returncode == ExitCode.OK, done.stdout + done.stderr
    assert done.stdout.splitlines()[-1] == "imported: subprocess,shlex"
