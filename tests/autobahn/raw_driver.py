"""Drive the Autobahn cases with raw websocket-client: the baseline the client core is held to.

Only the harness's baseline imports websocket-client outside `runner/client/`; it measures the
library itself, not wsrun.
"""

from __future__ import annotations

import time

import websocket

__all__ = ["RawDriver"]

#: Close codes for websocket-client's exceptions (RFC 6455 7.4.1): 1002 protocol, 1007 data.
_FAIL_CODES: tuple[tuple[type[Exception], int], ...] = (
    (websocket.WebSocketPayloadException, 1007),
    (websocket.WebSocketProtocolException, 1002),
)


class RawDriver:
    """websocket-client `create_connection` + `recv_data`/`send` echo loop.

    Args:
        fail_codes: when websocket-client raises on a protocol or payload error, close with 1002
            or 1007 as RFC 6455 7.1.7 asks, as a careful user would; when False, close with 1000
            as `WebSocket.close()` does by default (what a naive user gets).
    """

    agent = "websocket-client"

    def __init__(self, fail_codes: bool = True) -> None:
        self.fail_codes = fail_codes

    def fetch_text(self, url: str, timeout: float) -> str:
        """Connect, return the first text message, and close."""
        ws = websocket.create_connection(url, timeout=timeout)
        try:
            return str(ws.recv())
        finally:
            ws.close(timeout=timeout)

    def run_case(self, url: str, timeout: float) -> None:
        """Echo every message until the peer closes or the connection fails."""
        ws = websocket.create_connection(url, timeout=timeout)
        try:
            self._echo(ws, time.monotonic() + timeout)
        except websocket.WebSocketConnectionClosedException:
            pass  # the case dropped the connection: its verdict says whether that was right
        except (websocket.WebSocketProtocolException, websocket.WebSocketPayloadException) as exc:
            ws.close(status=self._code_for(exc), timeout=timeout)
        finally:
            ws.shutdown()  # type: ignore[no-untyped-call]

    def _echo(self, ws: websocket.WebSocket, deadline: float) -> None:
        while time.monotonic() < deadline:
            opcode, data = ws.recv_data()  # answers pings itself
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                return  # recv_data has already answered the close frame
            ws.send(data, opcode)
        raise TimeoutError("case still running at its deadline")

    def _code_for(self, exc: Exception) -> int:
        if self.fail_codes:
            for kind, code in _FAIL_CODES:
                if isinstance(exc, kind):
                    return code
        return websocket.STATUS_NORMAL
