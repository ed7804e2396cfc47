"""Ctrl-C on a real `wsrun` process, at any moment and any number of times: exit 130, no
traceback, and the reports of what ran (or a line saying that nothing ran)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from runner.cli import ExitCode
from tests.integration.executor import peers
from tests.support import timeout, url_of, websockets_server

WAITS = """
name: waits long
steps:
  - connect: "${url}"
  - send: anyone
  - expect: {text: never, timeout: 30s}
"""


#: The console script, after a line saying that the interpreter has started and imported
#: `runner.cli` (a Ctrl-C before that meets Python's own start-up, which wsrun cannot handle).
ENTRY = "import sys; from runner.cli import entry; print('ready', flush=True); entry()"


def _start(folder: Path, url: str) -> subprocess.Popen[str]:
    (folder / "waits.yaml").write_text(WAITS, encoding="utf-8")
    command = [
        sys.executable,
        "-c",
        ENTRY,
        str(folder / "waits.yaml"),
        "--no-color",
        "--var",
        f"url={url}",
        "--json-report",
        str(folder / "report.json"),
        "--junit-xml",
        str(folder / "junit.xml"),
    ]
    proc = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=dict(os.environ)
    )
    assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
    return proc


def _finish(proc: subprocess.Popen[str]) -> tuple[int, str]:
    try:
        out, _ = proc.communicate(timeout=timeout(6))
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
        raise AssertionError(f"wsrun did not end after Ctrl-C:\n{out}") from None
    return proc.returncode, out


@pytest.mark.parametrize("delay", [0.0, 0.005, 0.02, 0.06, 0.1, 0.15, 0.25, 0.4, 0.8])
def test_ctrl_c_at_any_moment_exits_130_with_the_reports_or_says_none_ran(
    tmp_path: Path, delay: float
) -> None:
    with websockets_server(peers.silent) as server:
        proc = _start(tmp_path, url_of(server))
        time.sleep(delay)
        proc.send_signal(signal.SIGINT)
        code, out = _finish(proc)
    assert code == ExitCode.INTERRUPTED, out
    assert "Traceback" not in out and "KeyboardInterrupt" not in out, out
    report = tmp_path / "report.json"
    if report.exists():
        data = json.loads(report.read_text(encoding="utf-8"))
        assert data["status"] == "interrupted", out
        assert (tmp_path / "junit.xml").exists()
    else:
        assert "interrupted before any scenario ran: no report written" in out, out


def test_repeated_ctrl_c_keeps_the_reports_and_their_status(tmp_path: Path) -> None:
    with websockets_server(peers.silent) as server:
        for attempt in range(3):
            proc = _start(tmp_path, url_of(server))
            assert proc.stdout is not None
            for line in proc.stdout:  # wait until the expect waits
                if "→ sent" in line:
                    break
            for pause in (0.0, 0.005, 0.02, 0.05, 0.1):  # a storm of Ctrl-C during the stop
                time.sleep(pause)
                proc.send_signal(signal.SIGINT)
            code, out = _finish(proc)
            assert code == ExitCode.INTERRUPTED, f"attempt {attempt}: {out}"
            assert "Traceback" not in out, out
            data = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
            assert data["status"] == "interrupted", f"attempt {attempt}: {out}"
            assert data["scenarios"][0]["status"] == "interrupted"
            assert "interrupted" in (tmp_path / "junit.xml").read_text(encoding="utf-8")
            (tmp_path / "report.json").unlink()


SWALLOWED = """
import signal, sys, time, weakref
from runner.cli import _Interrupts

interrupts = _Interrupts()
interrupts.install()


class Thing:
    pass


def callback(ref):  # Python only reports what a weakref callback raises ("Exception ignored")
    signal.raise_signal(signal.SIGINT)
    time.sleep(0.01)  # the handler runs in here: its KeyboardInterrupt cannot be raised


def swallow():  # code that catches the KeyboardInterrupt and says nothing
    try:
        signal.raise_signal(signal.SIGINT)
        time.sleep(0.01)
    except BaseException:
        pass


thing = Thing()
ref = weakref.ref(thing, callback)
start = time.monotonic()
try:
    if sys.argv[1] == "reported":
        del thing
    else:
        swallow()
    while time.monotonic() - start < 10:
        time.sleep(0.05)
    print("never interrupted")
except KeyboardInterrupt:
    print(f"interrupted again after {time.monotonic() - start:.1f}s")
"""


def test_a_ctrl_c_python_could_only_report_is_delivered_again_at_once() -> None:
    result = subprocess.run(
        [sys.executable, "-c", SWALLOWED, "reported"],
        capture_output=True,
        text=True,
        timeout=timeout(6),
    )
    assert result.stderr == ""  # no "Exception ignored ... KeyboardInterrupt" traceback
    assert "interrupted again after 0." in result.stdout, result.stdout


def test_a_ctrl_c_swallowed_without_a_word_is_delivered_again(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", SWALLOWED, "silent"],
        capture_output=True,
        text=True,
        timeout=timeout(6),
    )
    assert "interrupted again after 2.5s" in result.stdout, result.stdout + result.stderr
