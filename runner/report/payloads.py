"""Payloads in the reports: whole up to `MAX_REPORT_PAYLOAD`, cut beyond it, with length and hash.

A message of 16 MiB shows up in a report in several places (its frame event, the failure's
closest message and transcript, the unexpected list): whole, each copy would cost its size again,
in memory while the report is built and on disk. Beyond `MAX_REPORT_PAYLOAD` characters (text)
or bytes (binary) a payload is written as its first `MAX_REPORT_PAYLOAD` and, to tell it from
any other, its whole length and the SHA-256 of its bytes (of the UTF-8 encoding, for text):

- text: ``{"text": "<the first 65,536 characters>", "length": 16777216, "sha256": "<hex>"}``;
- binary: ``{"base64": "<the first 65,536 bytes>", "length": 16777216, "sha256": "<hex>"}``.

Each payload object is cut and hashed once per report, however many places show it.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

__all__ = ["MAX_REPORT_PAYLOAD", "PayloadWriter", "cut_payload"]

#: The longest payload a report holds whole: characters of text, bytes of binary (64 KiB).
MAX_REPORT_PAYLOAD = 64 * 1024


def cut_payload(data: str | bytes, limit: int = MAX_REPORT_PAYLOAD) -> Any:
    """`data` as a report writes it: a string, or ``{"base64"}``, cut past `limit`."""
    if isinstance(data, bytes):
        if len(data) <= limit:
            return {"base64": base64.b64encode(data).decode("ascii")}
        head = base64.b64encode(data[:limit]).decode("ascii")
        return {"base64": head, "length": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    if len(data) <= limit:
        return data
    digest = hashlib.sha256(data.encode("utf-8", "surrogatepass")).hexdigest()
    return {"text": data[:limit], "length": len(data), "sha256": digest}


class PayloadWriter:
    """`cut_payload` with a memory: a large payload met again (the same object) is not cut
    and hashed again. Holds the payloads it remembers: one per report, dropped with it."""

    def __init__(self, limit: int = MAX_REPORT_PAYLOAD) -> None:
        self.limit = limit
        self._cut: dict[int, tuple[str | bytes, Any]] = {}

    def __call__(self, data: str | bytes) -> Any:
        """`data` as the report writes it."""
        if len(data) <= self.limit:
            return cut_payload(data, self.limit)
        known = self._cut.get(id(data))
        if known is not None and known[0] is data:
            return known[1]
        written = cut_payload(data, self.limit)
        self._cut[id(data)] = (data, written)
        return written
