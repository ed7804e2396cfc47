"""How fast the runner runs scenarios, measured against baselines taken in the same run.

Three figures, each the median of several rounds:

1. Echo pairs: one scenario of N ``send``/``expect`` pairs (text) against a local echo server
   (picows on uvloop, so the server is not the bottleneck), timed against a raw websocket-client
   ``send``/``recv`` loop doing the same pairs on the same server, rounds interleaved. Target:
   runner >= 0.5x raw. Two more baselines say what bounds the runner: the client core with each
   next send made from its message listener (the ceiling: wsrun's executor runs send/expect
   steps on the connection's thread the same way), and the client core with a hand-off to a
   waiting thread (what an executor waiting on its own thread would pay).
2. ``-j 8`` on 40 scenarios that each connect, wait 200 ms, and do one echo pair: wall time
   against the ideal 40 x 0.2 / 8 = 1 s. Target: <= 1.5x.
3. ``wsrun --version`` start time (``python -m runner --version`` in a fresh process). Target:
   < 0.3 s.

By default the client (this process) and the echo server share CPU 1, as in the main table of
perf-baselines.md: a round trip then costs client CPU + server CPU + two context switches, which
is stable, and the ratio compares what each client costs (for the runner: the client core plus
the executor's Python per step, events and reporters). ``--no-pin`` lets the scheduler choose:
client and server then overlap on two CPUs, and the figures vary much more from round to round.

    python -m bench.bench_runner [--pairs 5000] [--rounds 5] [--no-pin]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from io import StringIO
from pathlib import Path

import websocket  # bench/ may use websocket-client directly: it is the baseline

from bench.servers import echo_server

CPU = 1


def write_pairs_scenario(folder: Path, pairs: int) -> None:
    """A scenario of `pairs` send/expect echo pairs on one connection."""
    lines = ["name: echo pairs", "timeout: 10s", "steps:", '  - connect: {url: "${url}"}']
    for i in range(pairs):
        lines.append(f"  - send: m{i}")
        lines.append(f"  - expect: {{text: m{i}}}")
    lines.append("  - close")
    (folder / "pairs.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")


def write_waiting_scenarios(folder: Path, count: int, wait_ms: int) -> None:
    """`count` scenarios that connect, wait `wait_ms`, and do one echo pair."""
    for i in range(count):
        text = (
            f"name: wait {i}\nsteps:\n"
            '  - connect: {url: "${url}"}\n'
            f"  - sleep: {wait_ms}ms\n"
            f"  - send: w{i}\n"
            f"  - expect: {{text: w{i}}}\n"
            "  - close\n"
        )
        (folder / f"wait_{i:02}.yaml").write_text(text, encoding="utf-8")


def run_folder(folder: Path, url: str, jobs: int) -> float:
    """Run every scenario of `folder` in-process, as ``wsrun -q -j N`` would; return seconds.

    The events go to a quiet console reporter (on a throwaway console) and a JSON reporter, as in
    a CI run; loading the files is not timed.
    """
    from rich.console import Console

    from runner.events import EventBus, Status
    from runner.executor import RunOptions, run_suite
    from runner.report.console import QUIET, ConsoleReporter
    from runner.report.json_report import JsonReporter
    from runner.scenario import load_suite

    suite = load_suite([str(folder)], {"url": url})
    bus = EventBus()
    bus.subscribe(ConsoleReporter(Console(file=StringIO(), color_system=None), QUIET, jobs))
    bus.subscribe(JsonReporter(folder / "report.json"))  # collects; not written
    started = time.perf_counter()
    status = run_suite(suite, suite.scenarios, RunOptions(jobs=jobs), bus.emit)
    elapsed = time.perf_counter() - started
    if status is not Status.PASSED:
        raise SystemExit(f"the benchmark scenarios did not pass: {status}")
    return elapsed


def raw_pairs(url: str, pairs: int) -> float:
    """The same pairs with websocket-client's blocking send/recv; return seconds."""
    ws = websocket.create_connection(url)
    started = time.perf_counter()
    for i in range(pairs):
        text = f"m{i}"
        ws.send(text)
        if ws.recv() != text:
            raise SystemExit("the echo server answered something else")
    elapsed = time.perf_counter() - started
    ws.close()
    return elapsed


def core_inline_pairs(url: str, pairs: int) -> float:
    """The same pairs through `runner.client`, each next send made from the message listener.

    The ceiling of wsrun's executor, which runs send/expect steps on the connection's thread
    the same way: what is left above it is the executor's own Python per step.
    """
    from runner.client import create_websocket

    ws, done, count = create_websocket(), threading.Event(), [0]

    def on_message(_err: object, _data: str | bytes) -> None:
        count[0] += 1
        if count[0] == pairs:
            done.set()
        else:
            ws.send(f"m{count[0]}")

    ws.on("message", on_message)
    ws.connect(url).result(10)  # type: ignore[union-attr]
    started = time.perf_counter()
    ws.send("m0")
    done.wait(60)
    elapsed = time.perf_counter() - started
    ws.close()
    ws.wait_closed(5)
    return elapsed


def core_handoff_pairs(url: str, pairs: int) -> float:
    """The same pairs through `runner.client` with a Condition hand-off to a waiting thread.

    What an executor that waits on its own thread pays: each message is read on the
    connection's thread and handed over (one more wake-up and GIL hand-over per round trip).
    """
    from runner.client import create_websocket

    ws, cond, box = create_websocket(), threading.Condition(), []

    def on_message(_err: object, data: str | bytes) -> None:
        with cond:
            box.append(data)
            cond.notify()

    ws.on("message", on_message)
    ws.connect(url).result(10)  # type: ignore[union-attr]
    started = time.perf_counter()
    for i in range(pairs):
        ws.send(f"m{i}")
        with cond:
            while not box:
                cond.wait(10)
            box.pop()
    elapsed = time.perf_counter() - started
    ws.close()
    ws.wait_closed(5)
    return elapsed


def bench_pairs(pairs: int, rounds: int, cpu: int | None) -> None:
    """Figure 1: runner vs raw websocket-client, same server, rounds interleaved."""
    with tempfile.TemporaryDirectory() as temp, echo_server("picows", cpu) as server:
        folder = Path(temp)
        write_pairs_scenario(folder, pairs)
        rates: dict[str, list[float]] = {"raw": [], "inline": [], "core": [], "runner": []}
        for _ in range(rounds):
            rates["raw"].append(pairs / raw_pairs(server.url, pairs))
            rates["inline"].append(pairs / core_inline_pairs(server.url, pairs))
            rates["core"].append(pairs / core_handoff_pairs(server.url, pairs))
            rates["runner"].append(pairs / run_folder(folder, server.url, jobs=1))

    def ratio(key: str) -> float:
        return statistics.median(a / b for a, b in zip(rates[key], rates["raw"], strict=True))

    ratios = [ran / raw for ran, raw in zip(rates["runner"], rates["raw"], strict=True)]
    rate = {key: statistics.median(values) for key, values in rates.items()}
    print(f"echo pairs ({pairs} per round, {rounds} rounds, server {server.kind}):")
    print(f"  raw websocket-client send/recv   {rate['raw']:9,.0f} pairs/s")
    print(
        f"  client core, send from listener  {rate['inline']:9,.0f} pairs/s  "
        f"{ratio('inline'):.2f}x raw (the executor's ceiling)"
    )
    print(
        f"  client core + thread hand-off    {rate['core']:9,.0f} pairs/s  "
        f"{ratio('core'):.2f}x raw (what waiting on another thread costs)"
    )
    print(
        f"  wsrun runner                     {rate['runner']:9,.0f} pairs/s  "
        f"{ratio('runner'):.2f}x raw (target >= 0.5x; rounds: "
        f"{', '.join(f'{r:.2f}' for r in ratios)})"
    )


def bench_jobs(rounds: int, cpu: int | None) -> None:
    """Figure 2: -j 8 on 40 scenarios of 200 ms each, against the ideal 1 s."""
    count, wait_ms, jobs = 40, 200, 8
    ideal = count * wait_ms / 1000 / jobs
    with tempfile.TemporaryDirectory() as temp, echo_server("picows", cpu) as server:
        folder = Path(temp)
        write_waiting_scenarios(folder, count, wait_ms)
        times = [run_folder(folder, server.url, jobs) for _ in range(rounds)]
    wall = statistics.median(times)
    print(f"-j {jobs}, {count} scenarios of {wait_ms} ms ({rounds} rounds):")
    print(
        f"  wall {wall:.3f} s, ideal {ideal:.3f} s, ratio {wall / ideal:.2f}x  (target <= 1.5x)"
        f"  rounds: {', '.join(f'{t:.3f}' for t in times)}"
    )


def median_start(command: list[str], runs: int) -> float:
    """Median wall time of `runs` fresh processes running `command`."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def bench_start(runs: int) -> None:
    """Figure 3: `wsrun --version` start time, against a bare interpreter."""
    bare = median_start([sys.executable, "-c", "pass"], runs)
    version = median_start([sys.executable, "-m", "runner", "--version"], runs)
    print(f"start time (median of {runs} runs):")
    print(f"  python -c pass              {bare * 1000:6.1f} ms")
    print(f"  python -m runner --version  {version * 1000:6.1f} ms  (target < 300 ms)")


def _timed(name: str, work: Callable[[], None]) -> None:
    started = time.perf_counter()
    work()
    print(f"  ({name} took {time.perf_counter() - started:.1f} s)\n")


def main(argv: list[str] | None = None) -> None:
    """Run the three benchmarks and print their figures."""
    parser = argparse.ArgumentParser(prog="python -m bench.bench_runner")
    parser.add_argument("--pairs", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--no-pin", action="store_true", help="do not pin to one CPU")
    args = parser.parse_args(argv)
    cpu = None if args.no_pin or os.cpu_count() == 1 else CPU
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})  # this process and every thread it starts
    print(f"pinned to CPU {cpu}" if cpu is not None else "not pinned", "\n")
    _timed("echo pairs", lambda: bench_pairs(args.pairs, args.rounds, cpu))
    _timed("jobs", lambda: bench_jobs(max(3, args.rounds // 2), cpu))
    _timed("start", lambda: bench_start(15))


if __name__ == "__main__":
    main()
