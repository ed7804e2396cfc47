"""Echo servers for the benchmarks, each run in a process of its own on 127.0.0.1.

``picows`` on ``uvloop`` is the default: per ``perf-baselines.md`` it costs the least CPU per
message (~23 us), so it does not cap a Python client; the ``websockets`` server would (~90 us per
message, 0.54x websocket-client's rate). ``websockets`` is the fallback when picows or uvloop is
missing (``pip install -e '.[bench]'`` installs them).

Run one by hand::

    python -m bench.servers --kind picows --cpu 1     # prints "PORT <n>", serves until killed
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

__all__ = ["EchoServer", "available_kind", "echo_server", "main"]

KINDS = ("picows", "websockets")


def available_kind(preferred: str = "picows") -> str:
    """`preferred` if its modules import, else "websockets"."""
    if preferred == "picows" and not all(importlib.util.find_spec(m) for m in ("picows", "uvloop")):
        return "websockets"
    return preferred


# -- the server process ----------------------------------------------------------------------


async def _serve_picows() -> None:
    import picows

    class Echo(picows.WSListener):
        def on_ws_frame(self, transport: Any, frame: Any) -> None:
            if frame.msg_type == picows.WSMsgType.CLOSE:
                transport.send_close(frame.get_close_code())
                transport.disconnect()
            elif frame.msg_type != picows.WSMsgType.PONG:  # pings are answered automatically
                transport.send(frame.msg_type, frame.get_payload_as_memoryview(), frame.fin)

    server = await picows.ws_create_server(
        lambda request: Echo(), "127.0.0.1", 0, max_frame_size=64 * 2**20
    )
    await _announce_and_wait(server.sockets[0].getsockname()[1])


async def _serve_websockets() -> None:
    from websockets.asyncio.server import ServerConnection, serve

    async def echo(conn: ServerConnection) -> None:
        async for message in conn:
            await conn.send(message)

    async with serve(echo, "127.0.0.1", 0, max_size=None, compression=None) as server:
        await _announce_and_wait(next(iter(server.sockets)).getsockname()[1])


async def _announce_and_wait(port: int) -> None:
    print(f"PORT {port}", flush=True)
    # Serve until stdin closes: the parent ends us by closing the pipe (or by SIGTERM).
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)


def main(argv: list[str] | None = None) -> None:
    """Serve echo on 127.0.0.1 (a free port), print "PORT <n>", stop when stdin closes."""
    parser = argparse.ArgumentParser(prog="python -m bench.servers")
    parser.add_argument("--kind", choices=KINDS, default="picows")
    parser.add_argument("--cpu", type=int, help="pin this process to one CPU")
    args = parser.parse_args(argv)
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})  # before any thread starts: all inherit it
    if args.kind == "picows":
        import uvloop

        uvloop.run(_serve_picows())
    else:
        asyncio.run(_serve_websockets())


# -- the parent's handle ---------------------------------------------------------------------


@dataclass(frozen=True)
class EchoServer:
    """A running echo server process."""

    kind: str
    url: str
    pid: int
    cpu: int | None

    def cpu_seconds(self) -> float:
        """User + system CPU time the server process has used so far (from /proc)."""
        with open(f"/proc/{self.pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def echo_server(kind: str = "picows", cpu: int | None = None) -> Iterator[EchoServer]:
    """Start an echo server process (falling back to websockets); stop it on exit."""
    kind = available_kind(kind)
    command = [sys.executable, "-m", "bench.servers", "--kind", kind]
    if cpu is not None:
        command += ["--cpu", str(cpu)]
    proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        port = _read_port(proc)
        yield EchoServer(kind, f"ws://127.0.0.1:{port}/", proc.pid, cpu)
    finally:
        _stop(proc)


def _read_port(proc: subprocess.Popen[str]) -> int:
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith("PORT "):
        raise RuntimeError(f"echo server did not start: expected 'PORT <n>', got {line!r}")
    return int(line.split()[1])


def _stop(proc: subprocess.Popen[str]) -> None:
    with contextlib.suppress(OSError):
        assert proc.stdin is not None
        proc.stdin.close()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)
    if proc.stdout is not None:
        proc.stdout.close()


if __name__ == "__main__":
    main()
