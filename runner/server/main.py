"""`wsrun serve`: run the built-in test server until SIGINT or SIGTERM."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

from runner.server.running import TestServer

__all__ = ["DEFAULT_PORT", "serve_main"]

#: The port `wsrun serve` listens on when none is given.
DEFAULT_PORT = 8765

_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def serve_main(argv: list[str] | None = None) -> int:
    """Run `wsrun serve [--host H] [--port P]`; return the exit code.

    Prints one line, ``wsrun test server listening on ws://HOST:PORT``, once the server accepts
    connections, then serves until SIGINT or SIGTERM and returns 0. Returns 2 when the address
    cannot be listened on.
    """
    args = _parser().parse_args(argv)
    stop = threading.Event()
    previous = _on_signals(lambda signum, frame: stop.set())
    try:
        return _serve(args.host, args.port, stop)
    finally:
        _restore(previous)


def _serve(host: str, port: int, stop: threading.Event) -> int:
    server = TestServer(host, port)
    try:
        server.start()
    except OSError as exc:
        print(
            f"wsrun serve: cannot listen on {host}:{port}: {exc.strerror or exc}", file=sys.stderr
        )
        return 2
    try:
        print(f"wsrun test server listening on {server.url}", flush=True)
        while not stop.wait(0.5):
            pass
    finally:
        server.stop()
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="wsrun serve",
        description="Run wsrun's built-in WebSocket test server (endpoints: see the README).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help=f"port to listen on; 0 picks a free one (default {DEFAULT_PORT})",
    )
    return parser


_SignalHandler = Callable[[int, FrameType | None], Any] | int | signal.Handlers | None


def _on_signals(handler: _SignalHandler) -> dict[signal.Signals, _SignalHandler]:
    """Install `handler` for SIGINT and SIGTERM (main thread only); return the old handlers."""
    if threading.current_thread() is not threading.main_thread():
        return {}
    return {sig: signal.signal(sig, handler) for sig in _STOP_SIGNALS}


def _restore(previous: dict[signal.Signals, _SignalHandler]) -> None:
    for sig, handler in previous.items():
        signal.signal(sig, handler)
