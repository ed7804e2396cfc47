"""The client core: OpenHarmony's `@ohos.net.webSocket` API in Python, over websocket-client.

```python
from runner.client import create_websocket

ws = create_websocket()
ws.on("message", lambda err, data: print(data))
ws.connect("ws://127.0.0.1:8765/echo").result(timeout=10)
ws.send("Hello, server!")
```

Only this package imports `websocket` (websocket-client).
"""

from runner.client.errors_map import HandshakeRefused, ProtocolError
from runner.client.options import (
    ClientCert,
    CloseOptions,
    CloseResult,
    ConnectOptions,
    DeflateOptions,
    OpenResult,
    ProxyOptions,
    TlsProtocol,
)
from runner.client.websocket import PreparedMessage, ReadyState, WebSocket, create_websocket
from runner.errors import BusinessError, ErrorCode

__all__ = [
    "BusinessError",
    "ClientCert",
    "CloseOptions",
    "CloseResult",
    "ConnectOptions",
    "DeflateOptions",
    "ErrorCode",
    "HandshakeRefused",
    "OpenResult",
    "PreparedMessage",
    "ProtocolError",
    "ProxyOptions",
    "ReadyState",
    "TlsProtocol",
    "WebSocket",
    "create_websocket",
]
