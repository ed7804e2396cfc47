"""Raw-socket fault servers: WebSocket servers that crash, break RFC 6455 or refuse, on purpose.

`FaultServer(behaviour)` listens on 127.0.0.1 port 0 (a `RawPeer`) and serves every connection
on a thread of its own with `behaviour(conn)`, a function of the accepted `PeerConnection`
(handshake done, unless the behaviour is a refusal). The behaviours below are the faults the
verdict tests need: each one is what a crashed or broken server does on the wire.

```python
with FaultServer(invalid_utf8_after_first) as server:
    main([scenario, "--var", f"url={server.url}"])
```
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from collections.abc import Callable
from types import TracebackType

from tests.rawpeer import OP_TEXT, PeerConnection, RawPeer
from tests.support import timeout

__all__ = [
    "FaultServer",
    "crash_after_first",
    "crash_on_close",
    "huge_length_after_first",
    "invalid_utf8_after_first",
    "masked_after_first",
    "never_answers_close",
    "refuse_with",
]

Behaviour = Callable[[PeerConnection], None]


class FaultServer:
    """A `RawPeer` that accepts connections on a thread and hands each to `behaviour`."""

    def __init__(self, behaviour: Behaviour, *, handshake: bool = True) -> None:
        self._peer = RawPeer()
        self._behaviour = behaviour
        self._handshake = handshake
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._acceptor = threading.Thread(target=self._accept_loop, daemon=True)

    @property
    def url(self) -> str:
        """The ws:// URL clients connect to."""
        return self._peer.url

    def _accept_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                conn = self._peer.accept(handshake=False, wait=0.1)
            except (TimeoutError, OSError):
                continue
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, conn: PeerConnection) -> None:
        with contextlib.suppress(OSError, EOFError, TimeoutError):
            if self._handshake:
                conn.read_request(timeout())
                conn.respond()
            self._behaviour(conn)

    def __enter__(self) -> FaultServer:
        self._acceptor.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._stopping.set()
        self._acceptor.join(timeout())
        self._peer.close()  # closes every connection still open: their threads end
        for thread in self._threads:
            thread.join(timeout())


def _first_message(conn: PeerConnection) -> None:
    conn.recv_until(OP_TEXT)


def _hold(conn: PeerConnection) -> None:
    """Keep the TCP connection open and read until the client drops it (or a while passes)."""
    conn.wait_eof(timeout(4))


def crash_on_close(conn: PeerConnection) -> None:
    """Read frames until the client's Close, then close TCP with no Close frame (a crash)."""
    conn.recv_close()
    conn.close()


def crash_after_first(conn: PeerConnection) -> None:
    """After the first text message, drop TCP with a reset and no Close frame."""
    _first_message(conn)
    conn.reset()


def never_answers_close(conn: PeerConnection) -> None:
    """Read and drop everything, Close frames included: the closing handshake never ends."""
    _hold(conn)


def invalid_utf8_after_first(conn: PeerConnection) -> None:
    """After the first text message, send a text frame that is not UTF-8 (RFC 6455 §8.1)."""
    _first_message(conn)
    conn.send_frame(OP_TEXT, b"caf\xc3(")
    _hold(conn)


def huge_length_after_first(conn: PeerConnection) -> None:
    """After the first text message, send a frame header announcing 2^63 bytes (§5.2)."""
    _first_message(conn)
    conn.sock.sendall(bytes([0x82, 127]) + struct.pack("!Q", 1 << 63))
    _hold(conn)


def masked_after_first(conn: PeerConnection) -> None:
    """After the first text message, send a masked text frame (§5.1: a client must fail)."""
    _first_message(conn)
    conn.send_frame(OP_TEXT, b"masked", mask=True)
    _hold(conn)


def refuse_with(status: int, body: bytes) -> Behaviour:
    """A behaviour (for `FaultServer(..., handshake=False)`) that answers the upgrade with
    `status` and `body`, then closes."""

    def refuse(conn: PeerConnection) -> None:
        conn.read_request(timeout())
        head = (
            f"HTTP/1.1 {status} Refused\r\nContent-Type: text/plain\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        )
        conn.sock.sendall(head.encode("latin-1") + body)
        with contextlib.suppress(OSError):
            conn.sock.shutdown(socket.SHUT_WR)
        _hold(conn)

    return refuse
