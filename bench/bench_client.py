"""Echo round trips through raw websocket-client and through the client core, side by side.

Run from the repository root (``pip install -e '.[bench]'`` first for the picows server)::

    python -m bench.bench_client                      # 32 B text and 1 MiB binary, 5 x 3 s
    python -m bench.bench_client --pin none --rounds 3 --profile

Each round runs both clients against ONE echo server process (picows on uvloop, or the websockets
server as a fallback), one after the other, alternating which goes first. A client sends one
message, waits for its echo, and sends the next: (a) raw websocket-client ``create_connection``
with ``send``/``recv`` in a loop; (b) ``runner.client``, sending the next message from inside the
``message`` listener. The first 0.5 s of a round is warm-up; then round trips are counted until
the round's time is up. Printed: rates per round, medians, the ratio (b)/(a) per round and its
median, and CPU time per round trip of the client process and of the server process.

Placement decides the figures more than the libraries do on a small VM (perf-baselines.md): by
default client and server are pinned to the same CPU, which is the stable measure of CPU cost.
``--pin split`` puts them on different CPUs, ``--pin none`` lets the scheduler choose.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import statistics
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import websocket

from bench.servers import EchoServer, echo_server
from runner.client import BusinessError, create_websocket

__all__ = ["main"]

TARGETS = {"text32": 0.8, "binary1m": 0.9}
PAYLOADS: dict[str, str | bytes] = {"text32": "x" * 32, "binary1m": os.urandom(2**20)}


@dataclass(frozen=True)
class Sample:
    """One client's measured window."""

    round_trips: int
    seconds: float
    client_cpu: float
    server_cpu: float

    @property
    def rate(self) -> float:
        """Round trips per second."""
        return self.round_trips / self.seconds

    def per_rt_us(self, cpu: float) -> float:
        """Microseconds of `cpu` per round trip."""
        return cpu / max(self.round_trips, 1) * 1e6


class Window:
    """Counts round trips after a warm-up until the time is up; samples CPU at its edges."""

    def __init__(self, server: EchoServer, warmup: float, duration: float) -> None:
        self.server = server
        self.start_at = time.perf_counter() + warmup
        self.duration = duration
        self.started: float | None = None
        self.count = 0
        self.cpu = (0.0, 0.0)
        self.sample: Sample | None = None

    def tick(self) -> bool:
        """Count one round trip; False once the window is over."""
        now = time.perf_counter()
        if self.started is None:
            if now >= self.start_at:
                self.started, self.count, self.cpu = now, 0, self._cpu()
            return True
        self.count += 1
        if now - self.started < self.duration:
            return True
        client, server = self._cpu()
        self.sample = Sample(
            self.count, now - self.started, client - self.cpu[0], server - self.cpu[1]
        )
        return False

    def _cpu(self) -> tuple[float, float]:
        times = os.times()
        return times.user + times.system, self.server.cpu_seconds()


# -- the two clients -------------------------------------------------------------------------


def run_raw(url: str, payload: str | bytes, window: Window, profile: bool = False) -> Sample:
    """(a) websocket-client ``create_connection`` + ``send``/``recv``."""
    ws = websocket.create_connection(url, timeout=30)
    opcode = (
        websocket.ABNF.OPCODE_TEXT if isinstance(payload, str) else websocket.ABNF.OPCODE_BINARY
    )
    try:
        while True:
            ws.send(payload, opcode)
            ws.recv()
            if not window.tick():
                break
    finally:
        ws.close(timeout=5)
    assert window.sample is not None
    return window.sample


class _CoreLoop:
    """(b) ``runner.client``: the next message is sent from the ``message`` listener."""

    def __init__(self, payload: str | bytes, window: Window, profile: bool) -> None:
        self.payload = payload
        self.window = window
        self.profiler = cProfile.Profile() if profile else None
        self.errors: list[BusinessError] = []
        self.closed = threading.Event()
        self.ws = create_websocket()
        self.ws.on("message", self.on_message)
        self.ws.on("error", lambda err: self.errors.append(err))
        self.ws.on("close", lambda err, value: self.closed.set())

    def on_message(self, err: BusinessError | None, data: str | bytes) -> None:
        if self.window.tick():
            self._profile_from_start()
            self.ws.send(self.payload)
        else:
            if self.profiler is not None:
                self.profiler.disable()
            self.ws.close()

    def _profile_from_start(self) -> None:
        # cProfile follows one thread: start it on the connection's thread, in the window.
        if self.profiler is not None and self.window.started is not None and self.window.count == 0:
            self.profiler.enable()

    def run(self, url: str, limit: float) -> Sample:
        opened = self.ws.connect(url, {"timeout": 30})
        assert opened is not None
        opened.result(timeout=30)
        self.ws.send(self.payload)
        if not self.closed.wait(limit) or self.window.sample is None:
            self.ws.abort()
            raise RuntimeError(f"client core did not finish its round: errors {self.errors}")
        return self.window.sample


def run_core(url: str, payload: str | bytes, window: Window, profile: bool = False) -> Sample:
    """(b) the client core; with `profile`, print where its connection thread spent time."""
    loop = _CoreLoop(payload, window, profile)
    sample = loop.run(url, window.duration + 60)
    if loop.profiler is not None:
        _print_profile(loop.profiler)
    return sample


def _print_profile(profiler: cProfile.Profile, top: int = 25) -> None:
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(top)
    print("profile of the client core's connection thread (sorted by own time):")
    print(out.getvalue())


Client = Callable[[str, str | bytes, Window, bool], Sample]
CLIENTS: dict[str, Client] = {"raw": run_raw, "core": run_core}


# -- rounds and reporting --------------------------------------------------------------------


@dataclass
class Args:
    rounds: int
    duration: float
    warmup: float
    server: str
    pin: str
    cases: list[str]
    profile: bool


def _round(server: EchoServer, case: str, order: Sequence[str], args: Args) -> dict[str, Sample]:
    samples = {}
    for name in order:
        window = Window(server, args.warmup, args.duration)
        samples[name] = CLIENTS[name](server.url, PAYLOADS[case], window, False)
    return samples


def _print_round(index: int, case: str, samples: dict[str, Sample]) -> None:
    raw, core = samples["raw"], samples["core"]
    print(
        f"  {case} round {index}: raw {raw.rate:9,.0f} RT/s   core {core.rate:9,.0f} RT/s   "
        f"ratio {core.rate / raw.rate:5.2f}"
    )


def _summary(case: str, rounds: list[dict[str, Sample]]) -> None:
    ratios = [r["core"].rate / r["raw"].rate for r in rounds]
    medians = {n: statistics.median(r[n].rate for r in rounds) for n in CLIENTS}
    size = len(PAYLOADS[case])
    print(f"{case}: median of {len(rounds)} rounds")
    for name in CLIENTS:
        client = statistics.median(r[name].per_rt_us(r[name].client_cpu) for r in rounds)
        server = statistics.median(r[name].per_rt_us(r[name].server_cpu) for r in rounds)
        print(
            f"  {name:<5} {medians[name]:9,.1f} RT/s  ({medians[name] * size / 2**20:8,.1f} MiB/s "
            f"echoed)  client CPU {client:8.1f} us/RT  server CPU {server:8.1f} us/msg"
        )
    ratio, target = statistics.median(ratios), TARGETS[case]
    verdict = "meets" if ratio >= target else "BELOW"
    print(
        f"  ratio core/raw: median of per-round ratios {ratio:.2f} (range {min(ratios):.2f}-"
        f"{max(ratios):.2f}), ratio of medians {medians['core'] / medians['raw']:.2f}; "
        f"target >= {target} -> {verdict}"
    )


def _placement(pin: str) -> tuple[int | None, int | None]:
    """(server CPU, client CPU) for a placement."""
    cpus = sorted(os.sched_getaffinity(0))
    if pin == "none":
        return None, None
    if pin == "split" and len(cpus) > 1:
        return cpus[0], cpus[-1]
    return cpus[-1], cpus[-1]


def run(args: Args) -> None:
    """Run every case: `args.rounds` interleaved rounds of both clients against one server."""
    server_cpu, client_cpu = _placement(args.pin)
    if client_cpu is not None:
        os.sched_setaffinity(0, {client_cpu})  # before the client core starts any thread
    with echo_server(args.server, server_cpu) as server:
        print(f"echo server: {server.kind} (pid {server.pid}) at {server.url}")
        print(f"placement: {args.pin} (server CPU {server_cpu}, client CPU {client_cpu})")
        print(f"rounds: {args.rounds} x {args.duration} s after {args.warmup} s warm-up\n")
        for case in args.cases:
            rounds = []
            for index in range(args.rounds):
                order = ("raw", "core") if index % 2 == 0 else ("core", "raw")
                rounds.append(_round(server, case, order, args))
                _print_round(index + 1, case, rounds[-1])
            _summary(case, rounds)
            if args.profile:
                window = Window(server, args.warmup, args.duration)
                run_core(server.url, PAYLOADS[case], window, True)
            print()


def _parse(argv: Sequence[str] | None) -> Args:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_client", description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--duration", type=float, default=3.0, help="seconds counted per round")
    parser.add_argument("--warmup", type=float, default=0.5)
    parser.add_argument("--server", choices=("picows", "websockets"), default="picows")
    parser.add_argument("--pin", choices=("same", "split", "none"), default="same")
    parser.add_argument("--case", action="append", choices=sorted(PAYLOADS), dest="cases")
    parser.add_argument("--profile", action="store_true", help="cProfile one more core round")
    ns = parser.parse_args(argv)
    return Args(
        ns.rounds, ns.duration, ns.warmup, ns.server, ns.pin, ns.cases or list(PAYLOADS), ns.profile
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns 0 (figures are printed, not judged by the exit code)."""
    run(_parse(argv))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
