"""permessage-deflate in the client core: round trips per second and bytes on the wire, on and off.

Run from the repository root::

    python -m bench.bench_compression                  # 32 B and 1 MiB JSON, 3 rounds of 3 s
    python -m bench.bench_compression --rounds 1 --seconds 1

The server is wsrun's own (`python -m runner.server --port 0 --compression`, the `websockets`
library), in a process of its own; it negotiates permessage-deflate when the client offers it. The
client sends one JSON message, waits for its echo on `/echo`, and sends the next from inside the
`message` listener, with `compression: "deflate"` and without it, alternating which goes first.
Bytes on the wire are the TCP payload bytes the client sent and received (Linux `TCP_INFO`): the
WebSocket frames with their headers, both ways, per round trip, handshake not counted.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import socket
import statistics
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from runner.client import BusinessError, create_websocket

__all__ = ["main"]

_WARMUP_S = 0.3


def _json_payloads() -> dict[str, str]:
    """A 32-byte JSON message and a ~1 MiB one of realistic records (seeded, so repeatable)."""
    small = json.dumps({"id": 7, "op": "ping", "v": "abcde"}, separators=(",", ":"))
    assert len(small) == 32
    rng = random.Random(17)
    records, size = [], 0
    while size < 2**20:
        record = {
            "id": rng.randrange(10**9),
            "user": f"user{rng.randrange(10**5)}",
            "price": round(rng.uniform(0, 1000), 2),
            "tags": rng.sample(["red", "green", "blue", "new", "sale", "hot", "eu", "us"], 3),
            "active": rng.random() < 0.5,
        }
        records.append(record)
        size += len(json.dumps(record)) + 2
    return {"json32": small, "json1m": json.dumps(records)[: 2**20 - 1] + "]"}


@dataclass(frozen=True)
class Sample:
    """One measured window of one mode."""

    round_trips: int
    seconds: float
    wire_bytes: int

    @property
    def rate(self) -> float:
        return self.round_trips / self.seconds


@contextlib.contextmanager
def _server() -> Iterator[str]:
    """wsrun's built-in server with --compression, in its own process; yields its base URL."""
    command = [sys.executable, "-m", "runner.server", "--port", "0", "--compression"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if "listening on " not in line:
            raise RuntimeError(f"the server did not start: {line!r}")
        yield line.split("listening on ", 1)[1].split(",", 1)[0].strip()
    finally:
        process.terminate()
        process.communicate(timeout=10)


def _tcp_bytes(sock: socket.socket) -> int:
    """Bytes this socket sent (acked) plus received, from Linux `struct tcp_info`."""
    info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 256)
    acked, received = struct.unpack_from("QQ", info, 120)  # tcpi_bytes_acked, _received
    return int(acked + received)


def _socket_of(ws: Any) -> socket.socket:
    # A benchmark's peek into the client core: the TCP socket under websocket-client.
    return ws._transport._ws.sock  # type: ignore[no-any-return]


def _measure(url: str, payload: str, compression: bool, seconds: float) -> Sample:
    ws = create_websocket()
    counted = [0, 0]  # round trips in the window, and in all (warm-up included)
    window = {"start": 0.0, "end": 0.0}
    done = threading.Event()

    def on_message(err: BusinessError | None, data: str | bytes) -> None:
        now = time.monotonic()
        counted[1] += 1
        if now >= window["end"]:
            done.set()
            return
        if now >= window["start"]:
            counted[0] += 1
        ws.send(payload)

    ws.on("message", on_message)
    options: dict[str, Any] = {"pingInterval": 0, "maxMessageSize": 0}
    if compression:
        options["compression"] = "deflate"
    ws.connect(f"{url}/echo", options).result(timeout=10)
    started = time.monotonic()
    window["start"], window["end"] = started + _WARMUP_S, started + _WARMUP_S + seconds
    before = _tcp_bytes(_socket_of(ws))
    ws.send(payload)
    if not done.wait(seconds + 30):
        raise RuntimeError("the echo loop stalled")
    wire = _tcp_bytes(_socket_of(ws)) - before
    ws.close()
    ws.wait_closed(10)
    return Sample(counted[0], seconds, wire // counted[1])


def _report(name: str, size: int, on: list[Sample], off: list[Sample]) -> None:
    rate_on = statistics.median(s.rate for s in on)
    rate_off = statistics.median(s.rate for s in off)
    wire_on = statistics.median(s.wire_bytes for s in on)
    wire_off = statistics.median(s.wire_bytes for s in off)
    print(f"{name} ({size} bytes a message)")
    print(f"  compression off: {rate_off:9.1f} round trips/s, {wire_off:10.0f} wire bytes/trip")
    print(f"  compression on:  {rate_on:9.1f} round trips/s, {wire_on:10.0f} wire bytes/trip")
    print(f"  on/off: rate x{rate_on / rate_off:.2f}, wire bytes x{wire_on / wire_off:.3f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_compression")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args(argv)
    with _server() as url:
        for name, payload in _json_payloads().items():
            samples: dict[bool, list[Sample]] = {True: [], False: []}
            for index in range(args.rounds):
                order = (True, False) if index % 2 == 0 else (False, True)
                for compression in order:
                    samples[compression].append(_measure(url, payload, compression, args.seconds))
            _report(name, len(payload.encode()), samples[True], samples[False])
    return 0


if __name__ == "__main__":
    sys.exit(main())
