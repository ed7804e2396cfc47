"""One WebSocket connection over websocket-client: handshake, receive loop, keepalive, closing.

websocket-client does the handshake and parses and writes frames; this module applies RFC 6455's
rules to what arrives (through `protocol`), answers pings, keeps the connection alive, and runs
the closing handshake. The receive loop runs on the connection's own thread and reports through
a `Sink`; `send_message`, `start_close` and `abort` may be called from any thread.
"""

from __future__ import annotations

import contextlib
import functools
import heapq
import os
import select
import socket
import ssl
import threading
import time
import urllib.parse
from collections.abc import Callable
from typing import Any, Protocol

import websocket
import websocket._handshake
import websocket._socket
from websocket._cookiejar import SimpleCookieJar

from runner.client import response_head
from runner.client.deflate import Deflate, Refused, check_rsv, negotiate, offer
from runner.client.errors_map import (
    HandshakeRefused,
    ProtocolError,
    handshake_error,
    is_link_error,
)
from runner.client.framing import BoundedFrameBuffer, PreparedMessage, make_frame
from runner.client.options import (
    CloseResult,
    ConnectOptions,
    OpenResult,
    ProxyOptions,
    TlsProtocol,
)
from runner.client.protocol import (
    OP_BINARY,
    OP_CLOSE,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    PROTOCOL_ERROR,
    MessageAssembler,
    ProtocolViolation,
    check_control_frame,
    parse_close_payload,
)
from runner.errors import BusinessError, ErrorCode

__all__ = ["CLOSE_TIMER", "MAX_REDIRECTS", "Redirected", "Sink", "Transport", "normalize_url"]

ABNORMAL_CLOSURE = 1006  # RFC 6455 §7.4.1: reported, never sent
NO_STATUS = 1005
MANDATORY_EXTENSION = 1010

#: The most redirects a handshake follows (with `follow_redirects`), like websocket-client's 3.
MAX_REDIRECTS = 5
#: The HTTP statuses that redirect (RFC 9110 §15.4); websocket-client follows them all itself.
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
#: Request headers that carry credentials: never sent on to another origin (RFC 9110 §15.4,
#: as browsers do for Authorization; Host names the first server).
_CREDENTIAL_HEADERS = frozenset({"authorization", "cookie", "host"})


class _NoCookies(SimpleCookieJar):
    """websocket-client keeps one cookie jar for the whole process and replays every
    `Set-Cookie` with a `domain` to later handshakes of any connection (any scenario, any
    origin, a redirect's target included): wsrun keeps no cookie a server set."""

    def add(self, set_cookie: str | None) -> None:
        return

    def set(self, set_cookie: str) -> None:
        return

    def get(self, host: str) -> str:
        return ""


websocket._handshake.CookieJar = _NoCookies()
response_head.install()  # the response head in two reads, not one per byte


class Redirected(HandshakeRefused):
    """A handshake answered with a redirect that was not followed: `data` is the status,
    `location` the `Location` header (as sent), `message` says why it was not followed."""

    def __init__(self, status: int, headers: dict[str, str], location: str, why: str) -> None:
        super().__init__(status, headers, b"")
        self.location = location
        self.message = f"handshake redirected with HTTP {status} to {location!r}: {why}"


class Sink(Protocol):
    """Where a transport reports what it receives (called on the connection's thread)."""

    def on_message(self, data: str | bytes) -> None: ...

    def on_error(self, error: BusinessError) -> None: ...


class _Ended(Exception):
    """The receive loop is over; `result` is the close event's payload."""

    def __init__(self, result: CloseResult, error: BusinessError | None = None) -> None:
        self.result = result
        self.error = error


def _link_lost(why: str) -> _Ended:
    error = BusinessError(ErrorCode.COMMON, f"connection lost: {why}", "0")
    return _Ended(CloseResult(ABNORMAL_CLOSURE, "", was_clean=False), error)


#: What stays as written in a URL; anything else (spaces, non-ASCII) is percent-encoded.
_URL_SAFE = "!#$%&'()*+,/:;=?@[]~"


@functools.lru_cache(maxsize=1024)
def normalize_url(url: str) -> str:
    """`url` with spaces and non-ASCII percent-encoded, as a browser would send it (kept per
    URL: a run's connections go to a few URLs, and each split and quote costs ~250 bytecodes).

    Raises `BusinessError` 2302001 unless it is a usable ws:// or wss:// URL.
    """
    _check_url(url)
    return urllib.parse.quote(url, safe=_URL_SAFE)


def _check_url(url: str) -> None:
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise BusinessError(ErrorCode.URL, f"Websocket url error: {exc}") from None
    # Case-sensitive like OpenHarmony (and websocket-client); urlsplit lower-cases the scheme.
    if url.partition(":")[0] not in ("ws", "wss"):
        raise BusinessError(ErrorCode.URL, f"Websocket url error: scheme isn't ws or wss: {url!r}")
    if not parts.hostname:
        raise BusinessError(ErrorCode.URL, f"Websocket url error: no host in {url!r}")
    if parts.fragment or port == 0:
        raise BusinessError(ErrorCode.URL, f"Websocket url error: bad port or fragment in {url!r}")


class _Waker:
    """Lets another thread interrupt the receive loop's wait: an eventfd polled with the socket
    (Linux; one file descriptor), else a socket pair (two)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()  # a wake never writes to a descriptor closed meanwhile
        self._closed = False
        self._pair: tuple[socket.socket, socket.socket] | None = None
        if hasattr(os, "eventfd"):
            self._fd = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
        else:  # pragma: no cover - not Linux
            self._pair = socket.socketpair()
            for end in self._pair:
                end.setblocking(False)
            self._fd = self._pair[0].fileno()

    def fileno(self) -> int:
        """The descriptor to poll for reading."""
        return self._fd

    @property
    def closed(self) -> bool:
        """Whether `close` was called (the connection's loop has ended)."""
        return self._closed

    def wake(self) -> None:
        # Failing means already woken (counter or buffer full): either way the loop will look.
        with self._lock, contextlib.suppress(OSError):
            if self._closed:
                return
            if self._pair is None:
                os.eventfd_write(self._fd, 1)
            else:  # pragma: no cover - not Linux
                self._pair[1].send(b"x")

    def drain(self) -> None:
        with contextlib.suppress(OSError):  # nothing to read (EAGAIN), or closed
            if self._pair is None:
                os.eventfd_read(self._fd)
                return
            while self._pair[0].recv(64):  # pragma: no cover - not Linux
                continue

    def close(self) -> None:
        """Close the descriptors; safe to call twice."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if self._pair is None:
                os.close(self._fd)
            else:  # pragma: no cover - not Linux
                for end in self._pair:
                    end.close()


class _CloseTimer:
    """Wakes the receive loops whose closing handshake reaches its deadline with the loop still
    waiting (one thread for the process, started with the first close).

    A loop waiting for the peer had to be woken when its close started, only to learn the close
    deadline: a system call for the closer, and for the loop a wake-up, the GIL, a read of its
    waker and a second poll, for every connection, when the peer's Close usually arrives a
    moment later and wakes it anyway. Now a close adds its deadline here (a heap push, no
    system call); a deadline whose connection has ended by then (its waker is closed) is
    dropped without waking anything, so a burst of clean closes costs this thread one wake-up.
    """

    def __init__(self) -> None:
        self._changed = threading.Condition(threading.Lock())
        self._heap: list[tuple[float, int, _Waker]] = []
        self._added = 0
        self._thread: threading.Thread | None = None

    def add(self, deadline: float, waker: _Waker) -> None:
        """Wake `waker` at `deadline` (monotonic seconds) unless it is closed by then."""
        with self._changed:
            earliest = not self._heap or deadline < self._heap[0][0]
            self._added += 1
            heapq.heappush(self._heap, (deadline, self._added, waker))
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="wsrun-close-timer", daemon=True
                )
                self._thread.start()
            elif earliest:  # it waits for a later deadline (or none): tell it
                self._changed.notify()

    def _run(self) -> None:
        with self._changed:
            while True:
                now = time.monotonic()
                heap = self._heap
                while heap and (heap[0][0] <= now or heap[0][2].closed):
                    _, _, waker = heapq.heappop(heap)
                    if not waker.closed:
                        waker.wake()
                self._changed.wait(heap[0][0] - now if heap else None)


#: The process's close timer (see `_CloseTimer`).
CLOSE_TIMER = _CloseTimer()


#: The compression-order condition of every connection that offers no compression (unused).
_UNORDERED = threading.Condition(threading.Lock())


class Transport:
    """A single connection's life, from handshake to teardown."""

    def __init__(self, url: str, options: ConnectOptions) -> None:
        self.url = url  # after the handshake, the URL that answered 101 (redirects followed)
        self.options = options
        self.redirected_from: list[str] = []  # the URLs that answered with a redirect, in order
        self.protocol: str | None = None
        self._ws: Any = None
        self._assembler = MessageAssembler(options.max_message_size)
        self._waker = _Waker()
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()  # a data frame's check and write, against Close
        self._close_sent = False
        self._close_deadline: float | None = None
        self._aborted = False
        self._next_ping: float | None = None
        self._pong_deadline: float | None = None
        self._poll: Any = None
        self._deflate: Deflate | None = None  # set when permessage-deflate was negotiated
        # Compression order (see `prepare`): the turns of the messages prepared and not yet
        # written, oldest first, each with the thread that prepared it.
        # A connection that offers no compression never orders its sends: it shares one
        # condition nobody waits on (a Condition and its lock cost ~50 bytecodes a connection).
        offered = options.deflate is not None
        self._order = threading.Condition(threading.Lock()) if offered else _UNORDERED
        self._turns: dict[int, int] = {}
        self._last_turn = 0
        # Payload bytes on the wire of the last message sent / of the message being received
        # (with compression, less than the message); read by `WebSocket.wire_sizes`.
        self.sent_wire_size = 0
        self.received_wire_size = 0
        self._receiving_wire_size = 0

    # -- handshake ---------------------------------------------------------------------------

    def handshake(self) -> OpenResult:
        """Open the connection; raise the `error` event's `BusinessError` when that fails."""
        try:
            self._connect()
        except BusinessError:
            self.teardown()
            raise
        except Exception as exc:
            self.teardown()
            if self._aborted:
                raise BusinessError(ErrorCode.COMMON, "connection aborted", "0") from exc
            raise handshake_error(exc) from exc
        headers = {name.lower(): value for name, value in (self._ws.getheaders() or {}).items()}
        self.protocol = headers.get("sec-websocket-protocol")
        refusal = _refusal(headers, self.options.subprotocols)
        if refusal is not None:
            self.teardown()
            raise BusinessError(ErrorCode.COMMON, refusal, "101")
        opened = self._negotiate(headers)
        self._start_timers()
        return opened

    def _connect(self) -> None:
        """The opening handshake, hop by hop: websocket-client follows redirects silently,
        re-sending every header anywhere (even from wss:// to ws://), so it is told to follow
        none and each redirect is judged here (see `_follow`)."""
        header = dict(self.options.header)
        for _ in range(MAX_REDIRECTS + 1):
            if self._aborted:
                raise BusinessError(ErrorCode.COMMON, "connection aborted", "0")
            self._ws = self._new_socket()
            try:
                first = self.redirected_from[0] if self.redirected_from else self.url
                arguments = _connect_arguments(self.url, self.options, header, origin_of=first)
                self._ws.connect(self.url, redirect_limit=0, **arguments)
                return
            except websocket.WebSocketException:
                redirect = _redirect_of(self._ws)
                if redirect is None:
                    raise
            header = self._follow(*redirect, header)
        raise BusinessError(
            ErrorCode.COMMON, f"handshake redirected more than {MAX_REDIRECTS} times", "0"
        )

    def _new_socket(self) -> Any:
        ws = websocket.WebSocket(
            sslopt=_ssl_options(self.url, self.options),
            skip_utf8_validation=True,  # `protocol` checks UTF-8 in C, failing fast
            enable_multithread=True,
        )
        # Check a frame's announced length before its payload is read (RFC 6455 §10.4).
        ws.frame_buffer = BoundedFrameBuffer(_receiver(ws), self.options.max_message_size)
        return ws

    def _follow(
        self, status: int, headers: dict[str, str], header: dict[str, str]
    ) -> dict[str, str]:
        """Move to a redirect's target, or raise `Redirected`; return the headers to send there.

        Followed only with `follow_redirects`; never from wss:// to ws:// (the credentials and
        messages would travel in clear); `Authorization`, `Cookie` and `Host` are dropped when
        the target is another origin (scheme, host, port).
        """
        location = headers.get("location")
        if location is None:
            raise Redirected(status, headers, "", "the response has no Location header")
        if not self.options.follow_redirects:
            raise Redirected(status, headers, location, "not followed (follow_redirects is off)")
        target = _redirect_target(self.url, location)
        if target is None:
            raise Redirected(
                status, headers, location, "not a ws://, wss://, http:// or https:// URL"
            )
        if self.url.startswith("wss:") and not target.startswith("wss:"):
            raise Redirected(status, headers, location, "refused: it leaves TLS (wss to ws)")
        if _origin_of(target) != _origin_of(self.url):
            header = {k: v for k, v in header.items() if k.lower() not in _CREDENTIAL_HEADERS}
        self.redirected_from.append(self.url)
        self.url = target
        return header

    def _negotiate(self, headers: dict[str, str]) -> OpenResult:
        offered = self.options.deflate
        try:
            agreed = negotiate(offered, headers.get("sec-websocket-extensions", ""))
        except Refused as refused:
            if offered is not None:  # the link is open: fail it with 1010 (RFC 6455 §7.4.1)
                self._write_quietly(_close_payload(MANDATORY_EXTENSION, "bad extension"), OP_CLOSE)
            self.teardown()
            raise BusinessError(ErrorCode.COMMON, str(refused), "101") from None
        url, hops = self.url, tuple(self.redirected_from)
        if agreed is None:
            return OpenResult(
                101, "Switching Protocols", self.protocol, headers, url=url, redirected_from=hops
            )
        self._deflate, parameters = agreed
        extensions = ("permessage-deflate",)
        return OpenResult(
            101, "Switching Protocols", self.protocol, headers, extensions, parameters, url, hops
        )

    def _start_timers(self) -> None:
        sock = self._ws.sock
        self._poll = select.poll()
        self._poll.register(sock.fileno(), select.POLLIN)
        self._poll.register(self._waker.fileno(), select.POLLIN)
        if self.options.ping_interval > 0:
            self._next_ping = time.monotonic() + self.options.ping_interval

    # -- sending (any thread) ----------------------------------------------------------------

    @property
    def closing(self) -> bool:
        """Whether this endpoint has sent its Close frame."""
        return self._close_sent

    def send_message(self, data: str | bytes) -> None:
        """Send one message as one frame; `BusinessError` 2302999 when closing or the link fails."""
        if self._deflate is not None:
            self.send_prepared(self.prepare(data))
            return
        payload = data.encode("utf-8") if isinstance(data, str) else data
        frame = make_frame(payload, OP_TEXT if isinstance(data, str) else OP_BINARY)
        self._write_data(self._format(frame), len(payload))  # the hot path: no PreparedMessage

    def prepare(self, data: str | bytes) -> PreparedMessage:
        """Frame one message (compress it, with permessage-deflate; mask and format it) for
        `send_prepared`, which writes these bytes.

        The rule of compression order: when the compression context carries over between
        messages (permessage-deflate without `client_no_context_takeover`), the peer inflates
        each message with the context of the ones compressed before it, so messages must be
        written in the order they were prepared, and each prepared message must be sent. A send
        waits for the messages other threads prepared before it; a thread that sends a message
        before one it prepared earlier gets `BusinessError` 401 (waiting would never end).
        Elsewhere the order is free. A prepared message is sent once, on its own connection.
        """
        opcode = OP_TEXT if isinstance(data, str) else OP_BINARY
        payload = data.encode("utf-8") if isinstance(data, str) else data
        deflate = self._deflate
        if deflate is None:
            frame = make_frame(payload, opcode)
            return PreparedMessage(self._format(frame), len(payload), len(payload), False, self, 0)
        turn = 0
        with self._order:  # one zlib context: compressed one message at a time
            wire = deflate.encode(opcode, payload)
            if deflate.carries_context:
                self._last_turn = turn = self._last_turn + 1
                self._turns[turn] = threading.get_ident()
        frame = make_frame(wire, opcode, rsv1=1)
        return PreparedMessage(self._format(frame), len(payload), len(wire), True, self, turn)

    def _format(self, frame: Any) -> bytes:
        """The frame's bytes, masked with a fresh key as websocket-client's `send_frame` does."""
        if self._ws.get_mask_key:
            frame.get_mask_key = self._ws.get_mask_key
        data: bytes = frame.format()
        return data

    def send_prepared(self, message: PreparedMessage) -> None:
        """Write a message `prepare` framed, in compression order (see `prepare`);
        `BusinessError` 401 for a message of another connection or sent already, 2302999 when
        closing or the link fails."""
        if message._owner is not self or message.sent:
            why = "sent already" if message._owner is self else "prepared for another connection"
            raise BusinessError(ErrorCode.PARAMETER, f"Parameter error: message {why}")
        turn = message._turn
        if turn:
            self._await_turn(turn)
        message.sent = True
        try:
            self._write_data(message.frame, message.wire_size)
        finally:
            if turn:
                with self._order:
                    del self._turns[turn]
                    self._order.notify_all()

    def _write_data(self, frame: bytes, wire_size: int) -> None:
        with self._write_lock:  # RFC 6455 §5.5.1: no data frame after our Close frame
            if self._close_sent:
                raise BusinessError(
                    ErrorCode.OTHER, "Websocket Unknown Other Error: connection closing"
                )
            self._write_bytes(frame)
            self.sent_wire_size = wire_size

    def _await_turn(self, turn: int) -> None:
        """Wait until every message prepared before `turn` was written (or the link ends)."""
        with self._order:
            while next(iter(self._turns)) != turn:
                if self._close_sent or self._aborted:  # an earlier one will never be written
                    raise BusinessError(
                        ErrorCode.OTHER, "Websocket Unknown Other Error: connection closing"
                    )
                me = threading.get_ident()
                if any(t < turn and owner == me for t, owner in self._turns.items()):
                    raise BusinessError(
                        ErrorCode.PARAMETER,
                        "Parameter error: send the messages prepared earlier on this thread "
                        "first (compression order)",
                    )
                self._order.wait()

    def _wake_senders(self) -> None:
        """Let senders waiting for their turn see that the connection is closing or ended."""
        if self._order is not _UNORDERED:
            with self._order:
                self._order.notify_all()

    def start_close(self, code: int | None, reason: str = "") -> None:
        """Send a Close frame and let the receive loop wait (bounded) for the peer's."""
        with self._write_lock:
            if not self._claim_close():
                raise BusinessError(
                    ErrorCode.OTHER, "Websocket Unknown Other Error: already closing"
                )
            # The receive loop is not woken to learn the close deadline: the peer's Close (the
            # usual end, soon) wakes it, and `CLOSE_TIMER` does at the deadline if nothing has.
            assert self._close_deadline is not None
            CLOSE_TIMER.add(self._close_deadline, self._waker)
            self._wake_senders()
            self._write(_close_payload(code, reason), OP_CLOSE)

    def abort(self) -> None:
        """Drop the connection at once; the receive loop reports a lost link.

        During the handshake, shutting the socket down interrupts it (a connect still waiting
        for TCP is bounded by `timeout`).
        """
        self._aborted = True
        self._waker.wake()
        self._wake_senders()
        sock = self._ws.sock if self._ws is not None else None
        if sock is not None and self._poll is None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def _claim_close(self) -> bool:
        with self._lock:
            if self._close_sent:
                return False
            self._close_sent = True
            self._close_deadline = time.monotonic() + self.options.close_timeout
            return True

    def _write(self, payload: bytes, opcode: int) -> None:
        """Write a control frame (data frames go through `prepare`, RFC 7692 §6.1)."""
        self._write_bytes(self._format(make_frame(payload, opcode)))

    def _write_bytes(self, data: bytes) -> None:
        """Write a formatted frame whole (websocket-client's `send_frame`, once formatted)."""
        ws = self._ws
        try:
            with ws.lock:
                sent = _send_some(ws, data)
                while sent < len(data):  # a partial write (rare): the rest, as send_frame does
                    data = data[sent:]
                    sent = _send_some(ws, data)
        except Exception as exc:
            if not is_link_error(exc):
                raise
            self.abort()
            raise BusinessError(ErrorCode.OTHER, f"send failed: {exc}") from exc

    # -- receiving (the connection's thread) -------------------------------------------------

    def serve(self, sink: Sink) -> CloseResult:
        """Receive until the connection ends; report errors through `sink`; always tear down."""
        try:
            self._receive(sink)
        except _Ended as end:
            if end.error is not None:
                sink.on_error(end.error)
            return end.result
        finally:
            self.teardown()
        raise AssertionError("unreachable: the receive loop only ends by _Ended")

    def _receive(self, sink: Sink) -> None:
        try:
            while True:
                frame = self._next_frame()
                if frame.opcode >= OP_CLOSE:
                    self._on_control(frame.opcode, frame.data)
                    continue
                data = frame.data
                self._receiving_wire_size += len(data)
                if self._deflate is not None:
                    limit = self.options.max_message_size
                    data = self._deflate.decode(frame.opcode, frame.fin, frame.rsv1, data, limit)
                message = self._assembler.feed(frame.opcode, frame.fin, data)
                if message is not None:
                    self.received_wire_size, self._receiving_wire_size = (
                        self._receiving_wire_size,
                        0,
                    )
                    sink.on_message(message)
        except ProtocolViolation as violation:
            self._fail(violation, sink)

    def _next_frame(self) -> Any:
        self._wait_readable()
        try:
            frame = self._ws.recv_frame()
        except websocket.WebSocketProtocolException as exc:
            raise ProtocolViolation(PROTOCOL_ERROR, str(exc)) from None
        except Exception as exc:
            if not is_link_error(exc):
                raise
            raise _link_lost(str(exc) or type(exc).__name__) from None
        if frame.mask_value:  # RFC 6455 §5.1: a client fails on a masked frame
            raise ProtocolViolation(PROTOCOL_ERROR, "server sent a masked frame")
        if frame.rsv1 or frame.rsv2 or frame.rsv3:
            check_rsv(frame.opcode, frame.rsv1, frame.rsv2, frame.rsv3, self._deflate is not None)
        if frame.opcode >= OP_CLOSE:
            check_control_frame(frame.opcode, frame.fin, len(frame.data))
        return frame

    def _on_control(self, opcode: int, payload: bytes) -> None:
        if opcode == OP_PING:
            if not self._close_sent:  # RFC 6455 §5.5.2: answer with the same payload
                self._write_quietly(payload, OP_PONG)
        elif opcode == OP_PONG:
            self._pong_deadline = None
        else:
            self._on_close_frame(payload)

    def _on_close_frame(self, payload: bytes) -> None:
        code, reason = parse_close_payload(payload)
        self._close_once(code)  # §5.5.1: echo the status of a close the peer started
        self._await_eof()
        clean = CloseResult(NO_STATUS if code is None else code, reason, was_clean=True)
        raise _Ended(clean)

    def _fail(self, violation: ProtocolViolation, sink: Sink) -> None:
        """RFC 6455 §7.1.7: send a Close with the reason, then close the connection. The error
        is reported at once: the closing handshake after it may take `close_timeout`."""
        self._close_once(violation.code)
        sink.on_error(ProtocolError(violation.code, violation.reason))
        if violation.drain:
            self._drain_until_close()
        else:
            self._discard_until_eof()
        raise _Ended(CloseResult(violation.code, violation.reason, was_clean=False))

    def _close_once(self, code: int | None) -> None:
        """Send a Close frame unless one was sent already."""
        with self._write_lock:
            if self._claim_close():
                self._wake_senders()
                self._write_quietly(_close_payload(code, ""), OP_CLOSE)

    def _drain_until_close(self) -> None:
        """Read and drop frames until the peer's Close, end of stream or the close deadline."""
        try:
            while self._next_frame().opcode != OP_CLOSE:
                continue
            self._await_eof()
        except (_Ended, ProtocolViolation):
            return

    def _discard_until_eof(self) -> None:
        """Read and drop raw bytes (no frame can be parsed any more) until the peer closes TCP
        or the close deadline passes; closing with unread data would reset the connection."""
        self._ws.frame_buffer.discard()
        try:
            while True:
                self._wait_readable()
                if not self._ws.sock.recv(65536):
                    return
        except (_Ended, OSError):
            return

    def _await_eof(self) -> None:
        """RFC 6455 §7.1.1: the server closes TCP first; wait for it, up to the close deadline."""
        try:
            while True:
                self._next_frame()
        except (_Ended, ProtocolViolation):
            return

    def _write_quietly(self, payload: bytes, opcode: int) -> None:
        try:
            self._write(payload, opcode)
        except BusinessError:
            return  # the receive loop sees the broken link on its next read

    # -- waiting and timers ------------------------------------------------------------------

    def _wait_readable(self) -> None:
        sock = self._ws.sock
        if self._ws.frame_buffer.pending():  # read with a frame before (see `_receiver`)
            self._run_timers()  # an abort or a passed close deadline still ends the loop
            return
        if isinstance(sock, ssl.SSLSocket) and sock.pending():
            return
        while True:
            wait = self._run_timers()
            events = self._poll.poll(None if wait is None else max(0, int(wait * 1000) + 1))
            if any(fd == sock.fileno() for fd, _ in events):
                return
            self._waker.drain()

    def _run_timers(self) -> float | None:
        """Act on due deadlines; return seconds until the next one (None: no deadline)."""
        now = time.monotonic()
        if self._aborted:
            raise _link_lost("aborted")
        if self._close_deadline is not None and now >= self._close_deadline:
            timed_out = CloseResult(ABNORMAL_CLOSURE, "closing handshake timed out", False)
            raise _Ended(timed_out)
        if self._pong_deadline is not None and now >= self._pong_deadline:
            raise _link_lost(f"no pong within {self.options.pong_timeout:g}s")
        if self._next_ping is not None and now >= self._next_ping and not self._close_sent:
            self._send_keepalive(now)
        deadlines = [self._close_deadline, self._pong_deadline, self._next_ping]
        upcoming = [d for d in deadlines if d is not None]
        return min(upcoming) - now if upcoming else None

    def _send_keepalive(self, now: float) -> None:
        self._write_quietly(b"wsrun", OP_PING)
        self._next_ping = now + self.options.ping_interval
        if self.options.pong_timeout > 0 and self._pong_deadline is None:
            self._pong_deadline = now + self.options.pong_timeout

    def teardown(self) -> None:
        """Close the socket and the waker; safe to call twice.

        The descriptor is closed under websocket-client's write lock, which every write holds
        (`_write_bytes`): a write on another thread between its descriptor look-up and its
        system call would otherwise reach whatever socket the number is given to next. The
        socket is shut down first, so that a write blocked on a full buffer returns at once
        and the lock is soon free.
        """
        ws = self._ws
        if ws is not None:
            sock = ws.sock
            if sock is not None:
                with contextlib.suppress(OSError):  # the plain socket's: TLS state stays whole
                    socket.socket.shutdown(sock, socket.SHUT_RDWR)
            with ws.lock:
                ws.shutdown()
        self._waker.close()


#: The most one read of a plain socket takes (the frame reader keeps what a frame did not use):
#: websocket-client's own chunk, which keeps thousands of connections' reads off the large sizes.
READ_SIZE = 16384
#: Whether a plain socket's descriptor may be read and written with `os.read` / `os.write`.
_DIRECT_IO = os.name == "posix"


def _receiver(ws: Any) -> Callable[[int], bytes]:
    """What a connection's frames are read with: websocket-client's `_recv`, without the socket
    close it does at the end of the stream (outside the write lock; `Transport.teardown` closes
    the socket, under it).

    A plain socket is first read directly, taking what has arrived (up to `READ_SIZE`) in one
    system call: a socket with a timeout makes every `recv` poll first, and websocket-client
    reads a frame in two or three `recv` calls (header, length, payload), so a small frame cost
    four to six system calls, each letting go of the GIL, and it now costs one (or one for a
    burst of frames). When nothing has arrived yet (the rest of a frame), websocket-client's
    `recv` waits for it as before, bounded by the socket's timeout. TLS sockets keep it always.
    """
    read = websocket._socket.recv

    def receive(size: int) -> bytes:
        sock = ws.sock
        if _DIRECT_IO and type(sock) is socket.socket and sock.gettimeout() != 0:
            try:
                data = os.read(sock.fileno(), max(size, READ_SIZE))
            except BlockingIOError:  # nothing yet (a timeout socket is non-blocking below)
                pass
            else:
                if not data:
                    raise websocket.WebSocketConnectionClosedException(
                        "Connection to remote host was lost."
                    )
                return data
        return read(ws.sock, size)  # raises WebSocketConnectionClosedException at the end

    return receive


def _send_some(ws: Any, data: bytes) -> int:
    """Write what the socket takes of `data` now; the count written. Like `_receiver`, a plain
    socket is written directly first (one system call, not a poll and a send); when its buffer
    is full, websocket-client's `send` waits for room, bounded by the socket's timeout."""
    sock = ws.sock
    if _DIRECT_IO and type(sock) is socket.socket and sock.gettimeout() != 0:
        try:
            return os.write(sock.fileno(), data)
        except BlockingIOError:
            pass
    sent: int = ws._send(data)
    return sent


def _refusal(headers: dict[str, str], offered: list[str]) -> str | None:
    """Why RFC 6455 §4.1 makes the client fail a 101 response's subprotocol, or None (its
    extensions are `deflate.negotiate`'s)."""
    protocol = headers.get("sec-websocket-protocol")
    if protocol is not None and protocol not in offered:
        return f"server chose subprotocol {protocol!r}, not offered"
    return None


def _close_payload(code: int | None, reason: str) -> bytes:
    if code is None:
        return b""
    return code.to_bytes(2, "big") + reason.encode("utf-8")


def _redirect_of(ws: Any) -> tuple[int, dict[str, str]] | None:
    """The status and headers of a redirect websocket-client refused to follow, or None."""
    response = getattr(ws, "handshake_response", None)
    if response is None or response.status not in _REDIRECT_STATUSES:
        return None
    return int(response.status), {str(k).lower(): str(v) for k, v in response.headers.items()}


#: A redirect names an http(s) URL as often as a ws(s) one; the handshake is the same request.
_WS_SCHEMES = {"ws": "ws", "wss": "wss", "http": "ws", "https": "wss"}


def _redirect_target(url: str, location: str) -> str | None:
    """`location` resolved against `url` as a ws:// or wss:// URL; None when it is neither."""
    try:
        target = urllib.parse.urlsplit(urllib.parse.urljoin(_as_http(url), location))
        scheme = _WS_SCHEMES.get(target.scheme)
        if scheme is None or not target.hostname:
            return None
        resolved = urllib.parse.urlunsplit(target._replace(scheme=scheme, fragment=""))
        return normalize_url(resolved)
    except (ValueError, BusinessError):
        return None


def _as_http(url: str) -> str:
    """urljoin resolves relative references only for schemes it knows: ws(s) are not."""
    scheme, _, rest = url.partition(":")
    return ("https" if scheme == "wss" else "http") + ":" + rest


def _origin_of(url: str) -> tuple[str, str, int]:
    parts = urllib.parse.urlsplit(url)
    secure = parts.scheme == "wss"
    return parts.scheme, (parts.hostname or "").lower(), parts.port or (443 if secure else 80)


def _connect_arguments(
    url: str, options: ConnectOptions, header: dict[str, str], *, origin_of: str
) -> dict[str, Any]:
    """websocket-client's arguments for one hop to `url`; `Origin` stays that of the URL the
    scenario named (`origin_of`), as a browser keeps the page's origin across redirects."""
    headers = dict(header)
    arguments: dict[str, Any] = {"timeout": options.timeout, "origin": _origin(origin_of, options)}
    for name in list(headers):
        if name.lower() in ("origin", "host"):  # websocket-client sends these itself
            arguments[name.lower()] = headers.pop(name)
    if options.protocol:
        headers["Sec-WebSocket-Protocol"] = ", ".join(options.subprotocols)
    if options.deflate is not None:
        headers["Sec-WebSocket-Extensions"] = offer(options.deflate)
    arguments["header"] = [f"{name}: {value}" for name, value in headers.items()]
    arguments.update(_proxy_arguments(options))
    return arguments


def _origin(url: str, options: ConnectOptions) -> str:
    """OpenHarmony's `Origin`: the host alone unless `supportOriginPort` (API 26) asks for the
    port too (the explicit one, else the scheme's default)."""
    return _origin_text(url, options.support_origin_port)


@functools.lru_cache(maxsize=256)
def _origin_text(url: str, support_origin_port: bool) -> str:
    """`_origin`, kept per URL: a run's connections mostly go to a few URLs, and splitting one
    (`urlsplit`, its `hostname` and `port`) costs about 400 bytecodes a connection."""
    parts = urllib.parse.urlsplit(url)
    scheme = "https" if parts.scheme == "wss" else "http"
    host = f"[{parts.hostname}]" if ":" in (parts.hostname or "") else parts.hostname
    if not support_origin_port:
        return f"{scheme}://{host}"
    port = parts.port or (443 if parts.scheme == "wss" else 80)
    return f"{scheme}://{host}:{port}"


#: A no_proxy entry that matches no host: websocket-client reads the environment's no_proxy
#: whenever the list it is given is empty.
_MATCHES_NO_HOST = "\x00"


def _proxy_arguments(options: ConnectOptions) -> dict[str, Any]:
    proxy = options.proxy
    if proxy == "no-proxy":
        # websocket-client reads http_no_proxy only beside a proxy host; without one it would
        # take http_proxy from the environment. "*" then sends every host direct.
        return {"http_proxy_host": "no-proxy.invalid", "http_proxy_port": 1, "http_no_proxy": ["*"]}
    if isinstance(proxy, ProxyOptions):
        return {
            "http_proxy_host": proxy.host,
            "http_proxy_port": proxy.port,
            "http_no_proxy": [*proxy.exclusion_list, _MATCHES_NO_HOST],
            "proxy_type": "http",
        }
    return {}  # "system": websocket-client reads http_proxy, https_proxy and no_proxy


_TLS_VERSIONS = {
    TlsProtocol.TLS_V_1_0: ssl.TLSVersion.TLSv1,
    TlsProtocol.TLS_V_1_1: ssl.TLSVersion.TLSv1_1,
    TlsProtocol.TLS_V_1_2: ssl.TLSVersion.TLSv1_2,
    TlsProtocol.TLS_V_1_3: ssl.TLSVersion.TLSv1_3,
}


def _ssl_options(url: str, options: ConnectOptions) -> dict[str, Any]:
    """A verifying TLS context (stricter than OpenHarmony, which skips the host name check)."""
    if not url.startswith("wss:"):
        return {}
    context = ssl.create_default_context(cafile=options.ca_path)
    if options.skip_server_cert_verification:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if options.client_cert is not None:
        cert = options.client_cert
        context.load_cert_chain(cert.cert_path, cert.key_path, cert.key_password or None)
    wanted = options.min_support_tls_protocol
    minimum = None if wanted is None else _TLS_VERSIONS[wanted]
    if minimum is not None and minimum > context.minimum_version:  # never lower the default
        context.minimum_version = minimum
    keylog = os.environ.get("SSLKEYLOGFILE")
    if keylog:
        context.keylog_filename = keylog
    return {"context": context}
