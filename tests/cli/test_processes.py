"""``wsrun run --processes P``: the scenarios spread over worker processes, one run's reports.

Real servers on loopback, port 0; the worker processes are real; a worker is killed with
SIGKILL from outside, and Ctrl-C is a real SIGINT to the parent."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from websockets.sync.server import ServerConnection

from runner.cli import ExitCode, main
from runner.executor.processes import STOP_GRACE
from tests.support import timeout, url_of, websockets_server


class _Peer:
    """An echo server that counts the connections open now and every one it saw."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.open = 0
        self.seen = 0
        self.most = 0  # the most connections open at once
        self.starts: list[float] = []  # when each connection's handler began (monotonic)

    def __call__(self, conn: ServerConnection) -> None:
        with self.lock:
            self.open += 1
            self.seen += 1
            self.most = max(self.most, self.open)
            self.starts.append(time.monotonic())
        try:
            for message in conn:
                conn.send(message)
        finally:
            with self.lock:
                self.open -= 1

    def most_started_within(self, window: float) -> int:
        """The most connections that began within `window` seconds of each other. Unlike
        `most`, a scenario's close racing the next one's connect cannot inflate it: the server
        ends a handler only after the client has its close reply."""
        with self.lock:
            starts = sorted(self.starts)
        return max(
            (sum(1 for s in starts[i:] if s - first < window) for i, first in enumerate(starts)),
            default=0,
        )

    def wait_open(self, count: int) -> None:
        deadline = time.monotonic() + timeout(10)
        while time.monotonic() < deadline:
            with self.lock:
                if self.open >= count:
                    return
            time.sleep(0.01)
        raise AssertionError(f"{count} connections expected, {self.open} open")

    def wait_closed(self) -> None:
        deadline = time.monotonic() + timeout(5)
        while time.monotonic() < deadline:
            with self.lock:
                if self.open == 0:
                    return
            time.sleep(0.01)
        raise AssertionError(f"{self.open} connections still open")


@contextmanager
def _server() -> Iterator[tuple[_Peer, str]]:
    peer = _Peer()
    with websockets_server(peer) as server:
        yield peer, url_of(server)


def _rows(folder: Path, rows: list[dict[str, str]], steps: list[str]) -> Path:
    lines = ["name: spread", "parametrize:"]
    lines += ["  - {" + ", ".join(f"{k}: {v}" for k, v in row.items()) + "}" for row in rows]
    lines += ["steps:", '  - connect: "${url}"', *steps]
    path = folder / "spread.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _main(folder: Path, path: Path, url: str, *extra: str) -> int:
    """`wsrun run -q EXTRA --var url=URL PATH --json-report FOLDER/report.json`, in-process."""
    report = ["--json-report", str(folder / "report.json")]
    return main(["run", "-q", *extra, "--var", f"url={url}", str(path), *report])


def _report(folder: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((folder / "report.json").read_text(encoding="utf-8"))
    return data


def _by_index(report: dict[str, Any]) -> dict[int, dict[str, Any]]:
    return {s["index"]: s for s in report["scenarios"]}


def test_processes_run_each_scenario_once_with_its_index_and_one_runs_reports(
    tmp_path: Path,
) -> None:
    rows = [{"i": str(i)} for i in range(8)]
    path = _rows(tmp_path, rows, ['  - send: "m${i}"', '  - expect: "m${i}"', "  - close"])
    with _server() as (peer, url):
        junit = ["--junit-xml", str(tmp_path / "junit.xml")]
        code = _main(tmp_path, path, url, "-j", "4", "--processes", "2", *junit)
    assert code == ExitCode.OK
    report = _report(tmp_path)
    assert report["status"] == "passed" and report["counts"]["passed"] == 8
    scenarios = _by_index(report)
    assert sorted(scenarios) == list(range(8))
    for index, scenario in scenarios.items():  # each its own row, each step's events with it
        assert scenario["name"] == f"spread[{index}]" and scenario["status"] == "passed"
        assert [s["status"] for s in scenario["steps"]] == ["passed"] * 4
    events = report["events"]
    assert [e["type"] for e in events].count("run_started") == 1
    assert [e["type"] for e in events].count("run_ended") == 1
    sent = [e for e in events if e["type"] == "frame_sent"]
    assert sorted((e["scenario"], e["data"]) for e in sent) == [(i, f"m{i}") for i in range(8)]
    assert report["latency"]["from_last_send"]["count"] == 8
    assert peer.seen == 8
    assert 'tests="8"' in (tmp_path / "junit.xml").read_text(encoding="utf-8")


def test_the_workers_share_the_jobs_threads_exactly(tmp_path: Path) -> None:
    """-j 3 over 2 processes: 2 threads in one worker, 1 in the other, never 4 at once."""
    path = _rows(tmp_path, [{"i": str(i)} for i in range(6)], ["  - sleep: 400ms", "  - close"])
    with _server() as (peer, url):
        # Each scenario holds its connection 400 ms: more than `window` scenarios starting
        # within 0.35 s means more than `window` ran at once.
        code = _main(tmp_path, path, url, "-j", "3", "--processes", "2")
        assert peer.seen == 6 and peer.most >= 3 and peer.most_started_within(0.35) == 3
        with peer.lock:
            peer.starts.clear()
        code_one = _main(tmp_path, path, url, "-j", "1", "--processes", "2")
        assert peer.most_started_within(0.35) == 1
    assert code == code_one == ExitCode.OK


def test_fail_fast_reaches_the_other_worker_process(tmp_path: Path) -> None:
    """Scenario i runs in worker i % 2, one at a time (-j 2 over 2 processes): row 0 fails at
    once in worker 0; worker 1, holding row 1, must start neither row 3 nor row 5."""
    rows = [{"want": "b" if i == 0 else "a", "hold": "0s" if i == 0 else "1s"} for i in range(6)]
    steps = ["  - send: a", '  - expect: {text: "${want}", timeout: 200ms}', '  - sleep: "${hold}"']
    path = _rows(tmp_path, rows, steps)
    with _server() as (_, url):
        code = _main(tmp_path, path, url, "-x", "-j", "2", "--processes", "2")
    assert code == ExitCode.FAILED
    statuses = {i: s["status"] for i, s in _by_index(_report(tmp_path)).items()}
    assert statuses[0] == "failed" and statuses[1] == "passed"
    assert statuses[3] == statuses[5] == "skipped", statuses


def test_timeout_applies_in_the_worker_processes(tmp_path: Path) -> None:
    path = _rows(tmp_path, [{"i": "0"}, {"i": "1"}], ["  - sleep: 20s"])
    with _server() as (_, url):
        started = time.monotonic()
        code = _main(tmp_path, path, url, "-j", "2", "--processes", "2", "--timeout", "300ms")
        took = time.monotonic() - started
    assert code == ExitCode.FAILED and took < timeout(10)
    for scenario in _report(tmp_path)["scenarios"]:
        assert scenario["status"] == "failed"
        assert "--timeout cut sleep short" in scenario["failure"]["message"]
        assert scenario["duration"] < 5


# -- whole processes: a worker killed, Ctrl-C ------------------------------------------------


def _start(folder: Path, path: Path, url: str, *extra: str) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "runner", "run", "-q", "--no-color", *extra]
    command += ["--var", f"url={url}", str(path), "--json-report", str(folder / "report.json")]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _children(pid: int) -> list[int]:
    with open(f"/proc/{pid}/task/{pid}/children", encoding="ascii") as file:
        return [int(child) for child in file.read().split()]


def _finish(proc: subprocess.Popen[str], units: float = 10) -> tuple[int, str]:
    try:
        out, _ = proc.communicate(timeout=timeout(units))
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
        raise AssertionError(f"wsrun did not end:\n{out}") from None
    return proc.returncode, out


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    with open(f"/proc/{pid}/stat", encoding="ascii") as file:
        return file.read().split()[2] == "Z"  # a zombie has ended


def test_a_worker_process_that_dies_leaves_its_scenarios_as_errors_naming_it(
    tmp_path: Path,
) -> None:
    path = _rows(tmp_path, [{"i": str(i)} for i in range(4)], ["  - sleep: 2s", "  - close"])
    with _server() as (peer, url):
        proc = _start(tmp_path, path, url, "-j", "4", "--processes", "2")
        try:
            peer.wait_open(4)
            workers = _children(proc.pid)
            assert len(workers) == 2, workers
            victim = workers[0]
            os.kill(victim, signal.SIGKILL)
            code, out = _finish(proc)
        finally:
            proc.kill()
    assert code == ExitCode.INTERNAL, out
    report = _report(tmp_path)
    assert report["status"] == "error"
    statuses = sorted(s["status"] for s in report["scenarios"])
    assert statuses == ["error", "error", "passed", "passed"], out
    for scenario in report["scenarios"]:
        if scenario["status"] == "error":
            message = scenario["failure"]["message"]
            assert f"pid {victim}" in message and "killed by signal SIGKILL" in message
    assert "killed by signal SIGKILL" in out


def test_ctrl_c_stops_every_worker_process_and_reports_the_run_interrupted(
    tmp_path: Path,
) -> None:
    path = _rows(tmp_path, [{"i": str(i)} for i in range(4)], ["  - sleep: 30s"])
    with _server() as (peer, url):
        proc = _start(tmp_path, path, url, "-j", "4", "--processes", "2")
        try:
            peer.wait_open(4)
            workers = _children(proc.pid)
            assert len(workers) == 2, workers
            started = time.monotonic()
            proc.send_signal(signal.SIGINT)  # the parent only: the workers have their session
            code, out = _finish(proc, 6)
            took = time.monotonic() - started
        finally:
            proc.kill()
        assert all(_gone(worker) for worker in workers)
        peer.wait_closed()  # the workers closed their connections (or the kernel did)
    assert code == ExitCode.INTERRUPTED, out
    assert took < timeout(5)
    assert "Traceback" not in out and "KeyboardInterrupt" not in out, out
    report = _report(tmp_path)
    assert report["status"] == "interrupted"
    assert [s["status"] for s in report["scenarios"]] == ["interrupted"] * 4


def test_env_values_read_in_a_worker_process_are_redacted_by_the_parent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "proc-secret-5e1f"
    monkeypatch.setenv("WSRUN_TEST_PROCESSES_KEY", secret)
    steps = [
        '  - send: "k=${env.WSRUN_TEST_PROCESSES_KEY}"',
        '  - expect: {text: "k=nope", timeout: 200ms}',
    ]
    path = _rows(tmp_path, [{"i": "0"}, {"i": "1"}], steps)
    with _server() as (_, url):
        code = _main(tmp_path, path, url, "-j", "2", "--processes", "2")
    assert code == ExitCode.FAILED  # its failure shows the message it got (redacted)
    text = (tmp_path / "report.json").read_text(encoding="utf-8")
    assert secret not in text
    assert "k=***" in text


def test_the_services_variables_reach_the_worker_processes(tmp_path: Path) -> None:
    (tmp_path / "wsrun-suite.yaml").write_text(
        "services:\n"
        "  - name: words\n"
        "    command: [sh, -c, 'echo word=from-the-service; exec sleep 60']\n"
        "    ready: {log: 'word=(?P<word>\\S+)'}\n"
        '    provides: {word: "${word}"}\n',
        encoding="utf-8",
    )
    path = _rows(
        tmp_path, [{"i": "0"}, {"i": "1"}], ['  - send: "${word}"', '  - expect: "${word}"']
    )
    with _server() as (_, url):
        code = _main(tmp_path, path, url, "-j", "2", "--processes", "2")
    assert code == ExitCode.OK
    sent = [e["data"] for e in _report(tmp_path)["events"] if e["type"] == "frame_sent"]
    assert sent == ["from-the-service", "from-the-service"]


def test_after_ctrl_c_a_worker_process_that_does_not_stop_is_killed(tmp_path: Path) -> None:
    path = _rows(tmp_path, [{"i": str(i)} for i in range(4)], ["  - sleep: 30s"])
    with _server() as (peer, url):
        proc = _start(tmp_path, path, url, "-j", "4", "--processes", "2")
        try:
            peer.wait_open(4)
            workers = _children(proc.pid)
            os.kill(workers[0], signal.SIGSTOP)  # it cannot read the parent's stop
            started = time.monotonic()
            proc.send_signal(signal.SIGINT)
            time.sleep(1.0)
            assert proc.poll() is None  # still waiting for the stopped worker
            code, out = _finish(proc, 10)
            took = time.monotonic() - started
        finally:
            proc.kill()
            for worker in _alive(workers):
                os.kill(worker, signal.SIGKILL)
        assert all(_gone(worker) for worker in workers)
    assert code == ExitCode.INTERRUPTED, out
    assert STOP_GRACE <= took < STOP_GRACE + timeout(3)
    report = _report(tmp_path)
    assert report["status"] == "interrupted"
    assert [s["status"] for s in report["scenarios"]] == ["interrupted"] * 4


def _alive(pids: list[int]) -> list[int]:
    return [pid for pid in pids if os.path.exists(f"/proc/{pid}") and not _gone(pid)]
