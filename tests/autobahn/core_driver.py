"""Drive the Autobahn cases through the client core's public API (`runner.client`)."""

from __future__ import annotations

import threading

from runner.client import BusinessError, CloseResult, WebSocket, create_websocket

__all__ = ["CoreDriver"]


class CoreDriver:
    """Echo every message from the `message` listener; a case ends with the `close` event.

    Args:
        compression: offer permessage-deflate (RFC 7692) with these parameters, e.g. "deflate".
    """

    agent = "wsrun"

    def __init__(self, compression: str | dict[str, object] | None = None) -> None:
        self.compression = compression

    def fetch_text(self, url: str, timeout: float) -> str:
        """Connect, return the first text message, and wait for the server to close."""
        messages: list[str | bytes] = []
        ws = create_websocket()
        ws.on("message", lambda err, data: messages.append(data))
        self._until_closed(ws, url, timeout)
        if not messages or not isinstance(messages[0], str):
            raise AssertionError(f"expected a text message from {url}, got {messages!r}")
        return messages[0]

    def run_case(self, url: str, timeout: float) -> None:
        """Echo text as text and binary as binary until the `close` event."""
        ws = create_websocket()
        ws.on("message", lambda err, data: ws.send(self.echo_of(data)))
        self._until_closed(ws, url, timeout)

    def echo_of(self, data: str | bytes) -> str | bytes:
        """What to send back for `data`: the message itself."""
        return data

    def _until_closed(self, ws: WebSocket, url: str, timeout: float) -> CloseResult:
        closes: list[CloseResult] = []
        closed = threading.Event()

        def on_close(err: BusinessError | None, value: CloseResult) -> None:
            closes.append(value)
            closed.set()

        ws.on("close", on_close)
        ws.on("error", _ignore)  # a case may fail the connection on purpose; its verdict judges
        options: dict[str, object] = {"timeout": timeout}
        if self.compression is not None:
            options["compression"] = self.compression
        opened = ws.connect(url, options)
        assert opened is not None
        opened.result(timeout=timeout)  # raises the BusinessError of a failed handshake
        if not closed.wait(timeout):
            ws.abort()
            raise TimeoutError(f"no close event within {timeout} s of opening {url}")
        ws.wait_closed(timeout)
        return closes[0]


def _ignore(err: BusinessError) -> None:
    """Errors are part of some cases; the case's verdict is what counts."""
