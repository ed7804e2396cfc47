"""`wsrun` with a reporter that fails: same verdicts, every other report, exit 3, stderr.

The console reporter fails the way it does under ``wsrun ... | head``: its file raises
`BrokenPipeError`. The file reporters fail through a patched method (a reporter bug). Servers are
real, on loopback port 0.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import xml.etree.ElementTree as ET
from collections.abc import Callable
from io import StringIO
from pathlib import Path

import pytest
from websockets.sync.server import ServerConnection

from runner.cli import ExitCode, main, make_console
from runner.events import Event, FrameReceived
from runner.report.json_report import JsonReporter
from tests.cli.test_cli import FAILING, PASSING, _stop_gently, write
from tests.support import echo, timeout, url_of, websockets_server


class BreaksOn(StringIO):
    """A console's file that breaks like a closed pipe at the first write holding `text`."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text
        self.broken = False

    def write(self, s: str) -> int:
        self.broken = self.broken or self.text in s
        if self.broken:
            raise BrokenPipeError(32, "Broken pipe")
        return super().write(s)


def run_cli(folder: Path, url: str, file: StringIO, *extra: str) -> tuple[int, Path, Path]:
    """Run `wsrun` on `folder` printing to `file`, with both reports; return their paths."""
    report, junit = folder.parent / "report.json", folder.parent / "junit.xml"
    argv = [str(folder), "--var", f"url={url}", "--json-report", str(report)]
    argv += ["--junit-xml", str(junit), *extra]
    code = main(argv, console=make_console(no_color=True, file=file))
    return code, report, junit


def scenarios(folder: Path, **files: str) -> Path:
    folder.mkdir()
    return write(folder, **files)


def report_of(path: Path) -> dict[str, object]:
    data = json.loads(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def counts(data: dict[str, object]) -> dict[str, int]:
    events = data["events"]
    assert isinstance(events, list)
    found: dict[str, int] = {}
    for event in events:
        found[event["type"]] = found.get(event["type"], 0) + 1
    return found


def test_a_console_broken_at_the_first_message_exits_3_and_writes_the_reports(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = scenarios(tmp_path / "s", ok=PASSING)
    with websockets_server(echo) as server:
        code, report, junit = run_cli(folder, url_of(server), BreaksOn("← received"))
    err = capsys.readouterr().err
    assert code == ExitCode.INTERNAL, err
    assert err.startswith("wsrun: internal error: the console reporter failed on a frame_received")
    assert "Traceback (most recent call last):" in err and "BrokenPipeError" in err
    data = report_of(report)
    assert data["status"] == "passed" and counts(data)["frame_received"] == 1
    case = ET.parse(junit).getroot().find(".//testcase")
    assert case is not None and case.find("failure") is None and case.find("error") is None


def test_a_failing_scenario_still_fails_for_the_same_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = scenarios(tmp_path / "s", bad=FAILING)
    with websockets_server(echo) as server:
        code, report, _ = run_cli(folder, url_of(server), BreaksOn("← received"))
    assert code == ExitCode.INTERNAL
    assert "the console reporter failed on a frame_received" in capsys.readouterr().err
    data = report_of(report)
    [scenario] = data["scenarios"]  # type: ignore[misc]
    assert data["status"] == "failed" and scenario["status"] == "failed"
    assert scenario["failure"]["closest"] == '{"type":"said","text":"hi"}'


def test_a_console_broken_during_the_summary_exits_3(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = scenarios(tmp_path / "s", ok=PASSING)
    file = BreaksOn("PASSED: ")  # the last line, printed on run_ended
    with websockets_server(echo) as server:
        code, report, _ = run_cli(folder, url_of(server), file)
    assert code == ExitCode.INTERNAL
    assert "the console reporter failed on a run_ended event" in capsys.readouterr().err
    assert "✓ PASSED echo works" in file.getvalue()
    assert report_of(report)["status"] == "passed"


def test_parallel_scenarios_with_a_broken_console_all_pass(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = {f"ok{i}": PASSING.replace("echo works", f"echo {i}") for i in range(6)}
    folder = scenarios(tmp_path / "s", **files)
    with websockets_server(echo) as server:
        code, report, _ = run_cli(folder, url_of(server), BreaksOn("← received"), "-j", "3")
    assert code == ExitCode.INTERNAL
    assert capsys.readouterr().err.count("Traceback") == 1
    data = report_of(report)
    assert data["counts"] == {**dict.fromkeys(data["counts"], 0), "passed": 6}  # type: ignore[arg-type]
    assert counts(data)["frame_received"] == 6


def test_a_json_reporter_that_raises_writes_no_json_but_everything_else(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    keep: Callable[[JsonReporter, Event], None] = JsonReporter.__call__

    def raises(self: JsonReporter, event: Event) -> None:
        if isinstance(event, FrameReceived):
            raise ValueError("reporter bug")
        keep(self, event)

    monkeypatch.setattr(JsonReporter, "__call__", raises)
    monkeypatch.setattr(JsonReporter, "handler_for", lambda self, cls: self)  # every event
    folder = scenarios(tmp_path / "s", ok=PASSING)
    file = StringIO()
    with websockets_server(echo) as server:
        code, report, junit = run_cli(folder, url_of(server), file)
    err = capsys.readouterr().err
    assert code == ExitCode.INTERNAL
    assert f"the JSON report ({report}, not written) failed on a frame_received event" in err
    assert err.rstrip().endswith("ValueError: reporter bug")
    assert not report.exists()
    assert "✓ PASSED echo works" in file.getvalue() and "PASSED: 1 passed" in file.getvalue()
    assert ET.parse(junit).getroot().find(".//testcase") is not None


def test_a_report_that_fails_on_close_does_not_stop_the_others(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def fails(self: JsonReporter) -> None:
        raise RuntimeError("cannot serialise")

    monkeypatch.setattr(JsonReporter, "close", fails)
    folder = scenarios(tmp_path / "s", ok=PASSING)
    with websockets_server(echo) as server:
        code, _, junit = run_cli(folder, url_of(server), StringIO())
    err = capsys.readouterr().err
    assert code == ExitCode.INTERNAL
    assert err.startswith("wsrun: internal error: the JSON report failed on close")
    assert "RuntimeError: cannot serialise" in err
    assert junit.exists()


def test_a_closed_pipe_outside_a_run_is_one_line_on_stderr(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["schema"], console=make_console(no_color=True, file=BreaksOn("{")))
    assert code == ExitCode.INTERNAL
    assert capsys.readouterr().err == (
        "wsrun: error: the output was closed before its end (broken pipe)\n"
    )


GREETED = """
name: greeted
timeout: 60s
steps:
  - connect: "${url}"
  - expect: go
  - send: bye
  - expect: bye
  - close
"""


def greets_when(go: threading.Event) -> Callable[[ServerConnection], None]:
    """A server that sends ``go`` once `go` is set, then echoes."""

    def handler(conn: ServerConnection) -> None:
        go.wait(timeout(10))
        conn.send("go")
        for message in conn:
            conn.send(message)

    return handler


def test_stdout_closed_early_like_head_1_exits_3_with_the_traceback_on_stderr(
    tmp_path: Path,
) -> None:
    write(tmp_path, greeted=GREETED)
    report = tmp_path / "report.json"
    go = threading.Event()
    with websockets_server(greets_when(go)) as server:
        command = [sys.executable, "-m", "runner", str(tmp_path / "greeted.yaml")]
        command += ["--var", f"url={url_of(server)}", "--json-report", str(report)]
        with subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        ) as proc:
            try:
                assert proc.stdout is not None and proc.stderr is not None
                first = proc.stdout.readline()
                proc.stdout.close()  # what `head -1` does; "← received go" comes after it
                go.set()
                code = proc.wait(timeout(20))
                err = proc.stderr.read()
            finally:
                _stop_gently(proc)
    assert first.startswith("wsrun "), first
    assert code == ExitCode.INTERNAL, err
    assert "wsrun: internal error: the console reporter failed on a " in err
    assert "BrokenPipeError" in err and "Exception ignored" not in err
    data = report_of(report)
    assert data["status"] == "passed" and counts(data)["frame_received"] == 2
