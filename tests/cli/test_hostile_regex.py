"""A regular expression cannot hang wsrun: `^(a+)+$` against 40 a's and a b, end to end.

With Python's `re` this pinned a CPU for minutes, past the step's timeout, `--timeout` and
SIGINT (it needed SIGKILL and left no reports), through `regex`, `{{regex:}}`, an `ignore` rule
and a suite's `ready.log`. RE2 ends each search at once.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from websockets.sync.server import ServerConnection

from runner.scenario import Service
from runner.supervisor import ServiceGroup
from tests.support import timeout, url_of, websockets_server

HOSTILE = "a" * 40 + "b"


def flood(conn: ServerConnection) -> None:
    """Send the hostile message again and again until the client goes."""
    try:
        while True:
            conn.send(HOSTILE)
            time.sleep(0.01)
    except Exception:  # the client closed: the test is over
        return


SCENARIOS = {
    "regex": "  - expect: {regex: '^(a+)+$', timeout: %s}\n",
    "placeholder": "  - send: x\n  - expect: {json: {a: '{{regex:^(a+)+$}}'}, timeout: %s}\n",
    "ignore": "  - expect: {text: never, ignore: [{regex: '^(a+)+$'}], timeout: %s}\n",
}


def run_wsrun(tmp_path: Path, url: str, kind: str, step_timeout: str) -> subprocess.Popen[str]:
    scenario = tmp_path / f"{kind}.yaml"
    text = "name: hostile\nsteps:\n  - connect: '${url}'\n" + SCENARIOS[kind] % step_timeout
    scenario.write_text(text, encoding="utf-8")
    command = [
        sys.executable,
        "-c",
        "import sys; from runner.cli import entry; print('ready', flush=True); entry()",
        str(scenario),
        "--var",
        f"url={url}",
        "--json-report",
        str(tmp_path / "report.json"),
    ]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
    return proc


def finish(proc: subprocess.Popen[str], within: float) -> tuple[int, str]:
    try:
        out, _ = proc.communicate(timeout=within)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
        raise AssertionError(f"wsrun hung on a regular expression:\n{out[-2000:]}") from None
    return proc.returncode, out


@pytest.mark.parametrize("kind", sorted(SCENARIOS))
def test_a_catastrophic_pattern_fails_within_the_step_timeout(tmp_path: Path, kind: str) -> None:
    with websockets_server(flood) as server:
        started = time.monotonic()
        code, out = finish(run_wsrun(tmp_path, url_of(server), kind, "1s"), timeout(15))
        elapsed = time.monotonic() - started
    assert code == 1, out
    assert "FAILED" in out and (tmp_path / "report.json").exists()
    assert elapsed < 1 + timeout(8)


def test_ctrl_c_ends_a_run_busy_with_a_catastrophic_pattern(tmp_path: Path) -> None:
    flooding = threading.Event()

    def counted_flood(conn: ServerConnection) -> None:
        for _ in range(20):
            conn.send(HOSTILE)
        flooding.set()  # the scenario runs, and its messages are matched against the pattern
        flood(conn)

    with websockets_server(counted_flood) as server:
        proc = run_wsrun(tmp_path, url_of(server), "ignore", "60s")
        # not a fixed sleep: under load, start-up can outlast it and the Ctrl-C comes before
        # any scenario ran (then rightly no report is written)
        assert flooding.wait(timeout(20)), "wsrun never connected"
        time.sleep(0.3)
        proc.send_signal(signal.SIGINT)
        code, out = finish(proc, timeout(10))
    assert code == 130, out
    assert "Traceback" not in out and (tmp_path / "report.json").exists()


def test_a_catastrophic_ready_log_does_not_hang_the_service_start() -> None:
    script = (
        f"import time; print({HOSTILE!r}, flush=True); print('ready', flush=True); time.sleep(30)"
    )
    spec = Service.model_validate(
        {
            "name": "hostile",
            "command": [sys.executable, "-c", script],
            "ready": {"log": "^(a+)+$|^(?P<state>ready)$"},
            "timeout": timeout(10),
        }
    )
    started = time.monotonic()
    with ServiceGroup([spec], grace=1.0) as group:
        provided = group.start()
        assert time.monotonic() - started < timeout(8)  # re: stuck on the first line for good
    assert isinstance(provided, dict)  # ready: the line "ready" matched after the hostile one
