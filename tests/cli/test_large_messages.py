"""Large messages and floods stay within bounds (issue 9, "Memory and time for large messages"):
reports hold a payload cut beyond `MAX_REPORT_PAYLOAD`, with its length and SHA-256, and an
inbox that overflows fails the scenario with a clear message instead of growing."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from io import StringIO
from pathlib import Path

import jsonschema
import pytest
from rich.console import Console
from websockets.sync.server import ServerConnection

import runner.executor.inbox as inbox_module
from runner.cli import ExitCode, main
from runner.report.payloads import MAX_REPORT_PAYLOAD
from runner.report.report_schema import report_json_schema
from runner.server import TestServer
from tests.support import timeout, url_of, websockets_server

ROOT = Path(__file__).resolve().parents[2]
SIZE = 16 * 1024 * 1024  # the largest message /large sends

LARGE = """
name: one large message, missed
steps:
  - connect: {conn: big, url: "${base}/large?size=%d"}
  - expect: {conn: big, text: never, timeout: 1s}
"""


def large_bytes(size: int) -> bytes:
    return bytes(i % 256 for i in range(256)) * (size // 256)


def run(tmp_path: Path, scenario: str, *argv: str) -> tuple[int, str]:
    path = tmp_path / "s.yaml"
    path.write_text(scenario, encoding="utf-8")
    console = Console(file=StringIO(), width=200, color_system=None)
    code = main([str(path), *argv], console=console)
    return code, console.file.getvalue()  # type: ignore[attr-defined]


def test_a_16_mib_message_is_stored_cut_with_its_length_and_hash(tmp_path: Path) -> None:
    report, junit = tmp_path / "r.json", tmp_path / "j.xml"
    with TestServer() as server:
        code, _ = run(
            tmp_path,
            LARGE % SIZE,
            "--var",
            f"base={server.url}",
            "--json-report",
            str(report),
            "--junit-xml",
            str(junit),
        )
    assert code == ExitCode.FAILED
    data = json.loads(report.read_text(encoding="utf-8"))
    jsonschema.validate(data, report_json_schema())
    digest = hashlib.sha256(large_bytes(SIZE)).hexdigest()
    frames = [e["data"] for e in data["events"] if e["type"] == "frame_received"]
    assert [(f["length"], f["sha256"]) for f in frames] == [(SIZE, digest)]
    failure = data["scenarios"][0]["failure"]
    assert failure["closest"]["sha256"] == digest  # the same payload, cut the same way
    assert report.stat().st_size < 1_000_000  # it held the payload seven times: 156 MB
    assert junit.stat().st_size < 500_000  # 50 MB before
    out = ET.parse(junit).getroot().findtext(".//system-out") or ""
    assert f"<{SIZE} bytes>" in out and f"({SIZE} bytes)" in out


def test_the_peak_memory_of_a_16_mib_message_stays_under_8_times_its_size(tmp_path: Path) -> None:
    scenario = tmp_path / "s.yaml"
    with TestServer() as server:
        scenario.write_text((LARGE % SIZE).replace("${base}", server.url), encoding="utf-8")
        command = [
            sys.executable,
            "-m",
            "runner",
            "run",
            str(scenario),
            "-q",
            "--json-report",
            str(tmp_path / "r.json"),
            "--junit-xml",
            str(tmp_path / "j.xml"),
        ]
        measure = (
            "import resource, subprocess, sys; "
            f"code = subprocess.run({command!r}, capture_output=True).returncode; "
            "print(code, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
        )
        result = subprocess.run(
            [sys.executable, "-c", measure],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=timeout(60),
        )
    code, peak_kib = (int(word) for word in result.stdout.split())
    assert code == ExitCode.FAILED, result.stderr
    assert peak_kib * 1024 < 8 * SIZE, f"peak RSS {peak_kib} KiB"  # 622 MB (37x) before


FLOOD = """
name: flooded
timeout: 20s
steps:
  - connect: {conn: c, url: "${url}"}
  - sleep: 1s
  - expect: {conn: c, text: never, timeout: 1s}
"""


def test_a_flood_beyond_the_inbox_limit_fails_the_scenario_with_a_clear_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(inbox_module, "MAX_WAITING_MESSAGES", 1000)

    def flood(conn: ServerConnection) -> None:
        for n in range(5000):
            conn.send(f'{{"n": {n}}}')
        for _ in conn:
            pass

    with websockets_server(flood) as server:
        code, out = run(tmp_path, FLOOD, "--var", f"url={url_of(server)}")
    assert code == ExitCode.FAILED
    assert "inbox full: more than 1,000 messages" in out
    assert "that no step took" in out


def test_an_inbox_that_overflows_keeps_no_more_and_fails_its_waiter() -> None:
    import threading

    from runner.executor.clock import Deadline
    from runner.executor.inbox import Inbox, Message, NoMatch, Verdict, Waiter

    class Never(Waiter):
        outcome: Message | NoMatch | None = None

        def judge(self, message: Message) -> Verdict:
            return Verdict(False, reason="no", score=0.1)

        def settle(self, outcome: Message | NoMatch) -> None:
            self.outcome = outcome

    told: list[str] = []
    inbox = Inbox(threading.Event(), max_messages=3, max_bytes=1000)
    inbox.on_full = lambda: told.append("full")
    waiter = Never(Deadline.after(10))
    assert inbox.take_or_wait(waiter) is None
    for n in range(10):
        inbox.put(Message(float(n), f"m{n}"))
    assert len(inbox.leftovers()) == 3 and told == ["full"]
    assert isinstance(waiter.outcome, NoMatch) and waiter.outcome.why == "closed"
    assert inbox.full is not None and inbox.error is not None
    with pytest.raises(NoMatch):
        inbox.take_or_wait(Never(Deadline.after(10)))
    by_size = Inbox(threading.Event(), max_messages=100, max_bytes=MAX_REPORT_PAYLOAD)
    by_size.put(Message(0.0, b"x" * MAX_REPORT_PAYLOAD))
    by_size.put(Message(1.0, b"y"))
    assert by_size.full is not None and len(by_size.leftovers()) == 1


def test_a_flood_beyond_the_inbox_limit_is_stopped_at_the_connection(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(inbox_module, "MAX_WAITING_MESSAGES", 1000)

    def flood(conn: ServerConnection) -> None:
        try:
            for n in range(200_000):
                conn.send(f'{{"n": {n}}}')
        except Exception:  # wsrun dropped the connection: the flood stops here
            return

    report = tmp_path / "r.json"
    with websockets_server(flood) as server:
        code, out = run(
            tmp_path, FLOOD, "--var", f"url={url_of(server)}", "--json-report", str(report)
        )
    assert code == ExitCode.FAILED and "inbox full" in out
    frames = [
        e
        for e in json.loads(report.read_text(encoding="utf-8"))["events"]
        if e["type"] == "frame_received"
    ]
    assert len(frames) < 20_000  # not the 200,000 the server would have sent


@pytest.mark.parametrize("last", ["  - close: {conn: c}\n", ""])
def test_a_flood_no_later_step_reads_still_fails_the_scenario_as_inbox_full(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, last: str
) -> None:
    monkeypatch.setattr(inbox_module, "MAX_WAITING_MESSAGES", 1000)

    def flood(conn: ServerConnection) -> None:
        try:
            for n in range(200_000):
                conn.send(f'{{"n": {n}}}')
        except Exception:  # wsrun dropped the connection: the flood stops here
            return

    scenario = (
        'name: flooded\nsteps:\n  - connect: {conn: c, url: "${url}"}\n  - sleep: 1s\n' + last
    )
    with websockets_server(flood) as server:
        code, out = run(tmp_path, scenario, "--var", f"url={url_of(server)}")
    assert code == ExitCode.FAILED
    assert "inbox full: more than 1,000 messages" in out  # not "no connection to close"
    assert "no connection to close" not in out
