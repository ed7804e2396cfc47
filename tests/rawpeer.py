"""A raw-socket WebSocket server peer, for frames a correct library would never send.

The test drives the peer from its own thread while the client under test runs on its own:
`RawPeer` listens on 127.0.0.1 port 0; `accept()` takes one connection and answers the HTTP
upgrade by hand (RFC 6455 §4.2.2); the `PeerConnection` it returns writes frames built byte by
byte (any opcode, RSV bits, fragmentation, masking) and reads the client's frames, unmasking them.

```python
with RawPeer() as peer:
    ws.connect(peer.url)
    conn = peer.accept()
    conn.send_frame(OP_TEXT, b"\\xff")       # invalid UTF-8
    assert conn.recv_close().code == 1007
```
"""

from __future__ import annotations

import base64
import hashlib
import os
import socket
import struct
import time
from dataclasses import dataclass
from types import TracebackType

from tests.support import timeout

__all__ = [
    "OP_BINARY",
    "OP_CLOSE",
    "OP_CONT",
    "OP_PING",
    "OP_PONG",
    "OP_TEXT",
    "Frame",
    "PeerConnection",
    "RawPeer",
    "accept_key",
    "close_payload",
    "encode_frame",
]

OP_CONT, OP_TEXT, OP_BINARY = 0x0, 0x1, 0x2
OP_CLOSE, OP_PING, OP_PONG = 0x8, 0x9, 0xA

_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 §1.3


def accept_key(key: str) -> str:
    """The `Sec-WebSocket-Accept` value for a `Sec-WebSocket-Key` (RFC 6455 §4.2.2)."""
    digest = hashlib.sha1((key + _GUID).encode("ascii")).digest()
    return base64.b64encode(digest).decode("ascii")


def close_payload(code: int, reason: bytes = b"") -> bytes:
    """The payload of a Close frame: a two-byte status code, then the reason (§5.5.1)."""
    return struct.pack("!H", code) + reason


def encode_frame(
    opcode: int, payload: bytes = b"", *, fin: bool = True, rsv: int = 0, mask: bool = False
) -> bytes:
    """One frame exactly as given (RFC 6455 §5.2), valid or not."""
    head = bytes([(0x80 if fin else 0) | (rsv & 0x7) << 4 | (opcode & 0xF)])
    mask_bit = 0x80 if mask else 0
    size = len(payload)
    if size < 126:
        head += bytes([mask_bit | size])
    elif size < 1 << 16:
        head += bytes([mask_bit | 126]) + struct.pack("!H", size)
    else:
        head += bytes([mask_bit | 127]) + struct.pack("!Q", size)
    if not mask:
        return head + payload
    key = os.urandom(4)
    return head + key + _unmask(key, payload)


def _unmask(key: bytes, data: bytes) -> bytes:
    """XOR `data` with the 4-byte masking key (§5.3); masking and unmasking are the same."""
    if not data:
        return data
    repeated = (key * (len(data) // 4 + 1))[: len(data)]
    return (int.from_bytes(data, "big") ^ int.from_bytes(repeated, "big")).to_bytes(
        len(data), "big"
    )


@dataclass(frozen=True)
class Frame:
    """A frame the client sent, unmasked."""

    fin: bool
    rsv: int
    opcode: int
    masked: bool
    payload: bytes

    @property
    def close_code(self) -> int | None:
        """The status code of a Close frame, None when it has none."""
        if self.opcode != OP_CLOSE or len(self.payload) < 2:
            return None
        return int(struct.unpack("!H", self.payload[:2])[0])

    @property
    def close_reason(self) -> str:
        """The reason of a Close frame."""
        return self.payload[2:].decode("utf-8")


class PeerConnection:
    """One accepted client connection: the upgrade request, then raw frames both ways."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._buffer = bytearray()
        self.request_line = ""
        self.request_headers: dict[str, str] = {}

    # -- handshake ---------------------------------------------------------------------------

    def read_request(self, wait: float) -> None:
        """Read the client's upgrade request into `request_line` and `request_headers`."""
        head = self._read_until(b"\r\n\r\n", wait).decode("latin-1")
        lines = head.split("\r\n")
        self.request_line = lines[0]
        for line in lines[1:]:
            if line:
                name, _, value = line.partition(":")
                self.request_headers[name.strip().lower()] = value.strip()

    def respond(self, protocol: str | None = None, extra: str = "") -> None:
        """Answer 101 with the right `Sec-WebSocket-Accept`; optionally choose a subprotocol."""
        key = self.request_headers["sec-websocket-key"]
        lines = [
            "HTTP/1.1 101 Switching Protocols",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Accept: {accept_key(key)}",
        ]
        if protocol is not None:
            lines.append(f"Sec-WebSocket-Protocol: {protocol}")
        self.sock.sendall(("\r\n".join(lines) + "\r\n" + extra + "\r\n").encode("latin-1"))

    # -- writing -----------------------------------------------------------------------------

    def send_frame(
        self,
        opcode: int,
        payload: bytes = b"",
        *,
        fin: bool = True,
        rsv: int = 0,
        mask: bool = False,
    ) -> None:
        """Write one frame, valid or not."""
        self.sock.sendall(encode_frame(opcode, payload, fin=fin, rsv=rsv, mask=mask))

    def send_close(self, code: int | None = 1000, reason: bytes = b"") -> None:
        """Write a Close frame; `code=None` sends one with no status."""
        self.send_frame(OP_CLOSE, b"" if code is None else close_payload(code, reason))

    def close_handshake(self, code: int | None = 1000, reason: bytes = b"") -> Frame:
        """Start the closing handshake: send Close, read the client's, close TCP (§7.1.1)."""
        self.send_close(code, reason)
        reply = self.recv_close()
        self.close()
        return reply

    # -- reading -----------------------------------------------------------------------------

    def recv_frame(self, wait: float | None = None) -> Frame:
        """Read the client's next frame; raise TimeoutError, or EOFError when it closed TCP."""
        deadline = time.monotonic() + (timeout() if wait is None else wait)
        first, second = self._read_exact(2, deadline)
        size = second & 0x7F
        if size == 126:
            size = struct.unpack("!H", self._read_exact(2, deadline))[0]
        elif size == 127:
            size = struct.unpack("!Q", self._read_exact(8, deadline))[0]
        masked = bool(second & 0x80)
        key = self._read_exact(4, deadline) if masked else b""
        payload = self._read_exact(size, deadline)
        return Frame(
            fin=bool(first & 0x80),
            rsv=(first >> 4) & 0x7,
            opcode=first & 0xF,
            masked=masked,
            payload=_unmask(key, payload) if masked else payload,
        )

    def recv_until(self, opcode: int, wait: float | None = None) -> Frame:
        """Read frames until one with `opcode`, dropping the others."""
        deadline = time.monotonic() + (timeout() if wait is None else wait)
        while True:
            frame = self.recv_frame(max(0.0, deadline - time.monotonic()))
            if frame.opcode == opcode:
                return frame

    def recv_close(self, wait: float | None = None) -> Frame:
        """Read frames until the client's Close frame."""
        return self.recv_until(OP_CLOSE, wait)

    def wait_eof(self, wait: float | None = None) -> bool:
        """Read and drop bytes until the client closes TCP (True) or `wait` passes (False)."""
        deadline = time.monotonic() + (timeout() if wait is None else wait)
        while True:
            try:
                chunk = self._recv_some(deadline)
            except TimeoutError:
                return False
            except OSError:
                return True  # reset by the client: closed as well
            if not chunk:
                return True

    def close(self) -> None:
        """Close TCP (a FIN, no Close frame)."""
        self.sock.close()

    def reset(self) -> None:
        """Drop TCP with a RST (SO_LINGER 0), no Close frame."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()

    def _read_until(self, marker: bytes, wait: float) -> bytes:
        deadline = time.monotonic() + wait
        while marker not in self._buffer:
            chunk = self._recv_some(deadline)
            if not chunk:
                raise EOFError("client closed the connection during the handshake")
            self._buffer += chunk
        end = self._buffer.index(marker) + len(marker)
        head = bytes(self._buffer[:end])
        del self._buffer[:end]
        return head

    def _read_exact(self, size: int, deadline: float) -> bytes:
        while len(self._buffer) < size:
            chunk = self._recv_some(deadline)
            if not chunk:
                raise EOFError(f"client closed TCP; wanted {size} bytes, have {len(self._buffer)}")
            self._buffer += chunk
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data

    def _recv_some(self, deadline: float) -> bytes:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("raw peer: nothing from the client in time")
        self.sock.settimeout(left)
        try:
            return self.sock.recv(65536)
        except TimeoutError:
            raise TimeoutError("raw peer: nothing from the client in time") from None


class RawPeer:
    """A listening socket on 127.0.0.1, port 0; close it (or use `with`) to free it."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._connections: list[PeerConnection] = []
        self.port: int = self._listener.getsockname()[1]

    @property
    def url(self) -> str:
        """The ws:// URL of this peer."""
        return f"ws://127.0.0.1:{self.port}/raw"

    def accept(
        self, *, protocol: str | None = None, handshake: bool = True, wait: float | None = None
    ) -> PeerConnection:
        """Take the next connection and, unless `handshake=False`, answer its upgrade with 101."""
        wait = timeout() if wait is None else wait
        self._listener.settimeout(wait)
        sock, _ = self._listener.accept()
        conn = PeerConnection(sock)
        self._connections.append(conn)
        if handshake:
            conn.read_request(wait)
            conn.respond(protocol)
        return conn

    def close(self) -> None:
        """Close the listener and every connection still open."""
        for conn in self._connections:
            conn.sock.close()
        self._listener.close()

    def __enter__(self) -> RawPeer:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()
