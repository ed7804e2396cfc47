"""`wsrun` end to end against real servers on loopback: exit codes, output, reports, Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from io import StringIO
from pathlib import Path

import jsonschema
import pytest
from rich.console import Console

from runner.cli import ExitCode, main
from runner.report.report_schema import report_json_schema
from tests.integration.executor import peers
from tests.support import echo, timeout, url_of, websockets_server

PASSING = """
name: echo works
tags: [smoke]
steps:
  - connect: {conn: a, url: "${url}"}
  - send: {conn: a, json: {type: hello, n: 1}}
  - expect: {conn: a, json: {type: hello}}
  - close: {conn: a}
"""

FAILING = """
name: echo mismatch
timeout: 300ms
steps:
  - connect: {conn: a, url: "${url}"}
  - send: {conn: a, json: {type: said, text: hi}}
  - expect: {conn: a, json: {type: said, text: hello}}
"""

WAITS = """
name: waits long
timeout: 60s
steps:
  - connect: {conn: a, url: "${url}"}
  - send: {conn: a, text: anyone}
  - expect: {conn: a, text: never}
"""


def write(folder: Path, **files: str) -> Path:
    for name, text in files.items():
        (folder / f"{name}.yaml").write_text(text, encoding="utf-8")
    return folder


def cli(*argv: str) -> tuple[int, str]:
    """Run `wsrun argv` in-process on a plain 100-column console; return (exit code, text)."""
    console = Console(file=StringIO(), width=100, color_system=None)
    code = main(list(argv), console=console)
    return code, console.file.getvalue()  # type: ignore[attr-defined]


def test_version_is_printed_and_exits_0(capsys: object) -> None:
    assert main(["--version"]) == ExitCode.OK
    assert capsys.readouterr().out.strip().startswith("wsrun ")  # type: ignore[attr-defined]


def test_a_passing_run_exits_0_and_writes_both_reports(tmp_path: Path) -> None:
    (tmp_path / "s").mkdir()
    folder = write(tmp_path / "s", ok=PASSING)
    junit, report = tmp_path / "junit.xml", tmp_path / "report.json"
    with websockets_server(echo) as server:
        code, out = cli(
            str(folder),
            "--var",
            f"url={url_of(server)}",
            "--junit-xml",
            str(junit),
            "--json-report",
            str(report),
        )
    assert code == ExitCode.OK, out
    assert "✓ PASSED echo works" in out
    assert '→ sent      {"type":"hello","n":1}' in out
    data = json.loads(report.read_text(encoding="utf-8"))
    jsonschema.validate(data, report_json_schema())
    assert data["status"] == "passed" and data["scenarios"][0]["steps_passed"] == 4
    case = ET.parse(junit).getroot().find(".//testcase")
    assert case is not None and case.get("name") == "echo works"
    assert case.find("failure") is None and "→ sent" in (case.findtext("system-out") or "")


def test_a_failing_run_exits_1_and_shows_what_failed(tmp_path: Path) -> None:
    write(tmp_path, bad=FAILING)
    junit = tmp_path / "junit.xml"
    with websockets_server(echo) as server:
        code, out = cli(
            str(tmp_path / "bad.yaml"), "--var", f"url={url_of(server)}", "--junit-xml", str(junit)
        )
    assert code == ExitCode.FAILED
    assert "✗ FAILED echo mismatch" in out
    assert "bad.yaml:7:5 (step 3, expect on a)" in out
    assert 'closest:  {"type":"said","text":"hi"}' in out
    assert '-  "text": "hello"' in out and '+  "text": "hi"' in out
    assert "last frames on a:" in out
    assert out.rstrip().endswith("s") and "FAILED: 1 failed" in out
    failure = ET.parse(junit).getroot().find(".//testcase/failure")
    assert failure is not None and "matched within" in (failure.get("message") or "")


def test_invalid_input_exits_2(tmp_path: Path) -> None:
    write(tmp_path, broken="name: broken\nsteps:\n  - sned: hi\n")
    code, out = cli(str(tmp_path / "broken.yaml"))
    assert code == ExitCode.USAGE
    assert "broken.yaml:3" in out
    assert cli("--jobs", "0", str(tmp_path))[0] == ExitCode.USAGE
    assert cli(str(tmp_path), "--var", "novalue")[0] == ExitCode.USAGE


def test_no_scenario_selected_exits_2(tmp_path: Path) -> None:
    write(tmp_path, ok=PASSING)
    code, out = cli(str(tmp_path), "--var", "url=ws://127.0.0.1:9", "-k", "nothing")
    assert code == ExitCode.USAGE and "none selected" in out
    code, out = cli(str(tmp_path), "--var", "url=ws://127.0.0.1:9", "-k", "echo and (")
    assert code == ExitCode.USAGE and "-k" in out


def test_tag_and_keyword_select_scenarios(tmp_path: Path) -> None:
    write(tmp_path, ok=PASSING, bad=FAILING)
    with websockets_server(echo) as server:
        url = f"url={url_of(server)}"
        assert cli(str(tmp_path), "--var", url, "--tag", "smoke")[0] == ExitCode.OK
        assert cli(str(tmp_path), "--var", url, "-k", "echo and not mismatch")[0] == ExitCode.OK
        assert cli(str(tmp_path), "--var", url, "-k", "mismatch", "-q")[0] == ExitCode.FAILED


def test_a_service_that_does_not_start_exits_3_with_its_output(tmp_path: Path) -> None:
    suite = (
        "services:\n  - name: broken\n"
        "    command: \"echo starting up; echo 'port in use' >&2; exit 4\"\n"
        "    ready: {port: 9}\n    timeout: 5s\n"
    )
    write(tmp_path, **{"wsrun-suite": suite, "ok": PASSING})
    report = tmp_path / "report.json"
    code, out = cli(str(tmp_path), "--var", "url=ws://127.0.0.1:9", "--json-report", str(report))
    assert code == ExitCode.INTERNAL
    assert "output of service 'broken'" in out and "port in use" in out
    data = json.loads(report.read_text(encoding="utf-8"))
    assert data["status"] == "error" and data["scenarios"][0]["status"] == "skipped"


def test_a_server_that_dies_mid_scenario_exits_1_and_the_next_scenario_runs(
    tmp_path: Path,
) -> None:
    dies = FAILING.replace("timeout: 300ms", "timeout: 30s").replace("${url}", "${dying}")
    write(tmp_path, a_dies=dies, b_ok=PASSING)
    with websockets_server(peers.dies_after_first) as dying, websockets_server(echo) as alive:
        started = time.monotonic()
        code, out = cli(
            str(tmp_path), "--var", f"dying={url_of(dying)}", "--var", f"url={url_of(alive)}"
        )
    assert time.monotonic() - started < timeout(5)
    assert code == ExitCode.FAILED
    assert "closed before a matching message (close 1006" in out
    assert "✓ PASSED echo works" in out


def test_jobs_run_scenarios_concurrently(tmp_path: Path) -> None:
    for i in range(6):
        write(tmp_path, **{f"s{i}": f"name: sleeper {i}\nsteps:\n  - sleep: 300ms\n"})
    started = time.monotonic()
    code, out = cli(str(tmp_path), "-j", "6")
    assert code == ExitCode.OK
    assert time.monotonic() - started < 1.2, "6 x 300 ms on 6 workers"
    assert "6 scenarios on 6 workers" in out and "6 passed" in out


def test_validate_and_schema(tmp_path: Path) -> None:
    write(tmp_path, ok=PASSING)
    assert cli("validate", str(tmp_path), "--var", "url=ws://x")[0] == ExitCode.OK
    code, out = cli("validate", str(tmp_path))
    assert code == ExitCode.USAGE and "ok.yaml:5:29: unknown variable 'url'" in out
    write(tmp_path, broken="name: broken\nsteps:\n  - sned: hi\n")
    assert cli("validate", str(tmp_path), "--var", "url=ws://x")[0] == ExitCode.USAGE
    code, out = cli("schema", "--report")
    assert code == ExitCode.OK and json.loads(out) == report_json_schema()
    code, out = cli("schema")
    assert code == ExitCode.OK and "properties" in json.loads(out)


def _reader(
    proc: subprocess.Popen[str], marker: str, lines: list[str]
) -> tuple[threading.Event, threading.Thread]:
    """Collect the process's output lines on a thread; the event is set once `marker` shows."""
    seen = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if marker in line:
                seen.set()

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    return seen, thread


def test_ctrl_c_exits_130_and_writes_the_reports(tmp_path: Path) -> None:
    write(tmp_path, waits=WAITS)
    junit, report = tmp_path / "junit.xml", tmp_path / "report.json"
    with websockets_server(peers.silent) as server:
        command = [
            sys.executable,
            "-m",
            "runner",
            str(tmp_path / "waits.yaml"),
            "--no-color",
            "--var",
            f"url={url_of(server)}",
            "--junit-xml",
            str(junit),
            "--json-report",
            str(report),
        ]
        env = {**os.environ, "COLUMNS": "100"}
        lines: list[str] = []
        with subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
        ) as proc:
            try:
                seen, reader = _reader(proc, "→ sent", lines)
                assert seen.wait(timeout(10)), "".join(lines)
                time.sleep(0.1)  # now inside the expect's wait
                started = time.monotonic()
                proc.send_signal(signal.SIGINT)
                code = proc.wait(timeout(10))
            finally:
                _stop_gently(proc)
                reader.join(timeout(5))  # it ends at the end of the output
    assert code == ExitCode.INTERRUPTED, "".join(lines)
    assert time.monotonic() - started < timeout(3)
    data = json.loads(report.read_text(encoding="utf-8"))
    jsonschema.validate(data, report_json_schema())
    assert data["status"] == "interrupted"
    assert data["scenarios"][0]["status"] == "interrupted"
    assert any(e["type"] == "connection_closed" for e in data["events"])
    error = ET.parse(junit).getroot().find(".//testcase/error")
    assert error is not None and "interrupted" in (error.get("message") or "")


def test_a_report_that_cannot_be_written_exits_3(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path, ok=PASSING)
    (tmp_path / "taken").mkdir()  # a folder where the report file should go
    junit = tmp_path / "junit.xml"
    with websockets_server(echo) as server:
        code, out = cli(
            str(tmp_path / "ok.yaml"),
            "--var",
            f"url={url_of(server)}",
            "--json-report",
            str(tmp_path / "taken"),
            "--junit-xml",
            str(junit),
        )
    assert code == ExitCode.INTERNAL
    assert "PASSED: 1 passed" in out  # the verdict is unchanged
    err = capsys.readouterr().err
    assert err.startswith(f"wsrun: error: cannot write the JSON report to {tmp_path / 'taken'}: ")
    assert "Traceback" not in err  # the file system refused: no bug to show
    assert junit.exists()  # the other report is written


def test_piped_output_is_plain_and_a_refused_connection_exits_1(tmp_path: Path) -> None:
    write(tmp_path, ok=PASSING)
    with websockets_server(echo) as server:
        url = url_of(server)  # stopped on leaving: nothing listens there any more
    result = subprocess.run(
        [sys.executable, "-m", "runner", str(tmp_path), "--var", f"url={url}"],
        capture_output=True,
        text=True,
        timeout=timeout(20),
        env={**os.environ, "TERM": "xterm-256color"},
    )
    assert result.returncode == ExitCode.FAILED
    assert "\x1b[" not in result.stdout
    assert "✗ ERROR echo works" in result.stdout
    assert "cannot connect to ws://127.0.0.1:" in result.stdout


def test_version_starts_without_importing_heavy_modules() -> None:
    code = (
        "import sys; from runner.cli import main; main(['--version']);"
        "heavy = {'rich', 'pydantic', 'websocket', 'yaml'} & set(sys.modules);"
        "assert not heavy, heavy"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout(20)
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("wsrun ")


def test_timeout_caps_every_wait_of_a_scenario(tmp_path: Path) -> None:
    write(tmp_path, waits=WAITS)  # its expect would wait 60 s
    with websockets_server(peers.silent) as server:
        started = time.monotonic()
        code, out = cli(str(tmp_path), "--var", f"url={url_of(server)}", "--timeout", "300ms")
    assert code == ExitCode.FAILED
    assert 0.3 <= time.monotonic() - started < timeout(5)
    assert "the scenario ran out of its --timeout (0.3s) in step 3 (expect on 'a')" in out


SERVICE_SUITE = """
services:
  - name: server
    command: [wsrun, serve, --port, "0"]
    ready: {log: 'listening on (?P<url>ws://\\S+)'}
    provides: {base_url: "${url}"}
"""

SLEEPS = """
name: sleeps
steps:
  - connect: "${base_url}/echo"
  - sleep: 30s
"""


def test_ctrl_c_stops_the_suite_services_too(tmp_path: Path) -> None:
    (tmp_path / "wsrun-suite.yaml").write_text(SERVICE_SUITE, encoding="utf-8")
    (tmp_path / "sleeps.yaml").write_text(SLEEPS, encoding="utf-8")
    report = tmp_path / "report.json"
    command = [sys.executable, "-m", "runner", str(tmp_path), "--no-color"]
    lines: list[str] = []
    with subprocess.Popen(
        [*command, "--json-report", str(report)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    ) as proc:
        try:
            seen, reader = _reader(proc, "● open", lines)
            assert seen.wait(timeout(10)), "".join(lines)
            proc.send_signal(signal.SIGINT)
            code = proc.wait(timeout(10))
        finally:
            _stop_gently(proc)  # a killed wsrun could not stop its service
            reader.join(timeout(5))
    assert code == ExitCode.INTERRUPTED, "".join(lines)
    data = json.loads(report.read_text(encoding="utf-8"))
    [service] = data["services"]
    port = int(service["provides"]["base_url"].rsplit(":", 1)[1])
    import socket

    with socket.socket() as probe:  # the service was stopped with the run
        assert probe.connect_ex(("127.0.0.1", port)) != 0


def _stop_gently(proc: subprocess.Popen[str]) -> None:
    """Ctrl-C first, so that wsrun stops the services it started; kill only if that fails."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout(10))
        except subprocess.TimeoutExpired:
            proc.kill()
    proc.wait()
