"""`WebSocket`: the OpenHarmony `webSocket` object in Python.

Each connection runs on a thread of its own that performs the handshake, then receives and
dispatches every event of that connection in order. Methods may be called from any thread,
listeners included. See the README for every difference from OpenHarmony.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Mapping
from concurrent.futures import Future
from enum import StrEnum
from typing import Any, TypeAlias, overload

from runner.client.framing import PreparedMessage
from runner.client.listeners import Listener, ListenerRegistry
from runner.client.options import (
    CloseOptions,
    ConnectOptions,
    OpenResult,
    parse_close_options,
    parse_connect_options,
)
from runner.client.reply import Callback, Reply, split_callback
from runner.client.transport import Transport, normalize_url
from runner.errors import BusinessError, ErrorCode

__all__ = ["PreparedMessage", "ReadyState", "WebSocket", "create_websocket"]


#: What `connect` takes as options: OpenHarmony's keys in a mapping, or the typed form.
Options: TypeAlias = Mapping[str, Any] | ConnectOptions | None
#: What `close` takes as options.
CloseArgument: TypeAlias = Mapping[str, Any] | CloseOptions | None
#: What `send` takes: text, bytes-like binary data, or a message `prepare` framed.
Data: TypeAlias = str | bytes | bytearray | memoryview | PreparedMessage


class ReadyState(StrEnum):
    """The WHATWG ready states (OpenHarmony keeps them internal)."""

    CONNECTING = "CONNECTING"
    OPEN = "OPEN"
    CLOSING = "CLOSING"
    CLOSED = "CLOSED"


def _other(why: str) -> BusinessError:
    return BusinessError(ErrorCode.OTHER, f"Websocket Unknown Other Error: {why}")


class WebSocket:
    """A WebSocket client with OpenHarmony's API: `connect`, `send`, `close`, `on`, `off`."""

    def __init__(self) -> None:
        self._listeners = ListenerRegistry()
        self._lock = threading.Lock()
        self._state = ReadyState.CLOSED
        self._transport: Transport | None = None
        self._pending_close: CloseOptions | None = None
        self._done = threading.Event()
        self._done.set()
        self.url: str | None = None

    # -- listeners ---------------------------------------------------------------------------

    def on(self, event: str, listener: Listener) -> None:
        """Add a listener; raise `BusinessError` 401 for an unknown event or a non-callable."""
        self._listeners.add(event, listener)

    def off(self, event: str, listener: Listener | None = None) -> None:
        """Remove one listener, or every listener of `event` when none is given."""
        self._listeners.remove(event, listener)

    # -- state -------------------------------------------------------------------------------

    @property
    def ready_state(self) -> ReadyState:
        """CONNECTING, OPEN, CLOSING or CLOSED (an extension of OpenHarmony's API)."""
        transport = self._transport
        if self._state is ReadyState.OPEN and transport is not None and transport.closing:
            return ReadyState.CLOSING
        return self._state

    @property
    def protocol(self) -> str | None:
        """The subprotocol the server chose, if any."""
        transport = self._transport
        return transport.protocol if transport is not None else None

    @property
    def wire_sizes(self) -> tuple[int, int]:
        """Payload bytes on the wire of the last message sent and of the last one received (an
        extension beyond OpenHarmony: with compression they are less than the messages). Read
        the received size in the `message` listener, the sent one after `send` returned."""
        transport = self._transport
        if transport is None:
            return 0, 0
        return transport.sent_wire_size, transport.received_wire_size

    def wait_closed(self, timeout: float | None = None) -> bool:
        """Wait until the current connection has ended and its `close`/`error` event ran."""
        return self._done.wait(timeout)

    def abort(self) -> None:
        """Drop the connection without a closing handshake (`error`, then `close` 1006)."""
        transport = self._transport
        if transport is not None:
            transport.abort()

    # -- connect -----------------------------------------------------------------------------

    @overload
    def connect(self, url: str, options: Options = None, callback: None = None) -> Future[bool]: ...
    @overload
    def connect(self, url: str, options: Callback) -> None: ...
    @overload
    def connect(self, url: str, options: Options, callback: Callback) -> None: ...
    @overload
    def connect(self, url: str, *, callback: Callback) -> None: ...

    def connect(self, url: Any, options: Any = None, callback: Any = None) -> Future[bool] | None:
        """Open a connection to `url`.

        Overloads: `connect(url)`, `connect(url, callback)`, `connect(url, options)`,
        `connect(url, options, callback)`. Settles with True once open, or with the
        `BusinessError` the `error` event also carries; without a callback, returns a Future.
        """
        options, callback, bad = split_callback(options, callback)
        reply = Reply(callback)
        try:
            if bad is not None:
                raise bad
            transport = self._begin(url, options)
        except BusinessError as error:
            return reply.fail(error)
        threading.Thread(
            target=self._run, args=(transport, reply), name=f"wsrun-ws {url}", daemon=True
        ).start()
        return reply.future

    def _begin(self, url: Any, options: Any) -> Transport:
        """Check the arguments in OpenHarmony's order: 401, 2302002, 2302003, 2302001."""
        if not isinstance(url, str):
            raise BusinessError(ErrorCode.PARAMETER, "Parameter error: url must be a string")
        parsed = parse_connect_options(options)
        _check_cert_files(parsed)
        with self._lock:
            # CLOSED is set before the last event, so its listeners may connect again.
            if self._state is not ReadyState.CLOSED:
                raise BusinessError(ErrorCode.ALREADY_CONNECTED)
            url = normalize_url(url)
            self._state, self._pending_close, self.url = ReadyState.CONNECTING, None, url
            self._transport = Transport(url, parsed)
            self._done = threading.Event()  # one per connection: `wait_closed` waits for it
            return self._transport

    def _run(self, transport: Transport, reply: Reply) -> None:
        done = self._done
        try:
            opened = transport.handshake()
        except BusinessError as error:
            self._finish_failed(error, reply, done)
            return
        self._open(opened, reply)
        result = transport.serve(self)
        with self._lock:
            self._state = ReadyState.CLOSED
        self._listeners.emit("close", None, result)
        done.set()

    def _finish_failed(self, error: BusinessError, reply: Reply, done: threading.Event) -> None:
        with self._lock:
            self._state = ReadyState.CLOSED
        self._listeners.emit("error", error)
        reply.fail(error)
        done.set()

    def _open(self, opened: OpenResult, reply: Reply) -> None:
        with self._lock:
            self._state = ReadyState.OPEN
            self.url = opened.url or self.url  # where the redirects (if followed) led
            pending, self._pending_close = self._pending_close, None
        self._listeners.emit("headerReceive", dict(opened.headers))
        self._listeners.emit("open", None, opened)
        self._listeners.emit("openInfo", None, opened)  # OpenHarmony API 26: right after open
        reply.succeed(True)
        if pending is not None:
            # The write failed (the link dropped): the receive loop that follows reports it.
            with contextlib.suppress(BusinessError):
                self._start_close(pending)

    # -- Sink: called by the transport on this connection's thread ---------------------------

    def on_message(self, data: str | bytes) -> None:
        """Deliver one whole message, then `dataEnd`."""
        self._listeners.emit("message", None, data)
        self._listeners.emit("dataEnd")

    def on_error(self, error: BusinessError) -> None:
        """Deliver an `error` event."""
        self._listeners.emit("error", error)

    # -- send and close ----------------------------------------------------------------------

    @overload
    def send(self, data: Data, callback: None = None) -> Future[bool]: ...
    @overload
    def send(self, data: Data, callback: Callback) -> None: ...

    def send(self, data: Any, callback: Any = None) -> Future[bool] | None:
        """Send one message: `str` as text, `bytes`-like as binary, a `PreparedMessage` as the
        exact frame `prepare` built (an extension beyond OpenHarmony).

        Settles with True once the frame is written, or with `BusinessError` 401 (bad data, a
        prepared message sent already, of another connection or out of compression order) or
        2302999 (not open, closing, or the write failed).
        """
        _, callback, bad = split_callback(None, callback)
        reply = Reply(callback)
        try:
            if bad is not None:
                raise bad
            transport = self._open_transport()
            if isinstance(data, PreparedMessage):
                transport.send_prepared(data)
            else:
                transport.send_message(_payload(data))
        except UnicodeEncodeError as exc:  # a lone surrogate: encoding fails before any write
            return reply.fail(_not_unicode("data", exc))
        except BusinessError as error:
            return reply.fail(error)
        return reply.succeed(True)

    def send_now(self, prepared: PreparedMessage) -> None:
        """Write a message `prepare` framed, on the calling thread, or raise the `BusinessError`
        `send` would settle its Future with (an extension beyond OpenHarmony: wsrun's steps send
        this way, with no Future made, settled and read per message)."""
        self._open_transport().send_prepared(prepared)

    def prepare(self, data: str | bytes | bytearray | memoryview) -> PreparedMessage:
        """Frame one message before it is sent (an extension beyond OpenHarmony): compressed
        when permessage-deflate was negotiated, masked, formatted; `send(prepared)` writes those
        bytes. Its `size` and `wire_size` (payload bytes on the wire) are known before the write.

        Raises `BusinessError` 401 (bad data) or 2302999 (not open) at once. The rule of
        compression order: when the compression context carries over (no
        `client_no_context_takeover`), send every prepared message, in the order prepared; a
        send waits for messages other threads prepared before it, and fails with 401 when the
        same thread prepared an earlier one still unsent. Each prepared message is sent once.
        """
        transport = self._open_transport()
        try:
            return transport.prepare(_payload(data))
        except UnicodeEncodeError as exc:
            raise _not_unicode("data", exc) from None

    def _open_transport(self) -> Transport:
        transport = self._transport
        if self._state is not ReadyState.OPEN or transport is None:
            raise _other(f"not open ({self.ready_state.value})")
        return transport

    @overload
    def close(self, options: CloseArgument = None, callback: None = None) -> Future[bool]: ...
    @overload
    def close(self, options: Callback) -> None: ...
    @overload
    def close(self, options: CloseArgument, callback: Callback) -> None: ...
    @overload
    def close(self, *, callback: Callback) -> None: ...

    def close(self, options: Any = None, callback: Any = None) -> Future[bool] | None:
        """Start the closing handshake (default code 1000).

        Overloads: `close()`, `close(callback)`, `close(options)`, `close(options, callback)`.
        Settles with True once the Close frame is sent; the `close` event follows when the
        handshake ends. A second close, or a close with no connection, fails with 2302999.
        """
        options, callback, bad = split_callback(options, callback)
        reply = Reply(callback)
        try:
            if bad is not None:
                raise bad
            self._request_close(parse_close_options(options))
        except BusinessError as error:
            return reply.fail(error)
        return reply.succeed(True)

    def _request_close(self, options: CloseOptions) -> None:
        with self._lock:
            if self._state is ReadyState.CONNECTING and self._pending_close is None:
                self._pending_close = options  # sent as soon as the handshake is done
                return
            if self._state is not ReadyState.OPEN:
                raise _other(f"no connection to close ({self.ready_state.value})")
        self._start_close(options)

    def _start_close(self, options: CloseOptions) -> None:
        transport = self._transport
        if transport is None:
            raise _other("no connection to close")
        transport.start_close(options.code, options.reason)


def _payload(data: Any) -> str | bytes:
    if isinstance(data, str):
        return data
    if isinstance(data, bytes | bytearray | memoryview):
        return bytes(data)
    raise BusinessError(
        ErrorCode.PARAMETER,
        f"Parameter error: data must be str or bytes, got {type(data).__name__}",
    )


def _not_unicode(name: str, exc: UnicodeEncodeError) -> BusinessError:
    return BusinessError(
        ErrorCode.PARAMETER,
        f"Parameter error: {name} must be valid Unicode, found {exc.reason} at index {exc.start}",
    )


def _check_cert_files(options: ConnectOptions) -> None:
    cert = options.client_cert
    paths = [options.ca_path, cert.cert_path if cert else None, cert.key_path if cert else None]
    for path in paths:
        if path is not None and not os.path.isfile(path):
            raise BusinessError(
                ErrorCode.CERT_FILE, f"Websocket certificate file does not exist: {path}"
            )


def create_websocket() -> WebSocket:
    """A new, unconnected WebSocket (OpenHarmony's `webSocket.createWebSocket()`)."""
    return WebSocket()
