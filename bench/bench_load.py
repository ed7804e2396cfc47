"""How many users ``wsrun load`` drives, against the built-in server in a process of its own.

1. Round trips: USERS virtual users, each holding one connection and doing a send/expect
   round trip every second for SECONDS (a ``repeat`` of send, expect, sleep 1s), run by
   ``python -m runner load ... --iterations 1``. Printed: requests, failures (target 0),
   requests per second, the load process's CPU (user + system, from its rusage) per request
   and per round trip, the users one core drives at one round trip a second (USERS over the
   CPU share the run took), the expects' p50/p95/p99, and the server's CPU beside it.
2. Idle: IDLE users that connect (keepalive pings every 10 s) and stay, spread over
   IDLE_PROCESSES child processes that run Locust in-process (each connection holds 3 file
   descriptors, its socket and the pair that wakes its receive loop: one process of a machine
   whose hard limit is 20,000 holds about 6,500): the connection open rate (connected users
   over the time to connect them all, spawning at SPAWN/s in all), the RSS per connected user
   (the rise of VmRSS over the users), 0 failures while they are held for HOLD seconds, and the
   time to close them all (Locust stopping every user, each closing its connection politely).
3. Artillery, when ``artillery`` is found (``--artillery PATH``, or on PATH, or in
   /tmp/artB/node_modules/.bin): the same round-trip scenario on its ws engine (each user
   sends, waits for the echo, thinks 1 s, SECONDS times), its CPU per round trip and its
   requests per second against wsrun's, as ratios, in the same run.

The load average is printed before and after each part: the machine may be shared.

    python -m bench.bench_load [--users 1000] [--seconds 60] [--idle 10000] [--spawn 500]
        [--idle-processes 2] [--hold 15] [--rounds 1] [--artillery PATH] [--skip rt|idle|art]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
#: Seconds for ``wsrun load`` to start and spawn every user (at users/10 per second).
STARTUP = 12.0
READY = re.compile(r"listening on (ws://127\.0\.0\.1:\d+)")

HOLD = """\
name: hold
timeout: {timeout}s
steps:
  - connect: {{url: "${{base_url}}/echo", timeout: 60s, name: open}}
  - repeat:
      count: {seconds}
      steps:
        - send: {{json: {{n: 1}}, name: send}}
        - expect: {{json: {{n: 1}}, name: echo}}
        - sleep: 1s
  - close
"""

IDLE = """\
name: idle
timeout: 1h
steps:
  - connect:
      url: "${base_url}/echo"
      keepalive: {interval: 10s, timeout: 5s}
      timeout: 60s
      name: open
  - sleep: 1h
"""


def loadavg() -> str:
    with open("/proc/loadavg", encoding="ascii") as file:
        return " ".join(file.read().split()[:3])


def cpu_of(pid: int) -> float:
    """User + system CPU seconds of a live process (from /proc)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as file:
        fields = file.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


@contextmanager
def server() -> Iterator[tuple[str, int]]:
    """The built-in server in its own process; its URL and pid."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "runner.server", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
        env=ENV,
    )
    try:
        assert proc.stdout is not None
        match = READY.search(proc.stdout.readline())
        assert match, "the server did not start"
        yield match.group(1), proc.pid
    finally:
        proc.kill()
        proc.wait()


def run_measured(
    command: list[str], window: tuple[float, float] | None = None, **kwargs: Any
) -> tuple[int, float, float, str]:
    """Run `command`; its exit code, wall seconds, CPU seconds (rusage) and stdout. With
    `window` (seconds from its start), `WINDOW_CPU` gets its CPU seconds within that window."""
    start = time.monotonic()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, **kwargs)
    assert proc.stdout is not None
    if window is not None:
        sampler = threading.Thread(target=_sample, args=(proc.pid, start, window), daemon=True)
        sampler.start()
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.monotonic() - start
    return proc.returncode, wall, usage.ru_utime + usage.ru_stime, out


#: (wall clock, CPU seconds) of the last `run_measured` at the two ends of its window.
WINDOW_CPU: list[tuple[float, float]] = []


def _sample(pid: int, start: float, window: tuple[float, float]) -> None:
    for at in window:
        time.sleep(max(0.0, start + at - time.monotonic()))
        try:
            WINDOW_CPU.append((time.time(), cpu_of(pid)))
        except (FileNotFoundError, ProcessLookupError):
            return


def requests_at(history: Path, wall: float) -> tuple[int, int]:
    """From Locust's ``_stats_history.csv``: the total requests and the users at `wall`."""
    best = (0, 0)
    with open(history, encoding="utf-8", newline="") as file:
        for row in csv.DictReader(file):
            if row["Name"] == "Aggregated" and int(row["Timestamp"]) <= wall:
                best = (int(row["Total Request Count"]), int(row["User Count"]))
    return best


def round_trips(
    url: str, server_pid: int, users: int, seconds: int, folder: Path
) -> dict[str, Any]:
    scenario = folder / "hold.yaml"
    scenario.write_text(HOLD.format(seconds=seconds, timeout=seconds * 3), encoding="utf-8")
    prefix = folder / "rt"
    rate = max(1, users // 10)  # every user started within ~10 s
    command = [
        sys.executable, "-m", "runner", "load", str(scenario), "--var", f"base_url={url}",
        "-u", str(users), "-r", str(rate), "--iterations", "1", "--csv", str(prefix),
    ]  # fmt: skip
    server_cpu = cpu_of(server_pid)
    # steady state: every user started (10 s of spawning, and start-up), none finished yet
    window = (STARTUP + 2.0, float(seconds) + 2.0)
    WINDOW_CPU.clear()
    code, wall, cpu, out = run_measured(command, window if window[1] > window[0] else None, env=ENV)
    server_cpu = cpu_of(server_pid) - server_cpu
    steady = {}
    if len(WINDOW_CPU) == 2:  # each round trip is 3 requests: send, expect, sleep
        (wall_a, cpu_a), (wall_b, cpu_b) = WINDOW_CPU
        history = Path(f"{prefix}_stats_history.csv")
        (count_a, users_a), (count_b, users_b) = (requests_at(history, t) for t in (wall_a, wall_b))
        trips = (count_b - count_a) / 3
        if trips > 0:
            per_trip = (cpu_b - cpu_a) / trips
            steady = {
                "steady_users": min(users_a, users_b),
                "steady_round_trips_per_s": trips / (wall_b - wall_a),
                "steady_cpu_share": (cpu_b - cpu_a) / (wall_b - wall_a),
                "steady_cpu_us_per_round_trip": per_trip * 1e6,
                "steady_users_per_core_at_1rps": 1 / per_trip,
            }
    with open(f"{prefix}_stats.csv", encoding="utf-8", newline="") as file:
        rows = {(r["Type"], r["Name"]): r for r in csv.DictReader(file)}
    total = rows[("", "Aggregated")]
    echo = rows[("EXPECT", "hold echo")]
    requests, expects = int(total["Request Count"]), int(echo["Request Count"])
    return {
        "exit": code,
        "wall_s": wall,
        "requests": requests,
        "failures": int(total["Failure Count"]),
        "round_trips": expects,
        "req_per_s": requests / wall,
        "cpu_s": cpu,
        "cpu_us_per_request": cpu / requests * 1e6,
        "cpu_us_per_round_trip": cpu / expects * 1e6,
        "users_per_core_at_1rps": expects / cpu,
        "expect_p50_ms": float(echo["50%"]),
        "expect_p95_ms": float(echo["95%"]),
        "expect_p99_ms": float(echo["99%"]),
        "server_cpu_s": server_cpu,
        **steady,
        "table": out,
    }


def idle_child(url: str, users: int, spawn: float, hold: float) -> None:
    """In a child process: Locust in-process (gevent-patched); prints one JSON line."""
    import gevent
    import locust  # noqa: F401  (patches first)
    from locust.env import Environment

    from runner.load.plan import load_plan
    from runner.load.user import ScenarioUser

    # each connection holds 3 descriptors (its socket, and the pair that wakes its receive
    # loop): one process of this machine (hard limit 20,000) holds about 6,500
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    limit = hard
    folder = Path(tempfile.mkdtemp())
    (folder / "idle.yaml").write_text(IDLE, encoding="utf-8")
    plan = load_plan([str(folder / "idle.yaml")], {"base_url": url})
    user = type("Idle", (ScenarioUser,), {"abstract": False, "plan": plan})
    env = Environment(user_classes=[user], stop_timeout=0.0)
    counts = {"connected": 0, "failed": 0}
    errors: list[str] = []

    def on_request(request_type: str, exception: Any = None, **_: Any) -> None:
        if exception is not None:
            counts["failed"] += 1
            if len(errors) < 3:
                errors.append(str(exception))
        elif request_type == "CONNECT":
            counts["connected"] += 1

    env.events.request.add_listener(on_request)
    runner = env.create_local_runner()
    gevent.sleep(0.5)
    rss0 = rss_kib()
    start = time.monotonic()
    gevent.spawn(runner.start, users, spawn)
    end = start + max(120.0, users / spawn * 3)
    while counts["connected"] + counts["failed"] < users and time.monotonic() < end:
        gevent.sleep(0.05)
    opened = time.monotonic() - start
    rss1 = rss_kib()
    gevent.sleep(hold)  # keepalive pings go both ways meanwhile
    held = dict(counts)
    closing = time.monotonic()
    runner.stop()
    closed = time.monotonic() - closing
    print(
        json.dumps(
            {
                "users": users,
                "fd_limit": limit,
                "connected": held["connected"],
                "failed": held["failed"],
                "errors": errors,
                "open_s": opened,
                "opens_per_s": held["connected"] / opened,
                "rss_before_mib": rss0 / 1024,
                "rss_after_mib": rss1 / 1024,
                "rss_kib_per_user": (rss1 - rss0) / max(1, held["connected"]),
                "close_s": closed,
            }
        ),
        flush=True,
    )
    runner.quit()
    os._exit(0)  # the users' greenlets are gone; skip the interpreter's slow teardown


def rss_kib() -> int:
    with open("/proc/self/status", encoding="ascii") as file:
        for line in file:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def idle(url: str, users: int, spawn: float, hold: float, procs: int) -> dict[str, Any]:
    """`procs` idle children at once, `users` over them; their figures summed or combined."""
    share = users // procs
    command = [sys.executable, "-m", "bench.bench_load", "--idle-child", url, str(share),
               str(spawn / procs), str(hold)]  # fmt: skip
    children = [
        subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=ENV, cwd=ROOT)
        for _ in range(procs)
    ]
    parts = []
    for child in children:
        out, _ = child.communicate()
        parts.append(json.loads(out.strip().splitlines()[-1]))
    connected = sum(p["connected"] for p in parts)
    opened = max(p["open_s"] for p in parts)
    return {
        "users": share * procs,
        "processes": procs,
        "fd_limit": parts[0]["fd_limit"],
        "connected": connected,
        "failed": sum(p["failed"] for p in parts),
        "errors": parts[0]["errors"],
        "open_s": opened,
        "opens_per_s": connected / opened,
        "rss_before_mib": sum(p["rss_before_mib"] for p in parts),
        "rss_after_mib": sum(p["rss_after_mib"] for p in parts),
        "rss_kib_per_user": sum(p["rss_kib_per_user"] * p["connected"] for p in parts)
        / max(1, connected),
        "close_s": max(p["close_s"] for p in parts),
    }


ARTILLERY = """\
config:
  target: "{url}/echo"
  phases:
    - duration: 10
      arrivalRate: {rate}
  engines:
    ws: {{}}
scenarios:
  - engine: ws
    flow:
      - loop:
          - send: {{payload: {{n: 1}}, match: {{json: "$.n", value: 1}}}}
          - think: 1
        count: {seconds}
"""


def find_artillery(given: str | None) -> str | None:
    for candidate in (given, shutil.which("artillery"), "/tmp/artB/node_modules/.bin/artillery"):
        if candidate and os.path.exists(candidate):
            return candidate
    return None


def artillery(
    binary: str, url: str, server_pid: int, users: int, seconds: int, folder: Path
) -> dict[str, Any]:
    script = folder / "artillery.yaml"
    script.write_text(ARTILLERY.format(url=url, rate=users // 10, seconds=seconds))
    report = folder / "artillery.json"
    server_cpu = cpu_of(server_pid)
    code, wall, cpu, out = run_measured(
        [binary, "run", "--quiet", "--output", str(report), str(script)],
        env={**os.environ, "ARTILLERY_DISABLE_TELEMETRY": "true"},
        stderr=subprocess.STDOUT,
    )
    server_cpu = cpu_of(server_pid) - server_cpu
    counters = json.loads(report.read_text())["aggregate"]["counters"]
    sent = int(counters.get("websocket.messages_sent", 0))
    failed = int(counters.get("vusers.failed", 0))
    return {
        "exit": code,
        "wall_s": wall,
        "messages_sent": sent,
        "vusers_failed": failed,
        "errors": {k: v for k, v in counters.items() if k.startswith("errors.")},
        "req_per_s": sent / wall,
        "cpu_s": cpu,
        "cpu_us_per_round_trip": cpu / max(1, sent) * 1e6,
        "users_per_core_at_1rps": max(1, sent) / cpu,
        "server_cpu_s": server_cpu,
        **({"output": out[-2000:]} if code else {}),
    }


def median_range(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.1f}"
    return f"{statistics.median(values):.1f} ({min(values):.1f}..{max(values):.1f})"


def main() -> None:
    if sys.argv[1:2] == ["--idle-child"]:
        url, users, spawn, hold = sys.argv[2:6]
        idle_child(url, int(users), float(spawn), float(hold))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--idle", type=int, default=10000)
    parser.add_argument("--spawn", type=float, default=500.0, help="idle users started per s")
    parser.add_argument("--hold", type=float, default=15.0)
    parser.add_argument(
        "--idle-processes", type=int, default=2, help="Locust processes for the idle users"
    )
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--artillery", help="the artillery binary (default: found)")
    parser.add_argument("--skip", action="append", default=[], choices=("rt", "idle", "art"))
    args = parser.parse_args()
    print(f"cpus {os.cpu_count()}, load average {loadavg()}")
    binary = find_artillery(args.artillery) if "art" not in args.skip else None
    results: dict[str, list[dict[str, Any]]] = {"rt": [], "idle": [], "art": []}
    with tempfile.TemporaryDirectory() as tmp, server() as (url, pid):
        folder = Path(tmp)
        for round_ in range(args.rounds):
            if "rt" not in args.skip:
                result = round_trips(url, pid, args.users, args.seconds, folder)
                results["rt"].append(result)
                print(result.pop("table"))
                print(f"round {round_ + 1} wsrun load: {json.dumps(result)}; load {loadavg()}")
            if binary is not None:
                result = artillery(binary, url, pid, args.users, args.seconds, folder)
                results["art"].append(result)
                print(f"round {round_ + 1} artillery: {json.dumps(result)}; load {loadavg()}")
    if "idle" not in args.skip:
        for round_ in range(args.rounds):
            with server() as (url, _):
                result = idle(url, args.idle, args.spawn, args.hold, args.idle_processes)
            results["idle"].append(result)
            print(f"round {round_ + 1} idle: {json.dumps(result)}; load {loadavg()}")
    summary(results)


def summary(results: dict[str, list[dict[str, Any]]]) -> None:
    print("\nsummary (median (min..max) over rounds)")
    for name, rows in results.items():
        if not rows:
            continue
        keys = [k for k, v in rows[0].items() if isinstance(v, (int, float))]
        for key in keys:
            print(f"  {name} {key}: {median_range([float(r[key]) for r in rows])}")
    rt, art = results["rt"], results["art"]
    if rt and art:
        ours = statistics.median(r["cpu_us_per_round_trip"] for r in rt)
        theirs = statistics.median(r["cpu_us_per_round_trip"] for r in art)
        print(f"  CPU per round trip (whole process), artillery / wsrun load: {theirs / ours:.2f}x")
        ours = statistics.median(r["round_trips"] for r in rt)
        theirs = statistics.median(r["messages_sent"] for r in art)
        print(
            f"  round trips done, wsrun load / artillery (same users): {ours / max(1, theirs):.2f}x"
        )


if __name__ == "__main__":
    main()
