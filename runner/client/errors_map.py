"""The one boundary where websocket-client's and the socket's exceptions become BusinessErrors."""

from __future__ import annotations

import ssl

import websocket

from runner.errors import BusinessError, ErrorCode

__all__ = ["HandshakeRefused", "ProtocolError", "handshake_error", "is_link_error"]


class HandshakeRefused(BusinessError):
    """A handshake the server answered with an HTTP status other than 101 (RFC 6455 4.1).

    `data` is the status, as for any failed connect; `headers` (names in lower case) and `body`
    are the server's response, for tests that check a refusal (an extension of OpenHarmony).
    """

    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        super().__init__(ErrorCode.COMMON, f"handshake rejected with HTTP {status}", str(status))
        self.headers = headers
        self.body = body


class ProtocolError(BusinessError):
    """The server broke RFC 6455 on an open connection: the client fails it (§7.1.7) with
    `close_code` (1002, 1007, 1009...); `reason` says what the server did. Reported at once,
    before the closing handshake that follows (an extension of OpenHarmony: code 200, data "0").
    """

    def __init__(self, close_code: int, reason: str) -> None:
        super().__init__(ErrorCode.COMMON, f"protocol error: {reason}", "0")
        self.close_code = close_code
        self.reason = reason


def handshake_error(exc: BaseException) -> BusinessError:
    """The `error` event payload for a failed connect: code 200, `data` the HTTP status or "0"."""
    if isinstance(exc, websocket.WebSocketBadStatusException):
        headers = {str(k).lower(): str(v) for k, v in (exc.resp_headers or {}).items()}
        return HandshakeRefused(exc.status_code, headers, exc.resp_body or b"")
    return BusinessError(ErrorCode.COMMON, _describe(exc), "0")


def _describe(exc: BaseException) -> str:
    # Most specific first: SSLCertVerificationError is an SSLError is an OSError.
    if isinstance(exc, websocket.WebSocketAddressException):
        return f"cannot resolve host: {exc}"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"tls certificate rejected: {exc.verify_message}"
    if isinstance(exc, ssl.SSLError):
        return f"tls error: {exc.reason or exc}"
    if isinstance(exc, websocket.WebSocketTimeoutException | TimeoutError):
        return "handshake timed out"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, websocket.WebSocketProxyException):
        return f"proxy error: {exc}"
    if isinstance(exc, websocket.WebSocketException):
        return f"invalid handshake: {exc}"
    if isinstance(exc, OSError):
        return f"network error: {exc.strerror or exc}"
    return f"connect failed: {exc!r}"


def is_link_error(exc: BaseException) -> bool:
    """Whether `exc` means the TCP/TLS link is gone or stalled (not a protocol violation)."""
    return isinstance(
        exc,
        websocket.WebSocketConnectionClosedException
        | websocket.WebSocketTimeoutException
        | OSError,
    )
