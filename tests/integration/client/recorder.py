"""Helpers of the client integration tests: an event recorder and waits with deadlines."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from runner.client import BusinessError, CloseResult, OpenResult, WebSocket
from tests.rawpeer import PeerConnection, RawPeer
from tests.support import timeout

__all__ = [
    "ALL_EVENTS",
    "Event",
    "Recorder",
    "Settled",
    "free_port",
    "outcome",
    "wait_until",
    "ws_threads",
]

ALL_EVENTS = ("headerReceive", "open", "message", "dataEnd", "error", "close")


@dataclass(frozen=True)
class Event:
    """One event as a listener saw it, with the thread it ran on."""

    name: str
    args: tuple[Any, ...]
    thread: int


class Recorder:
    """Listens to every event type of a WebSocket and records each call, in order."""

    def __init__(self, ws: WebSocket, names: Iterable[str] = ALL_EVENTS) -> None:
        self.events: list[Event] = []
        self._changed = threading.Condition()
        for name in names:
            ws.on(name, self._listener(name))

    def _listener(self, name: str) -> Callable[..., None]:
        def record(*args: Any) -> None:
            with self._changed:
                self.events.append(Event(name, args, threading.get_ident()))
                self._changed.notify_all()

        return record

    def names(self) -> list[str]:
        """The names of the events so far, in order."""
        with self._changed:
            return [event.name for event in self.events]

    def of(self, name: str) -> list[Event]:
        """The events of one type so far."""
        with self._changed:
            return [event for event in self.events if event.name == name]

    def wait_for(self, name: str, count: int = 1, wait: float | None = None) -> list[Event]:
        """Wait until `count` events of `name` were seen; fail with what was seen instead."""
        deadline = time.monotonic() + (timeout() if wait is None else wait)
        with self._changed:
            while len(found := [e for e in self.events if e.name == name]) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = [(e.name, e.args) for e in self.events]
                    raise AssertionError(f"expected {count} {name!r} events, saw {seen}")
                self._changed.wait(left)
            return found

    def opened(self, wait: float | None = None) -> OpenResult:
        """The payload of the first `open` event."""
        result = self.wait_for("open", wait=wait)[0].args[1]
        assert isinstance(result, OpenResult)
        return result

    def closed(self, wait: float | None = None) -> CloseResult:
        """The payload of the first `close` event."""
        event = self.wait_for("close", wait=wait)[0]
        assert event.args[0] is None
        assert isinstance(event.args[1], CloseResult)
        return event.args[1]

    def error(self, wait: float | None = None) -> BusinessError:
        """The payload of the first `error` event."""
        error = self.wait_for("error", wait=wait)[0].args[0]
        assert isinstance(error, BusinessError)
        return error

    def messages(self, count: int, wait: float | None = None) -> list[str | bytes]:
        """The data of the first `count` `message` events."""
        return [event.args[1] for event in self.wait_for("message", count, wait)[:count]]


class Settled:
    """A `cb(err, value)` callback that remembers how the call settled, and on which thread."""

    def __init__(self) -> None:
        self._done = threading.Event()
        self.error: BusinessError | None = None
        self.value: Any = None
        self.thread: int | None = None
        self.calls = 0

    def __call__(self, error: BusinessError | None, value: Any) -> None:
        self.error, self.value, self.thread = error, value, threading.get_ident()
        self.calls += 1
        self._done.set()

    def wait(self, wait: float | None = None) -> Settled:
        """Wait until called; fail when it never is."""
        assert self._done.wait(timeout() if wait is None else wait), "callback never called"
        return self


def outcome(result: Future[bool] | None, callback: Settled | None) -> tuple[Any, Any]:
    """`(error, value)` of a call made in either form, waiting for it to settle."""
    if callback is not None:
        assert result is None, "the callback form returns None"
        callback.wait()
        return callback.error, callback.value
    assert isinstance(result, Future), f"expected a Future, got {result!r}"
    error = result.exception(timeout())
    return error, None if error is not None else result.result()


def wait_until(condition: Callable[[], bool], wait: float | None = None) -> bool:
    """Poll `condition` until it holds (True) or `wait` passes (False)."""
    deadline = time.monotonic() + (timeout() if wait is None else wait)
    while not condition():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.01)
    return True


def ws_threads() -> list[threading.Thread]:
    """The client core's connection threads still alive."""
    return [t for t in threading.enumerate() if t.name.startswith("wsrun-ws ")]


def free_port() -> int:
    """A loopback TCP port that nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


#: Options that keep keepalive pings out of a raw peer's way.
QUIET: dict[str, Any] = {"pingInterval": 0}


def open_raw(ws: WebSocket, peer: RawPeer, options: Any = None) -> tuple[Recorder, PeerConnection]:
    """Connect `ws` to `peer`, answer the handshake, and record every event."""
    recorder = Recorder(ws)
    future = ws.connect(peer.url, options)
    conn = peer.accept()
    assert future is not None and future.result(timeout()) is True
    return recorder, conn
