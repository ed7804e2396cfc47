"""`wsrun serve`: run the built-in test server until SIGINT or SIGTERM."""

from __future__ import annotations

import argparse
import signal
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

from runner.server.running import TestServer

__all__ = ["DEFAULT_PORT", "serve_main"]

#: The port `wsrun serve` listens on when none is given.
DEFAULT_PORT = 8765

_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def serve_main(argv: list[str] | None = None) -> int:
    """Run `wsrun serve [--host H] [--port P] [--tls [--tls-dir DIR]] [--compression]`; return
    the exit code.

    Prints one line, ``wsrun test server listening on ws://HOST:PORT`` (with ``--tls``:
    ``wss://HOST:PORT, certificates in DIR``), once the server accepts connections, then serves
    until SIGINT or SIGTERM and returns 0. Returns 2 when the address cannot be listened on.
    """
    args = _parser().parse_args(argv)
    stop = threading.Event()
    previous = _on_signals(lambda signum, frame: stop.set())
    try:
        if not args.tls:
            return _serve(TestServer(args.host, args.port, compression=args.compression), stop)
        if args.tls_dir is not None:
            return _serve_tls(args, Path(args.tls_dir), stop)
        with tempfile.TemporaryDirectory(prefix="wsrun-tls-") as folder:
            return _serve_tls(args, Path(folder), stop)
    finally:
        _restore(previous)


def _serve_tls(args: argparse.Namespace, folder: Path, stop: threading.Event) -> int:
    from runner.server.tls import make_server_context

    context = make_server_context(args.host, folder)
    server = TestServer(args.host, args.port, context, compression=args.compression)
    return _serve(server, stop, f", certificates in {folder}")


def _serve(server: TestServer, stop: threading.Event, note: str = "") -> int:
    host, port = server.host, server.requested_port
    try:
        server.start()
    except OSError as exc:
        print(
            f"wsrun serve: cannot listen on {host}:{port}: {exc.strerror or exc}", file=sys.stderr
        )
        return 2
    try:
        if server.compression:
            note += ", permessage-deflate on"
        print(f"wsrun test server listening on {server.url}{note}", flush=True)
        while not stop.is_set():  # woken by the signal handler; bounded for older Pythons
            stop.wait(0.5)
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
    parser.add_argument(
        "--tls",
        action="store_true",
        help="serve wss:// with a throwaway CA; its ca.pem, client.pem and client.key are written "
        "to --tls-dir (default: a temporary folder, removed at exit)",
    )
    parser.add_argument("--tls-dir", help="the folder for ca.pem, client.pem and client.key")
    parser.add_argument(
        "--compression",
        action="store_true",
        help="accept permessage-deflate (RFC 7692) when a client offers it (default: off)",
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
