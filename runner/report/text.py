"""Plain-text pieces shared by the reporters: payload previews, durations, failure details."""

from __future__ import annotations

import math
import statistics
from array import array
from collections.abc import Iterable, Sequence
from typing import NamedTuple

from runner.events import Failure, Payload, TranscriptEntry

__all__ = [
    "ARROWS",
    "EXACT_LATENCIES",
    "LATENCY_ERROR",
    "LatencyRecorder",
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


#: How many latencies a `LatencyRecorder` keeps as they are: up to this count its median and
#: p95 are exact; beyond it they come from its histogram (`LatencyStats.estimated`).
EXACT_LATENCIES = 20_000

#: The histogram's bands per power of two: a band spans 1/128 of its lower edge, and a figure
#: read from it (the band's middle) is within `LATENCY_ERROR` of the true value.
_BANDS = 128
LATENCY_ERROR = 1 / (2 * _BANDS)


class LatencyRecorder:
    """Latencies (seconds) in bounded memory: each kept as it is up to `EXACT_LATENCIES`
    (8 bytes each), then all of them counted in a log-linear histogram of at most a few
    thousand bands (128 per power of two), whatever the count. Count, min and max stay exact;
    the median and p95 are exact up to `exact` values, then estimates within `LATENCY_ERROR`
    (0.4%) of the value the sorted list would give."""

    __slots__ = ("_bands", "_exact", "_limit", "count", "max", "min")

    def __init__(self, exact: int = EXACT_LATENCIES) -> None:
        self._limit = exact
        self._exact: array[float] | None = array("d")
        self._bands: dict[int, int] = {}
        self.count = 0
        self.min = math.inf
        self.max = -math.inf

    def add(self, value: float) -> None:
        """Record one latency."""
        self.count += 1
        if value < self.min:
            self.min = value
        if value > self.max:
            self.max = value
        exact = self._exact
        if exact is None:
            self._band(value)
        elif len(exact) < self._limit:
            exact.append(value)
        else:  # the exact values are done: from now on, all of them are in the histogram
            for kept in exact:
                self._band(kept)
            self._exact = None
            self._band(value)

    def extend(self, values: array[float]) -> None:
        """Record many latencies, what `add` of each records: while they all stay exact, in a
        few C calls (a reporter that takes them in batches: no Python call a value)."""
        if not values:
            return
        exact = self._exact
        if exact is None or len(exact) + len(values) > self._limit:
            for value in values:
                self.add(value)
            return
        exact.extend(values)
        self.count += len(values)
        low, high = min(values), max(values)
        if low < self.min:
            self.min = low
        if high > self.max:
            self.max = high

    def _band(self, value: float) -> None:
        if value > 0.0:
            mantissa, exponent = math.frexp(value)  # value = mantissa * 2**exponent, 0.5 <= m < 1
            key = exponent * _BANDS + int((mantissa - 0.5) * 2 * _BANDS)
        else:
            key = _ZERO  # zero (or a clock that went back): its own band
        bands = self._bands
        bands[key] = bands.get(key, 0) + 1

    @property
    def estimated(self) -> bool:
        """Whether the median and p95 come from the histogram (more than `exact` values)."""
        return self._exact is None

    def stats(self) -> LatencyStats:
        """The figures so far."""
        if self._exact is not None:
            return LatencyStats(self._exact)
        return LatencyStats.of_bands(self.count, self.min, self.max, self._bands)


_ZERO = -(2**62)


def _band_middle(key: int) -> float:
    if key == _ZERO:
        return 0.0
    exponent, band = divmod(key, _BANDS)
    return math.ldexp(0.5 + (band + 0.5) / (2 * _BANDS), exponent)


class LatencyStats:
    """Count, min, median, 95th percentile and max of latencies in seconds; `estimated` when
    the median and p95 come from a `LatencyRecorder`'s histogram (within `LATENCY_ERROR`)."""

    estimated = False

    def __init__(self, values: Sequence[float]) -> None:
        ordered = sorted(values)
        self.count = len(ordered)
        self.min = ordered[0] if ordered else 0.0
        self.max = ordered[-1] if ordered else 0.0
        self.median = statistics.median(ordered) if ordered else 0.0
        self.p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))] if ordered else 0.0

    @classmethod
    def of_bands(cls, count: int, low: float, high: float, bands: dict[int, int]) -> LatencyStats:
        """The figures of a histogram: each percentile is the middle of the band its rank
        falls in (as `__init__` ranks the sorted values), kept within [min, max]."""
        stats = cls.__new__(cls)
        stats.count, stats.min, stats.max, stats.estimated = count, low, high, True
        wanted = {"p95": min(count - 1, int(0.95 * count))}
        middle = (count - 1) // 2, count // 2  # the median of an even count: two values
        ranks = sorted({*middle, *wanted.values()})
        found: dict[int, float] = {}
        seen, keys = 0, iter(sorted(bands))
        key = 0
        for rank in ranks:
            while seen <= rank:
                key = next(keys)
                seen += bands[key]
            found[rank] = min(high, max(low, _band_middle(key)))
        stats.median = (found[middle[0]] + found[middle[1]]) / 2
        stats.p95 = found[wanted["p95"]]
        return stats

    def as_dict(self) -> dict[str, float | int | bool]:
        """The figures as a JSON-ready mapping (seconds); ``estimated`` says whether the
        median and p95 come from a histogram (within 0.4%) rather than every value."""
        keys = ("count", "min", "median", "p95", "max", "estimated")
        return {key: getattr(self, key) for key in keys}

    def __str__(self) -> str:
        figures = (self.min, self.median, self.p95, self.max)
        lo, med, p95, hi = (format_duration(f) for f in figures)
        about = "≈" if self.estimated else ""
        text = f"n={self.count}  min {lo} · median {about}{med} · p95 {about}{p95} · max {hi}"
        if self.estimated:
            text += f"  (≈: from a histogram, within {LATENCY_ERROR:.1%})"
        return text


def latency_stats(values: Iterable[float | None] | LatencyRecorder) -> LatencyStats:
    """Statistics over the values that are not None (or a recorder's)."""
    if isinstance(values, LatencyRecorder):
        return values.stats()
    return LatencyStats([v for v in values if v is not None])
