"""Plain-text pieces shared by the reporters: payload previews, durations, failure details."""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from typing import NamedTuple

from runner.events import Failure, Payload, TranscriptEntry

__all__ = [
    "ARROWS",
    "LatencyStats",
    "Line",
    "failure_lines",
    "format_duration",
    "latency_stats",
    "preview",
    "transcript_line",
    "wire_note",
]

#: The arrow shown for each transcript event: what happened, and in which direction.
ARROWS = {"sent": "→", "received": "←", "open": "●", "close": "■", "error": "✗", "refused": "●"}

_ESCAPES = str.maketrans({"\n": "\\n", "\r": "\\r", "\t": "\\t"})


def preview(data: Payload, limit: int | None = 80) -> str:
    """One line showing a payload; text as is, binary as hex; cut to `limit` characters."""
    if isinstance(data, bytes):
        head = data if limit is None else data[:limit]
        text, size = f"<{len(data)} bytes> {head.hex(' ')}", f"{len(data)} bytes"
    else:
        head_text = data if limit is None else data[: limit + 24]
        text, size = head_text.translate(_ESCAPES), f"{len(data)} chars"
    suffix = f"… ({size})"
    if limit is None or len(text) <= limit + len(suffix):  # cut only when it makes it shorter
        return text
    return f"{text[: max(8, limit - 1)]}{suffix}"


def format_duration(seconds: float) -> str:
    """A duration for people: ``0.42 ms``, ``12.3 ms``, ``1.23 s``."""
    if seconds < 0.001:
        return f"{seconds * 1000:.2f} ms"
    if seconds < 1:
        return f"{seconds * 1000:.1f} ms"
    return f"{seconds:.2f} s"


def wire_note(data: Payload, wire_size: int | None) -> str:
    """`` [1,200 → 41 B on the wire, 3%]`` for a compressed message (its size, its payload
    bytes on the wire, their ratio); "" when it went as it is (or its wire size is unknown)."""
    if wire_size is None:
        return ""
    size = len(data.encode("utf-8", "surrogatepass")) if isinstance(data, str) else len(data)
    if wire_size == size:
        return ""
    share = f", {wire_size / size:.0%}" if size else ""
    return f" [{size:,} → {wire_size:,} B on the wire{share}]"


def transcript_line(entry: TranscriptEntry, base: float, limit: int | None = 80) -> str:
    """``+0.101s bob ← received {...}``: one transcript entry, timed from `base`; a compressed
    message adds its size and wire size (`wire_note`)."""
    arrow = ARROWS.get(entry.event, "·")
    data = preview(entry.data, limit) if entry.data != "" else ""
    data += wire_note(entry.data, entry.wire_size)
    return f"+{entry.at - base:.3f}s {entry.conn} {arrow} {entry.event} {data}".rstrip()


class Line(NamedTuple):
    """A line of failure details, tagged with what it shows so the console can colour it."""

    tag: str  # message, info, removed, added, frame, trace
    text: str


def failure_lines(
    failure: Failure, base: float, limit: int | None = 500, frames: int | None = 120
) -> list[Line]:
    """The details of a failure, line by line (the console colours them, JUnit joins them).

    `limit` cuts the closest message, `frames` each line of the connection's last frames.
    """
    lines = [Line("message", failure.message)]
    if failure.location:
        lines.append(Line("info", f"at {failure.location}{_step_suffix(failure)}"))
    if failure.expected is not None:
        lines.append(Line("info", f"expected: {failure.expected}"))
    if failure.closest is not None:
        lines.append(Line("info", f"closest:  {preview(failure.closest, limit)}"))
    if failure.reason:
        lines.append(Line("info", f"          {failure.reason}"))
    if failure.diff:
        lines.append(Line("info", "diff (expected → closest):"))
        lines += [Line(_diff_tag(d), f"  {d}") for d in failure.diff.splitlines()]
    if failure.recent:
        lines.append(Line("info", f"last frames on {failure.conn or 'the connection'}:"))
        lines += [Line("frame", f"  {transcript_line(e, base, frames)}") for e in failure.recent]
    if failure.traceback:
        lines.append(Line("trace", "wsrun failed internally:"))
        lines += [Line("trace", f"  {t}") for t in failure.traceback.splitlines()]
    return lines


def _diff_tag(line: str) -> str:
    if line.startswith(("---", "+++")):
        return "info"
    return {"-": "removed", "+": "added"}.get(line[:1], "info")


def _step_suffix(failure: Failure) -> str:
    if failure.step is None:
        return ""
    on = f" on {failure.conn}" if failure.conn else ""
    return f" (step {failure.step + 1}, {failure.kind}{on})"


class LatencyStats:
    """Count, min, median, 95th percentile and max of latencies in seconds."""

    def __init__(self, values: Sequence[float]) -> None:
        ordered = sorted(values)
        self.count = len(ordered)
        self.min = ordered[0] if ordered else 0.0
        self.max = ordered[-1] if ordered else 0.0
        self.median = statistics.median(ordered) if ordered else 0.0
        self.p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))] if ordered else 0.0

    def as_dict(self) -> dict[str, float | int]:
        """The figures as a JSON-ready mapping (seconds)."""
        keys = ("count", "min", "median", "p95", "max")
        return {key: getattr(self, key) for key in keys}

    def __str__(self) -> str:
        figures = (self.min, self.median, self.p95, self.max)
        lo, med, p95, hi = (format_duration(f) for f in figures)
        return f"n={self.count}  min {lo} · median {med} · p95 {p95} · max {hi}"


def latency_stats(values: Iterable[float | None]) -> LatencyStats:
    """Statistics over the values that are not None."""
    return LatencyStats([v for v in values if v is not None])
