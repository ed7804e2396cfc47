"""How fast the runner runs scenarios, measured against baselines taken in the same run.

Each figure is the median of several rounds, printed with its target and ``met`` or ``MISSED``:

1. Run phase, pinned: one scenario of N ``send``/``expect`` pairs (text, each pair its own
   steps) against a local echo server (picows on uvloop, so the server is not the
   bottleneck), timed in-process around `run_suite` (loading is not timed) against a raw
   websocket-client ``send``/``recv`` loop doing the same pairs on the same server, rounds
   interleaved. The runner runs as ``wsrun -q`` does (a quiet console reporter). Target:
   runner >= 0.5x raw. Two more baselines say what bounds it: the client core with each next
   send made from its message listener (the ceiling: wsrun's executor runs send/expect steps
   on the connection's thread the same way), and the client core with a hand-off to a waiting
   thread (what an executor waiting on its own thread would pay). The client (this process)
   and the echo server share one CPU: a round trip then costs client CPU + server CPU + two
   context switches, which is stable, and the ratio compares what each client costs.
2. The JSON report's cost: the same run with ``--json-report`` (its reporter, closed and
   written, inside the timing) against the run without it. Target: < 10% more time.
3. Run phase, unpinned (the scheduler places client and server): runner >= 0.7x raw.
4. Whole process: ``python -m runner -q`` on the same file (start-up, loading, run, exit)
   against a fresh ``python`` process running the raw loop (its imports included). Target:
   within 3x.
5. ``-j 50``: 50 scenarios of 200 pairs each as whole processes, peak RSS with
   ``--json-report`` against without it. Target: the report must not double it (< 2x).
6. ``-j 8`` on 40 scenarios that each connect, wait 200 ms, and do one echo pair: wall time
   against the ideal 40 x 0.2 / 8 = 1 s. Target: <= 1.5x.
7. ``wsrun --version`` start time (``python -m runner --version`` in a fresh process). Target:
   < 0.3 s.

``--profile`` runs the pinned runner once more under cProfile (every thread, the connection's
where the steps run included) and prints the top functions by own time, with each thread's
CPU time per pair (``time.thread_time``); then, with no profiler, the JSON report's parts: the
CPU its calls take during a run, its close, and the ``fsync`` of the written file.

    python -m bench.bench_runner [--pairs 5000] [--rounds 5] [--profile] [--only pinned ...]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from io import StringIO
from pathlib import Path
from typing import Any

import websocket  # bench/ may use websocket-client directly: it is the baseline

from bench.servers import echo_server

CPU = 1
#: The fresh processes import this checkout's `runner`, wherever they start, and with bytecode as
#: users' processes do: a PYTHONDONTWRITEBYTECODE=1 of the environment (CI, sandboxes) would
#: have each compile the project from source (~0.1 s more wsrun than users see). The bytecode
#: goes to a folder of its own (PYTHONPYCACHEPREFIX), not into the checkout.
ROOT = Path(__file__).resolve().parents[1]
ENV = {
    **{k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"},
    "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    "PYTHONPYCACHEPREFIX": str(Path(tempfile.gettempdir()) / "wsrun-bench-pycache"),
}


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


def run_folder(folder: Path, url: str, jobs: int, json_report: bool = False) -> float:
    """Run every scenario of `folder` in-process, as ``wsrun -q -j N`` would; return seconds.

    The events go through the redaction in front of the bus, as the CLI's do, to a quiet
    console reporter (on a throwaway console) and, with `json_report`, to a JSON reporter,
    closed (its report written) inside the timing; loading the files is not timed.
    """
    from rich.console import Console

    from runner.events import EventBus, Status
    from runner.executor import RunOptions, run_suite
    from runner.report.console import QUIET, ConsoleReporter
    from runner.report.json_report import JsonReporter
    from runner.report.redaction import Redactor
    from runner.scenario import load_suite

    suite = load_suite([str(folder)], {"url": url})
    bus = EventBus()
    bus.subscribe(ConsoleReporter(Console(file=StringIO(), color_system=None), QUIET, jobs))
    report = JsonReporter(folder / "report.json") if json_report else None
    if report is not None:
        bus.subscribe(report)
    started = time.perf_counter()
    emit = Redactor().emitter(bus.emit, bus.takes)
    status = run_suite(suite, suite.scenarios, RunOptions(jobs=jobs), emit)
    if report is not None:
        report.close()
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


def mark(ok: bool) -> str:
    """``met`` or ``MISSED``, for a figure against its target."""
    return "met" if ok else "MISSED"


def _spread(values: list[float]) -> str:
    return f"{min(values):.2f}-{max(values):.2f}"


def _pin(cpu: int | None) -> None:
    """Put this thread (and the threads it starts from now on) on `cpu`, or on every CPU."""
    os.sched_setaffinity(0, {cpu} if cpu is not None else range(os.cpu_count() or 1))


def bench_pairs(pairs: int, rounds: int, cpu: int | None, baselines: bool) -> None:
    """Figures 1-3: runner vs raw websocket-client, same server, rounds interleaved."""
    _pin(cpu)
    kinds = ["raw", "runner"] + (["inline", "core", "json"] if baselines else [])
    with tempfile.TemporaryDirectory() as temp, echo_server("picows", cpu) as server:
        folder = Path(temp)
        write_pairs_scenario(folder, pairs)
        run_folder(folder, server.url, jobs=1)  # warm-up: imports, first connection
        times: dict[str, list[float]] = {kind: [] for kind in kinds}
        for _ in range(rounds):
            times["raw"].append(raw_pairs(server.url, pairs))
            if baselines:
                times["inline"].append(core_inline_pairs(server.url, pairs))
                times["core"].append(core_handoff_pairs(server.url, pairs))
            times["runner"].append(run_folder(folder, server.url, jobs=1))
            if baselines:
                times["json"].append(run_folder(folder, server.url, jobs=1, json_report=True))

    def ratios(key: str, base: str = "raw") -> list[float]:
        return [b / a for a, b in zip(times[key], times[base], strict=True)]

    def rate(key: str) -> float:
        return pairs / statistics.median(times[key])

    where = f"pinned to CPU {cpu} with the server" if cpu is not None else "not pinned"
    print(f"echo pairs, {where} ({pairs} per round, {rounds} rounds, server {server.kind}):")
    print(f"  raw websocket-client send/recv   {rate('raw'):9,.0f} pairs/s")
    if baselines:
        for key, what in (
            ("inline", "client core, send from listener "),
            ("core", "client core + thread hand-off   "),
        ):
            r = ratios(key)
            print(f"  {what} {rate(key):9,.0f} pairs/s  {statistics.median(r):.2f}x raw")
    r = ratios("runner")
    target = 0.5 if cpu is not None else 0.7
    ok = statistics.median(r) >= target
    print(
        f"  wsrun -q                         {rate('runner'):9,.0f} pairs/s  "
        f"{statistics.median(r):.2f}x raw ({_spread(r)}), target >= {target}x: {mark(ok)}"
    )
    if baselines:
        cost = [j / q - 1 for j, q in zip(times["json"], times["runner"], strict=True)]
        ok = statistics.median(cost) < 0.10
        print(
            f"  wsrun -q --json-report           {rate('json'):9,.0f} pairs/s  report cost "
            f"{statistics.median(cost):+.0%} ({min(cost):+.0%} to {max(cost):+.0%}), "
            f"target < +10%: {mark(ok)}"
        )


RAW_SCRIPT = """
import sys, websocket
ws = websocket.create_connection(sys.argv[1])
for i in range(int(sys.argv[2])):
    text = f"m{i}"
    ws.send(text)
    assert ws.recv() == text
ws.close()
"""


def bench_process(pairs: int, rounds: int, cpu: int | None) -> None:
    """Figure 4: ``python -m runner -q`` against a raw script, each a fresh process."""
    _pin(cpu)
    with tempfile.TemporaryDirectory() as temp, echo_server("picows", cpu) as server:
        folder = Path(temp)
        write_pairs_scenario(folder, pairs)
        wsrun = [sys.executable, "-m", "runner", "-q", str(folder), "--var", f"url={server.url}"]
        raw = [sys.executable, "-c", RAW_SCRIPT, server.url, str(pairs)]
        runs: dict[str, list[float]] = {"raw": [], "wsrun": []}
        _process_time(raw, folder)  # once untimed each: the bytecode written, the files cached
        _process_time(wsrun, folder)
        for _ in range(rounds):
            runs["raw"].append(_process_time(raw, folder))
            runs["wsrun"].append(_process_time(wsrun, folder))
    ratios = [w / r for w, r in zip(runs["wsrun"], runs["raw"], strict=True)]
    ok = statistics.median(ratios) <= 3.0
    print(f"whole process, {pairs} pairs ({rounds} rounds):")
    print(f"  raw script        {statistics.median(runs['raw']):.3f} s")
    print(
        f"  python -m runner  {statistics.median(runs['wsrun']):.3f} s  "
        f"{statistics.median(ratios):.2f}x raw ({_spread(ratios)}), target <= 3x: {mark(ok)}"
    )


def _process_time(command: list[str], cwd: Path) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, cwd=cwd, env=ENV)
    return time.perf_counter() - started


PEAK_SCRIPT = """
import resource, subprocess, sys
subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def peak_rss_kib(command: list[str], cwd: Path) -> int:
    """Peak RSS of `command` as a fresh process, in KiB (the only child of a small parent)."""
    out = subprocess.run(
        [sys.executable, "-c", PEAK_SCRIPT, *command],
        check=True,
        capture_output=True,
        text=True,
        cwd=cwd,
        env=ENV,
    )
    return int(out.stdout.split()[-1])


def bench_report_memory(cpu: int | None, scenarios: int = 50, pairs: int = 200) -> None:
    """Figure 5: peak RSS of ``-j 50`` with and without the JSON report."""
    _pin(cpu)
    with tempfile.TemporaryDirectory() as temp, echo_server("picows", cpu) as server:
        folder = Path(temp)
        (folder / "s").mkdir()
        for n in range(scenarios):
            write_pairs_scenario(folder / "s", pairs)
            (folder / "s" / "pairs.yaml").rename(folder / "s" / f"pairs_{n:02}.yaml")
        command = [sys.executable, "-m", "runner", "-q", "-j", str(scenarios), "s"]
        command += ["--var", f"url={server.url}"]
        plain = peak_rss_kib(command, folder)
        report = peak_rss_kib([*command, "--json-report", "r.json"], folder)
    ok = report < 2 * plain
    print(f"-j {scenarios}, {scenarios} scenarios of {pairs} pairs, peak RSS:")
    print(
        f"  without a report {plain / 1024:.0f} MiB, with --json-report {report / 1024:.0f} MiB: "
        f"{report / plain:.2f}x, target < 2x: {mark(ok)}"
    )


@contextmanager
def _thread_times() -> Iterator[dict[str, float]]:
    """Each thread's CPU time (``time.thread_time`` as it ends), by name, while inside."""
    times: dict[str, float] = {}
    run = threading.Thread.run
    profiles: list[cProfile.Profile] = []

    def timed(self: threading.Thread) -> None:
        profile = cProfile.Profile()
        profiles.append(profile)
        profile.enable()
        try:
            run(self)
        finally:
            profile.disable()
            times[self.name] = times.get(self.name, 0.0) + time.thread_time()

    threading.Thread.run = timed  # type: ignore[method-assign]
    try:
        yield times
    finally:
        threading.Thread.run = run  # type: ignore[method-assign]
        stats = pstats.Stats(profiles[0], stream=(out := io.StringIO()))
        for profile in profiles[1:]:
            stats.add(profile)
        stats.sort_stats("tottime").print_stats(30)
        print(out.getvalue())


def bench_profile(pairs: int, cpu: int | None) -> None:
    """``--profile``: one pinned runner round under cProfile, every thread."""
    _pin(cpu)
    with tempfile.TemporaryDirectory() as temp, echo_server("picows", cpu) as server:
        folder = Path(temp)
        write_pairs_scenario(folder, pairs)
        run_folder(folder, server.url, jobs=1)
        with _thread_times() as times:
            run_folder(folder, server.url, jobs=1)
            time.sleep(0.1)  # the connection's thread ends after the run
            cpu_times = dict(times)
    for name, seconds in sorted(cpu_times.items(), key=lambda item: -item[1]):
        print(f"  thread {name}: {seconds / pairs * 1e6:.1f} µs CPU per pair (under cProfile)")
    bench_report_parts(pairs, cpu)


def bench_report_parts(pairs: int, cpu: int | None, rounds: int = 3) -> None:
    """``--profile``, then: what the JSON report costs, taken apart (no cProfile): the CPU
    of its calls during a run (``time.thread_time`` around each), and its close, with the
    ``fsync`` of the written file timed on its own."""
    from rich.console import Console

    from runner.events import EventBus
    from runner.executor import RunOptions, run_suite
    from runner.report.console import QUIET, ConsoleReporter
    from runner.report.json_report import JsonReporter
    from runner.scenario import load_suite

    _pin(cpu)
    fsync, synced = os.fsync, [0.0]

    def timed_fsync(fd: Any) -> None:
        started = time.perf_counter()
        fsync(fd)
        synced[0] += time.perf_counter() - started

    print(f"the JSON report's parts ({pairs} pairs, {rounds} rounds):")
    with tempfile.TemporaryDirectory() as temp, echo_server("picows", cpu) as server:
        folder = Path(temp)
        write_pairs_scenario(folder, pairs)
        for _ in range(rounds):
            suite = load_suite([str(folder)], {"url": server.url})
            bus = EventBus()
            bus.subscribe(ConsoleReporter(Console(file=StringIO(), color_system=None), QUIET))
            report, spent = JsonReporter(folder / "report.json"), [0.0]
            bus.subscribe(_TimedReporter(report, spent))
            started = time.process_time()
            run_suite(suite, suite.scenarios, RunOptions(jobs=1), bus.emit)
            run = time.process_time() - started
            synced[0] = 0.0
            os.fsync = timed_fsync
            try:
                started = time.process_time()
                report.close()
                close = time.process_time() - started
            finally:
                os.fsync = fsync
            size = (folder / "report.json").stat().st_size
            print(
                f"  run {run / pairs * 1e6:.0f} µs CPU a pair, of which the report's calls "
                f"{spent[0] / pairs * 1e6:.1f} µs; close {close * 1e3:.0f} ms CPU, its fsync "
                f"{synced[0] * 1e3:.1f} ms ({size / 1e6:.1f} MB)"
            )


class _TimedReporter:
    """A JSON reporter's listener, as the bus calls it (each class through the handler its
    `handler_for` gives), with `time.thread_time` around each call added to `spent[0]`."""

    def __init__(self, report: Any, spent: list[float]) -> None:
        self.report, self.spent = report, spent

    def __call__(self, event: Any) -> None:  # the bus calls handlers, never this
        raise AssertionError("called without handler_for")

    def handler_for(self, cls: type) -> Callable[[Any], None] | None:
        handler = self.report.handler_for(cls)
        if handler is None:
            return None
        spent = self.spent

        def timed(event: Any) -> None:
            started = time.thread_time()
            handler(event)
            spent[0] += time.thread_time() - started

        return timed


def bench_jobs(rounds: int, cpu: int | None) -> None:
    """Figure 6: -j 8 on 40 scenarios of 200 ms each, against the ideal 1 s."""
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
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, env=ENV)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def bench_start(runs: int) -> None:
    """Figure 7: `wsrun --version` start time, against a bare interpreter."""
    median_start([sys.executable, "-m", "runner", "--version"], 1)  # the bytecode written
    bare = median_start([sys.executable, "-c", "pass"], runs)
    version = median_start([sys.executable, "-m", "runner", "--version"], runs)
    print(f"start time (median of {runs} runs):")
    print(f"  python -c pass              {bare * 1000:6.1f} ms")
    print(f"  python -m runner --version  {version * 1000:6.1f} ms  (target < 300 ms)")


def _timed(name: str, work: Callable[[], None]) -> None:
    started = time.perf_counter()
    work()
    print(f"  ({name} took {time.perf_counter() - started:.1f} s)\n")


def load_average() -> str:
    """The 1-, 5- and 15-minute load averages (other work on the machine skews the figures)."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


#: The benchmarks `--only` can pick, in the order a full run runs them: figures 1-2 (pinned,
#: with the baselines and the JSON report's cost), 3, 4, 5, 6 and 7.
PARTS = ("pinned", "unpinned", "process", "memory", "jobs", "start")


def main(argv: list[str] | None = None) -> None:
    """Run the benchmarks and print their figures."""
    parser = argparse.ArgumentParser(prog="python -m bench.bench_runner")
    parser.add_argument("--pairs", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--profile", action="store_true", help="cProfile one runner round")
    parser.add_argument(
        "--only",
        action="append",
        choices=PARTS,
        help="run only this figure's benchmark (repeatable): " + ", ".join(PARTS),
    )
    args = parser.parse_args(argv)
    cpu = None if os.cpu_count() == 1 else CPU
    print(f"load average {load_average()} at the start\n")
    if args.profile:
        bench_profile(args.pairs, cpu)
        return
    parts: dict[str, Callable[[], None]] = {
        "pinned": lambda: bench_pairs(args.pairs, args.rounds, cpu, True),
        "unpinned": lambda: bench_pairs(args.pairs, args.rounds, None, False),
        "process": lambda: bench_process(args.pairs, args.rounds, cpu),
        "memory": lambda: bench_report_memory(cpu),
        "jobs": lambda: bench_jobs(max(3, args.rounds // 2), cpu),
        "start": lambda: bench_start(15),
    }
    for name in args.only or PARTS:
        _timed(name, parts[name])
    print(f"load average {load_average()} at the end")


if __name__ == "__main__":
    main()
