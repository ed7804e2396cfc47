"""Scale: many connections in one run, latency under load, start-up time, loader memory.

Each figure is printed with its target and ``met`` or ``MISSED``; each comes from a fresh
``python -m runner`` process (the echo server runs in a process of its own, `bench.servers`),
the medians of ``--rounds`` rounds with their range:

1. Connections: ``--connections`` parametrize rows (1,000) run with ``-j`` as many, each
   connecting, holding the connection for ``--hold`` seconds (5) and closing. From the JSON
   report: how long the opens took, first to last (target < 0.5 s), the closes (< 0.5 s), the
   run (< hold + 1.5 s), and the peak RSS of the process and its worker processes (sampled
   every 50 ms, summed; < 200 MiB); then one run of ``--big`` (5,000) rows that must pass
   without a failure (with the first ``--processes`` value).
2. Latency: ``--latency-connections`` (1,000) connections, each doing one echo round trip a
   second (``sleep: 1s``, send, expect) for ``--latency-rounds`` rounds; the report's p95 of
   ``from_last_send`` (target < 5 ms) and its median. Measured twice: as before, each row's
   round trips from 1 s after its own open (later rows are still opening, and earlier rows
   close while later ones still do round trips: their CPU is in the figure); then "with all
   open": each row sleeps ``--settle`` s (3) after its open and again after its round trips,
   and besides the report's figures, the p95 of the round trips sent after the last open and
   answered before the first close (counted from the report's events) is printed.

Figures 1 and 2 are measured for each ``--processes`` value (``1,2``: in one process, then
spread over two worker processes, ``wsrun run --processes 2``), in the same run.
3. ``wsrun validate`` of a one-step file, wall time against ``python -c pass`` and ``python -c
   "import pydantic"`` (target < 100 ms), and its CPU time (user + system): on a busy machine CPU
   time says more (`bench.bench_loader.validate_startup`: compiled modules, interleaved runs).
4. Loading 100,000 steps: peak memory per step (target <= 1 KiB) and wall µs per step (< 25),
   as `bench.bench_loader` measures them.

    python -m bench.bench_scale [--rounds 3] [--connections 1000] [--hold 5] [--big 5000]
                                [--latency-rounds 5] [--latency-connections 1000] [--settle 3]
                                [--processes 1,2] [--skip connections,latency,validate,loader]

Say the load average (printed first and last) when quoting figures: the targets assume the
machine is otherwise idle.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.bench_loader import load, memory_kib, timed, validate_startup, write_steps
from bench.servers import available_kind, echo_server

ROOT = Path(__file__).resolve().parents[1]
OPEN_TARGET_S = 0.5
CLOSE_TARGET_S = 0.5
RUN_MARGIN_S = 1.5
RSS_TARGET_MIB = 200.0
LATENCY_P95_TARGET_MS = 5.0
VALIDATE_TARGET_MS = 100.0
STEP_MEMORY_TARGET_KIB = 1.0
STEP_TARGET_US = 25.0


@dataclass
class Run:
    """One ``wsrun run`` process: its exit status, wall and CPU seconds, peak RSS, report."""

    code: int
    wall: float
    cpu: float
    rss_mib: float
    report: dict[str, Any]


def wsrun(args: Sequence[str], folder: Path) -> Run:
    """Run ``python -m runner run ARGS --json-report`` and measure it."""
    report = folder / "report.json"
    command = [sys.executable, "-m", "runner", "run", "-q", *args, "--json-report", str(report)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    peak = 0
    while proc.poll() is None:  # the process and its worker processes (--processes), summed
        peak = max(peak, tree_rss_kib(proc.pid))
        time.sleep(0.05)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    # The CPU of the process and of its workers (children it waited for count too).
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    data = json.loads(report.read_text()) if report.exists() else {}
    return Run(proc.returncode, wall, cpu, peak / 1024, data)


def tree_rss_kib(pid: int) -> int:
    """The resident memory of process `pid` and its descendants now (KiB; 0 once gone)."""
    total = 0
    try:
        with open(f"/proc/{pid}/status") as file:
            for text in file:
                if text.startswith("VmRSS:"):
                    total += int(text.split()[1])
        with open(f"/proc/{pid}/task/{pid}/children") as file:
            children = [int(child) for child in file.read().split()]
    except (OSError, ValueError):
        return total
    return total + sum(tree_rss_kib(child) for child in children)


def rows_file(folder: Path, rows: int, steps: list[str], name: str) -> Path:
    lines = [f"name: {name}", "timeout: 60s", "parametrize:"]
    lines += [f"  - {{i: {i}}}" for i in range(rows)]
    lines += ["steps:", '  - connect: {url: "${url}"}', *steps, "  - close"]
    path = folder / f"{name}.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def times(report: dict[str, Any], kind: str) -> list[float]:
    return [e["at"] for e in report.get("events", []) if e["type"] == kind]


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def spread(values: list[float]) -> str:
    """Median and range of `values`."""
    return f"{statistics.median(values):.2f} ({min(values):.2f}-{max(values):.2f})"


def line(label: str, values: list[float], unit: str, target: float, below: bool = True) -> None:
    ok = statistics.median(values) < target if below else statistics.median(values) <= target
    sign = "<" if below else "<="
    print(f"  {label:<34} {spread(values):>22} {unit:<4} target {sign} {target:g}  {verdict(ok)}")


def bench_connections(
    url: str, folder: Path, rows: int, hold: float, rounds: int, processes: int = 1
) -> None:
    steps = [f"  - sleep: {hold:g}s"]
    path = rows_file(folder, rows, steps, "held")
    opens, closes, runs, rss, cpu, failed = [], [], [], [], [], 0
    for _ in range(rounds):
        run = wsrun(
            ["-j", str(rows), *_spread(processes), "--var", f"url={url}", str(path)], folder
        )
        opened, closed = (
            times(run.report, "connection_opened"),
            times(run.report, "connection_closed"),
        )
        failed += run.code != 0 or len(opened) != rows
        if opened and closed:
            opens.append(max(opened) - min(opened))
            closes.append(max(closed) - min(closed))
        runs.append(run.report.get("duration", run.wall))
        rss.append(run.rss_mib)
        cpu.append(run.cpu)
    print(
        f"connections: {rows:,} rows, -j {rows}{_said(processes)}, each holding its connection "
        f"{hold:g} s"
    )
    if opens:
        line("opens, first to last", opens, "s", OPEN_TARGET_S)
        line("closes, first to last", closes, "s", CLOSE_TARGET_S)
    line("the run (report duration)", runs, "s", hold + RUN_MARGIN_S)
    line("peak RSS", rss, "MiB", RSS_TARGET_MIB)
    print(f"  {'CPU of the process':<34} {spread(cpu):>22} s    ({failed} rounds failed)")


def bench_big(url: str, folder: Path, rows: int, hold: float, processes: int = 1) -> None:
    path = rows_file(folder, rows, [f"  - sleep: {hold:g}s"], "big")
    run = wsrun(["-j", str(rows), *_spread(processes), "--var", f"url={url}", str(path)], folder)
    counts = run.report.get("counts", {})
    opened = times(run.report, "connection_opened")
    took = max(opened) - min(opened) if opened else float("nan")
    ok = run.code == 0 and counts.get("passed") == rows
    print(
        f"connections: {rows:,} in one run{_said(processes)}: exit {run.code}, {counts}; "
        f"opens over {took:.1f} s, "
        f"run {run.report.get('duration', run.wall):.1f} s, peak RSS {run.rss_mib:.0f} MiB "
        f"(target: no failure)  {verdict(ok)}"
    )


def bench_latency(
    url: str,
    folder: Path,
    rows: int,
    rounds: int,
    repeats: int,
    processes: int = 1,
    settle: float = 0.0,
) -> None:
    """The report's p95 and median of ``from_last_send`` for `rows` connections, each doing one
    round trip a second for `rounds` rounds.

    With `settle` 0 (the old figure) each row's round trips start 1 s after its own open, while
    later rows still open, and its last one is followed by its close, while other rows still do
    theirs: the opens' and the closes' CPU are mixed into the round trips. With `settle` > 0
    each row sleeps `settle` s after its open and again after its last round trip, so that (as
    long as the opens, and the closes, are spread over less than that) every round trip runs
    with all `rows` connections open; the round trips that ran after the last open and before
    the first close are also counted on their own, from the report's events.
    """
    steps = []
    if settle:
        steps.append(f"  - sleep: {settle:g}s")
    steps += [
        "  - repeat:",
        f"      count: {rounds}",
        "      steps:",
        "        - sleep: 1s",
        '        - send: "m${i}"',
        '        - expect: "m${i}"',
    ]
    if settle:
        steps.append(f"  - sleep: {settle:g}s")
    path = rows_file(folder, rows, steps, "round_trips_settled" if settle else "round_trips")
    p95, median, open_p95 = [], [], []
    counted: list[float] = []
    for _ in range(repeats):
        run = wsrun(
            ["-j", str(rows), *_spread(processes), "--var", f"url={url}", str(path)], folder
        )
        stats = run.report.get("latency", {}).get("from_last_send")
        if run.code == 0 and stats:
            p95.append(stats["p95"] * 1000)
            median.append(stats["median"] * 1000)
            window = all_open_latencies(run.report)
            counted.append(len(window))
            if window:
                open_p95.append(percentile(window, 0.95) * 1000)
    when = (
        f"after a {settle:g} s sleep (all open) and before another (none closed yet)"
        if settle
        else "from 1 s after each one's own open (later rows still opening, earlier ones closing)"
    )
    print(
        f"latency: {rows:,} connections{_said(processes)}, one round trip a second each, "
        f"{rounds} rounds, {when}"
    )
    if p95:
        line("p95, send to matching message", p95, "ms", LATENCY_P95_TARGET_MS)
        print(f"  {'median':<34} {spread(median):>22} ms")
    if open_p95:
        label = f"p95 with all {rows:,} open"
        line(label, open_p95, "ms", LATENCY_P95_TARGET_MS)
        print(f"  {'  round trips in that window':<34} {spread(counted):>22}")


def all_open_latencies(report: dict[str, Any]) -> list[float]:
    """The ``latency_from_send`` of the steps that ended after the run's last connection opened
    and before its first connection closed (seconds)."""
    events = report.get("events", [])
    opened, closed = times(report, "connection_opened"), times(report, "connection_closed")
    if not opened:
        return []
    start, end = max(opened), min(closed) if closed else float("inf")
    return [
        e["latency_from_send"]
        for e in events
        if e["type"] == "step_ended"
        and e.get("latency_from_send") is not None
        and start < e["at"] - e["latency_from_send"]
        and e["at"] < end
    ]


def percentile(values: list[float], fraction: float) -> float:
    """The value below which `fraction` of `values` lie (nearest rank, as the report's)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(fraction * len(ordered)) - 1))]


def _spread(processes: int) -> list[str]:
    return ["--processes", str(processes)] if processes > 1 else []


def _said(processes: int) -> str:
    return f" --processes {processes}" if processes > 1 else ""


def bench_validate(folder: Path, runs: int) -> None:
    figures = validate_startup(folder, runs)  # bench_loader's: compiled modules, interleaved runs
    walls, cpus = figures["wsrun validate"]
    print(
        f"wsrun validate, one-step file ({runs} runs, interleaved with python -c pass and "
        "python -c 'import pydantic')"
    )
    line("wall", walls, "ms", VALIDATE_TARGET_MS)
    print(f"  {'CPU (user + system)':<34} {spread(cpus):>22} ms")
    for name in ("python -c pass", "python -c 'import pydantic'"):
        base_walls, base_cpus = figures[name]
        print(f"  {name + ': wall':<34} {spread(base_walls):>22} ms")
        print(f"  {name + ': CPU':<34} {spread(base_cpus):>22} ms")


def bench_loader(folder: Path, steps: int, rounds: int) -> None:
    path = folder / "steps.yaml"
    write_steps(path, steps)
    load(path)  # the first load also builds what is cached
    per_step = [timed(load, path) / steps * 1e6 for _ in range(rounds)]
    kib = [memory_kib(path) / steps for _ in range(rounds)]
    print(f"loading {steps:,} steps (load_suite)")
    line("peak memory per step", kib, "KiB", STEP_MEMORY_TARGET_KIB, below=False)
    line("wall per step", per_step, "µs", STEP_TARGET_US)


def load_average() -> str:
    with open("/proc/loadavg") as file:
        return " ".join(file.read().split()[:3])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--hold", type=float, default=5.0)
    parser.add_argument("--big", type=int, default=5000, help="rows of the one big run (0: none)")
    parser.add_argument("--latency-rounds", type=int, default=5)
    parser.add_argument("--latency-connections", type=int, default=1000)
    parser.add_argument(
        "--settle",
        type=float,
        default=3.0,
        help="seconds each latency row sleeps after its open and after its round trips, for "
        "the figure with all connections open (0: that figure not measured)",
    )
    parser.add_argument("--validate-runs", type=int, default=20)
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--skip", default="", help="parts to skip, by commas")
    parser.add_argument(
        "--processes",
        default="1,2",
        help="the --processes values the connection and latency figures are measured with",
    )
    args = parser.parse_args(argv)
    skip = set(filter(None, args.skip.split(",")))
    kind = available_kind()
    print(f"load average {load_average()}; echo server: {kind}; CPUs: {os.cpu_count()}")
    with tempfile.TemporaryDirectory() as temp, echo_server(kind, None) as server:
        folder = Path(temp)
        spreads = [int(p) for p in args.processes.split(",")]
        if "connections" not in skip:
            for p in spreads:
                bench_connections(server.url, folder, args.connections, args.hold, args.rounds, p)
            if args.big:
                bench_big(server.url, folder, args.big, args.hold, spreads[0])
        if "latency" not in skip:
            settles = [0.0, args.settle] if args.settle else [0.0]
            for p in spreads:
                for settle in settles:
                    bench_latency(
                        server.url,
                        folder,
                        args.latency_connections,
                        args.latency_rounds,
                        args.rounds,
                        p,
                        settle,
                    )
        if "validate" not in skip:
            bench_validate(folder, args.validate_runs)
        if "loader" not in skip:
            bench_loader(folder, args.steps, args.rounds)
    print(f"load average {load_average()}")


if __name__ == "__main__":
    main()
