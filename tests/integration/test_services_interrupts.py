"""Ctrl-C while services stop (issue 9, "Interrupts", the services part): a second interrupt
inside `ServiceGroup.stop()` must not end its loop before every service is gone, and `wsrun`
leaves no process behind however many interrupts come."""

from __future__ import annotations

import _thread
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from runner.supervisor import ServiceGroup
from tests.support import timeout

REPO = Path(__file__).resolve().parents[2]

# Ignores SIGTERM: only SIGKILL ends it, after the grace period or at once after a Ctrl-C.
STUBBORN = "trap '' TERM; echo \"pid $$\"; echo ready; while :; do sleep 0.05; done"


class _Ready:
    port = None
    url = None
    log = "ready"


class _Service:
    def __init__(self, name: str) -> None:
        self.name = name
        self.command = STUBBORN
        self.cwd = "."
        self.env: dict[str, str] = {}
        self.ready = _Ready()
        self.timeout = timeout(10)


def gone(pid: int) -> bool:
    """Whether process `pid` has exited (a zombie nobody reaped counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state == "Z"


def wait_gone(pids: list[int], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if all(gone(pid) for pid in pids):
            return True
        time.sleep(0.02)
    return all(gone(pid) for pid in pids)


def interrupt_main_while(pids: list[int], *delays: float) -> threading.Thread:
    """Ctrl-C the main thread after each delay, as long as a service of `pids` runs."""

    def run() -> None:
        for delay in delays:
            time.sleep(delay)
            if all(gone(pid) for pid in pids):
                return
            _thread.interrupt_main()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def join_through_interrupts(thread: threading.Thread) -> None:
    while thread.is_alive():
        try:
            thread.join(0.01)
        except KeyboardInterrupt:  # a late one, once stop() was over
            continue


@pytest.mark.parametrize("interrupts", [1, 2, 5])
def test_interrupts_inside_stop_still_kill_every_service(interrupts: int) -> None:
    """Before: the first KeyboardInterrupt inside stop() ended its loop: the services not yet
    stopped never got a signal, and the one being stopped never got SIGKILL (orphans)."""
    group = ServiceGroup([_Service(f"s{i}") for i in range(3)], grace=timeout(30))
    group.start()
    pids = [group.pid(f"s{i}") for i in range(3)]
    raised = False
    try:
        started = time.monotonic()
        thread = interrupt_main_while(pids, 0.2, *([0.005] * (interrupts - 1)))
        try:
            group.stop()
        except KeyboardInterrupt:
            raised = True
        join_through_interrupts(thread)
        assert raised  # the interrupt is not swallowed
        assert time.monotonic() - started < timeout(10)  # the 30 s grace was cut short
        assert wait_gone(pids, timeout(5)), [p for p in pids if not gone(p)]
    finally:
        for pid in pids:  # whatever happened, leave nothing running
            if not gone(pid):
                os.killpg(pid, signal.SIGKILL)


SUITE = f"""\
services:
  - name: first
    command: '{STUBBORN.replace("'", "''")}'
    ready: {{log: ready}}
  - name: second
    command: '{STUBBORN.replace("'", "''")}'
    ready: {{log: ready}}
"""


@pytest.mark.parametrize("gap", [0.005, 0.05])
def test_two_ctrl_c_during_a_run_leave_no_service_running(tmp_path: Path, gap: float) -> None:
    """`wsrun` with services that ignore SIGTERM, then SIGINT twice: every service is gone."""
    (tmp_path / "wsrun.toml").write_text("", encoding="utf-8")
    (tmp_path / "wsrun-suite.yaml").write_text(SUITE, encoding="utf-8")
    (tmp_path / "s.yaml").write_text("name: long\nsteps: [{sleep: 60s}]\n", encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "runner", ".", "--no-color", "--json-report", "r.json"]
    proc = subprocess.Popen(
        command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    assert proc.stdout is not None
    lines: list[str] = []
    try:
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("▶ long"):
                break
        proc.send_signal(signal.SIGINT)
        time.sleep(gap)
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=timeout(15))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    out = "".join(lines) + rest
    pids = [int(line.split()[-1]) for line in out.splitlines() if line.strip().startswith("pid ")]
    if not pids:  # the output of the services is in the report
        report = (tmp_path / "r.json").read_text(encoding="utf-8")
        pids = [int(part.split("\\n")[0]) for part in report.split("pid ")[1:]]
    assert len(set(pids)) == 2, out
    try:
        assert wait_gone(pids, timeout(5)), out
        assert proc.returncode == 130, out
    finally:
        for pid in pids:
            if not gone(pid):
                os.killpg(pid, signal.SIGKILL)
