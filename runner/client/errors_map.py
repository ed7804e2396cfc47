"""The one boundary where websocket-client's and the socket's exceptions become BusinessErrors."""

from __future__ import annotations

import ssl

import websocket

from runner.errors import BusinessError, ErrorCode

__all__ = ["handshake_error", "is_link_error"]


def handshake_error(exc: BaseException) -> BusinessError:
    """The `error` event payload for a failed connect: code 200, `data` the HTTP status or "0"."""
    if isinstance(exc, websocket.WebSocketBadStatusException):
        status = str(exc.status_code)
        return BusinessError(ErrorCode.COMMON, f"handshake rejected with HTTP {status}", status)
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
