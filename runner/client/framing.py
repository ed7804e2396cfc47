"""Frames: outgoing ones masked in C, incoming ones checked for size before they are read.

websocket-client masks payloads in pure Python (about 5 ms per MiB on this kind of machine);
the `websockets` package, already a dependency, ships a C `apply_mask` that gives the same bytes
about 100x faster. RFC 6455 §5.3: every frame a client sends is masked with a fresh key.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import websocket
from websocket._abnf import frame_buffer

from runner.client.protocol import MESSAGE_TOO_BIG, ProtocolViolation

__all__ = ["BoundedFrameBuffer", "PreparedMessage", "make_frame"]


def _c_masker() -> Callable[[bytes, bytes], bytes] | None:
    """`websockets.speedups.apply_mask`, loaded from its file without importing the
    `websockets` package: its ``__init__`` imports `importlib.metadata` for its version, about
    a tenth of a ``wsrun run``'s start-up, and the client needs only this one C function.
    None where the C extension was not built (websocket-client's masker is kept then)."""
    import importlib.machinery
    import importlib.util
    import os

    package = importlib.machinery.PathFinder.find_spec("websockets")
    for folder in (package.submodule_search_locations or []) if package else []:
        for suffix in importlib.machinery.EXTENSION_SUFFIXES:
            path = os.path.join(folder, "speedups" + suffix)
            if not os.path.isfile(path):
                continue
            loader = importlib.machinery.ExtensionFileLoader("websockets.speedups", path)
            spec = importlib.util.spec_from_file_location(
                "websockets.speedups", path, loader=loader
            )
            if spec is None:
                continue
            try:
                module = importlib.util.module_from_spec(spec)
                loader.exec_module(module)
            except ImportError:
                continue
            mask: Callable[[bytes, bytes], bytes] = module.apply_mask
            return mask
    return None


_apply_mask = _c_masker()


class _CMaskedFrame(websocket.ABNF):
    """A frame whose payload is masked by `websockets.speedups.apply_mask`."""

    def _get_masked(self, mask_key: str | bytes) -> bytes:
        assert _apply_mask is not None
        key = mask_key.encode("latin-1") if isinstance(mask_key, str) else mask_key
        data = self.data.encode("utf-8") if isinstance(self.data, str) else self.data
        return key + _apply_mask(data, key)


def make_frame(payload: bytes, opcode: int, rsv1: int = 0) -> Any:
    """One final (FIN) frame carrying `payload`, to be masked when it is formatted; `rsv1` marks
    a compressed message (RFC 7692 §6)."""
    frame_class = _CMaskedFrame if _apply_mask is not None else websocket.ABNF
    return frame_class(fin=1, rsv1=rsv1, opcode=opcode, data=payload)


class PreparedMessage:
    """One message framed ahead of its write: compressed (with permessage-deflate), masked and
    formatted by `WebSocket.prepare`, written as these exact bytes by `WebSocket.send`.

    Attributes:
        size: the message's bytes (text in UTF-8).
        wire_size: its payload bytes on the wire: `size` uncompressed, less when compressed.
        compressed: whether the payload was deflated (RSV1 set).
        frame: the whole frame as it will be written (header, mask key, masked payload).
    """

    __slots__ = ("_owner", "_turn", "compressed", "frame", "sent", "size", "wire_size")

    def __init__(
        self, frame: bytes, size: int, wire_size: int, compressed: bool, owner: object, turn: int
    ) -> None:
        self.frame = frame
        self.size = size
        self.wire_size = wire_size
        self.compressed = compressed
        self.sent = False  # set when its write was attempted: a prepared message goes out once
        self._owner = owner  # the transport (connection) that framed it
        self._turn = turn  # its place in the compression order (0: any order)

    def __repr__(self) -> str:
        return f"PreparedMessage(size={self.size}, wire_size={self.wire_size})"


_NO_RSV = (0, 0, 0)


class BoundedFrameBuffer(frame_buffer):
    """websocket-client's frame reader, failing with 1009 as soon as a frame's header announces
    more than `limit` bytes, instead of reading (and holding) the whole payload first.

    Its `recv` may return more bytes than asked for (`transport._receiver` takes what has
    arrived in one read): websocket-client's `recv_strict` keeps the rest in `recv_buffer` for
    the next frame, and `pending` says when some is there.
    """

    def __init__(self, recv: Callable[[int], bytes], limit: int) -> None:
        super().__init__(recv, skip_utf8_validation=True)
        self._limit = limit
        self._rsv = _NO_RSV

    def recv_header(self) -> None:
        # websocket-client's `ABNF.validate` refuses any RSV bit ("rsv is not implemented, yet"):
        # hide them from it, and hand them back on the frame for `deflate.check_rsv` to judge.
        super().recv_header()
        header = self.header
        assert header is not None
        if header[1] or header[2] or header[3]:  # rare: frames without RSV bits skip this
            fin, rsv1, rsv2, rsv3, *rest = header
            self._rsv = (rsv1, rsv2, rsv3)
            self.header = (fin, 0, 0, 0, *rest)
        else:
            self._rsv = _NO_RSV

    def recv_frame(self) -> Any:
        frame = super().recv_frame()
        if self._rsv is not _NO_RSV:
            frame.rsv1, frame.rsv2, frame.rsv3 = self._rsv
        return frame

    def pending(self) -> bool:
        """Whether bytes read from the socket wait here for the next frame (a read takes what
        has arrived, often several frames: the receive loop must not wait for the socket)."""
        return any(self.recv_buffer)

    def discard(self) -> None:
        """Drop the bytes read ahead (no frame will be parsed from them any more)."""
        self.recv_buffer = []

    def recv_length(self) -> None:
        super().recv_length()
        if self._limit and self.length is not None and self.length > self._limit:
            raise ProtocolViolation(
                MESSAGE_TOO_BIG,
                f"frame of {self.length} bytes over the {self._limit}-byte limit (maxMessageSize)",
                drain=False,
            )
