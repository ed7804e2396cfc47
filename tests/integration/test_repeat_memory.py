"""A long `repeat` runs in constant memory: peak RSS of ``wsrun -q`` as a whole process grows
by next to nothing between 5,000 and 25,000 iterations of a send/expect pair.

Before, the console reporter kept every `StepEnded` (two per iteration, ~400 bytes with their
list slots) for its latency summary: 20,000 iterations more cost ~8 MiB more. It keeps the
latencies alone now (16 bytes an expect), and the executor keeps one plan per step, not one per
iteration.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from runner.cli import ExitCode
from tests.support import echo, timeout, url_of, websockets_server

ROOT = Path(__file__).resolve().parents[2]

PEAK = """
import resource, subprocess, sys
code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode
print(code, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def _peak_kib(folder: Path, url: str, iterations: int) -> int:
    """Peak RSS (KiB) of ``wsrun -q`` running `iterations` echo pairs in a repeat."""
    path = folder / f"repeat_{iterations}.yaml"
    path.write_text(
        "name: long repeat\n"
        "steps:\n"
        '  - connect: {url: "${url}"}\n'
        f"  - repeat:\n      count: {iterations}\n      steps:\n"
        "        - send: hello\n"
        "        - expect: {text: hello}\n"
        "  - close\n",
        encoding="utf-8",
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "runner", "-q", str(path), "--var", f"url={url}"]
    result = subprocess.run(
        [sys.executable, "-c", PEAK, *command],
        capture_output=True,
        text=True,
        timeout=timeout(60),
        env=env,
    )
    code, peak = result.stdout.split()
    assert int(code) == ExitCode.OK, result.stderr
    return int(peak)


def test_a_long_repeat_runs_in_constant_memory(tmp_path: Path) -> None:
    with websockets_server(echo) as server:
        url = url_of(server)
        short = _peak_kib(tmp_path, url, 5_000)
        long = _peak_kib(tmp_path, url, 25_000)
    grown = long - short
    assert grown < 4 * 1024, f"20,000 iterations more: {grown:,} KiB more ({short:,} -> {long:,})"
