"""`ServiceGroup.stop` signals every service first, then waits for them all with one deadline
(issue 15): three services that ignore SIGTERM stop within about one grace period, not three."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from runner.scenario import Service
from runner.supervisor import ServiceGroup
from tests.support import timeout

GRACE = 1.0


def _stubborn(name: str, log: Path) -> Service:
    # Ignores SIGTERM but writes down when it got it; only SIGKILL ends it.
    code = (
        "import signal, sys, time\n"
        "def term(*_):\n"
        f"    with open({str(log)!r}, 'a') as f: f.write({name!r} + ' %.6f\\n' % time.time())\n"
        "signal.signal(signal.SIGTERM, term)\n"
        "print('up', flush=True)\n"
        "while True: time.sleep(60)\n"
    )
    return Service.model_validate(
        {
            "name": name,
            "command": [sys.executable, "-c", code],
            "ready": {"log": "^up$"},
            "timeout": timeout(10),
        }
    )


def test_stop_signals_every_service_before_waiting_and_shares_one_grace(tmp_path: Path) -> None:
    log = tmp_path / "terms.txt"
    group = ServiceGroup([_stubborn(f"s{i}", log) for i in range(3)], grace=GRACE)
    try:
        group.start()
        pids = [group.pid(f"s{i}") for i in range(3)]
        started = time.monotonic()
        group.stop()
        took = time.monotonic() - started
    finally:
        group.stop()
    lines = [line.split() for line in log.read_text().splitlines()]
    # Every one got SIGTERM, all within the first grace period (before: s1 got it only after
    # s2's grace ran out, s0 after s1's: 1 s apart each). They are signalled last started
    # first, but each handles its signal when it runs, so the file's order is not theirs.
    assert sorted(name for name, _ in lines) == ["s0", "s1", "s2"]
    stamps = [float(at) for _, at in lines]
    assert max(stamps) - min(stamps) < GRACE / 2
    # One grace period in all (before: three, 3 s), and none is left running.
    assert GRACE * 0.9 <= took < GRACE * 2
    assert all(group.returncode(f"s{i}") is not None for i in range(3))
    assert len(set(pids)) == 3
