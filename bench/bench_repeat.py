"""Memory of a long `repeat`: peak RSS of ``wsrun -q`` as a whole process, by iterations.

One scenario: a connect, ``repeat: {count: N}`` of one send/expect echo pair, a close, run by
``python -m runner -q`` against a picows echo server, for N = 10,000, 100,000 and 1,000,000
(``--counts``). Printed: each run's peak RSS (``ru_maxrss`` of the only child of a small
parent) and wall time, and the growth from the smallest count, per iteration. Target: constant
memory, under 20 MiB of growth from 10,000 to 1,000,000 iterations (it was 70 MiB: the
console made every expect's latency a Python float at the end, to sort them; its latencies are
a bounded `LatencyRecorder` now, and what is left is the allocator's noise).

    python -m bench.bench_repeat [--counts 10000,100000,1000000] [--json-report]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from bench.bench_runner import CPU, _pin, load_average, mark, peak_rss_kib
from bench.servers import echo_server

#: The most a million iterations may add to the peak of ten thousand (KiB): the issue's
#: "constant memory", with room for the allocator.
GROWTH_TARGET_KIB = 20 * 1024


def write_repeat(path: Path, count: int) -> None:
    """A scenario: connect, `count` iterations of a send/expect echo pair, close."""
    path.write_text(
        "name: long repeat\ntimeout: 10s\nsteps:\n"
        '  - connect: {url: "${url}"}\n'
        f"  - repeat:\n      count: {count}\n      steps:\n"
        "        - send: hello\n"
        "        - expect: {text: hello}\n"
        "  - close\n",
        encoding="utf-8",
    )


def main(argv: list[str] | None = None) -> None:
    """Run the scenario for each count and print its peak RSS."""
    parser = argparse.ArgumentParser(prog="python -m bench.bench_repeat")
    parser.add_argument("--counts", default="10000,100000,1000000")
    parser.add_argument("--json-report", action="store_true", help="with --json-report too")
    args = parser.parse_args(argv)
    counts = [int(c) for c in args.counts.split(",")]
    print(f"load average {load_average()} at the start")
    _pin(CPU)
    peaks: dict[int, int] = {}
    with tempfile.TemporaryDirectory() as temp, echo_server("picows", CPU) as server:
        folder = Path(temp)
        for count in counts:
            path = folder / f"repeat_{count}.yaml"
            write_repeat(path, count)
            command = [sys.executable, "-m", "runner", "-q", str(path)]
            command += ["--var", f"url={server.url}"]
            if args.json_report:
                command += ["--json-report", str(folder / "report.json")]
            started = time.perf_counter()
            peaks[count] = peak_rss_kib(command, folder)
            took = time.perf_counter() - started
            grown, more = peaks[count] - peaks[counts[0]], count - counts[0]
            per = f", {grown * 1024 / more:.1f} B more per iteration" if more else ""
            print(
                f"  {count:>9,} iterations: peak {peaks[count] / 1024:6.1f} MiB, {took:6.1f} s{per}"
            )
    grown = peaks[counts[-1]] - peaks[counts[0]]
    ok = grown < GROWTH_TARGET_KIB
    print(
        f"growth from {counts[0]:,} to {counts[-1]:,} iterations: {grown / 1024:.1f} MiB, "
        f"target < {GROWTH_TARGET_KIB / 1024:.0f} MiB: {mark(ok)}"
    )
    print(f"load average {load_average()} at the end")


if __name__ == "__main__":
    main()
