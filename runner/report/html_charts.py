"""The HTML report's pictures, drawn as inline SVG: no script, no library, no network.

- `timeline_svg`: a scenario's sequence diagram. One lane per connection (its lifeline runs
  from open to close), one row per event in the order they happened: ``→`` sent, ``←``
  received, ``●`` open, ``■`` close, ``✗`` error, and each expect marked where it matched
  (``✓``) or failed (``✗``). Rows are spaced evenly, not by time: the time is written at the
  start of each row, so that a 2 s timeout does not push the rest off the page.
- `histogram_svg`: how many expects matched within each latency band (1-2-5 bands, log scale).
- `percentiles_svg`: p50, p95 and p99 of the slowest steps, one row per step.

Every text drawn comes through `esc`, so a payload can never be read as markup. A lane's
glyphs of one kind are one path, which keeps a 1,000-scenario page small and quick to open.
"""

from __future__ import annotations

import bisect
import html
import math
from collections.abc import Sequence
from typing import NamedTuple

from runner.report.text import format_duration

__all__ = [
    "Row",
    "StepLatency",
    "esc",
    "histogram_svg",
    "percentile",
    "percentiles_svg",
    "timeline_svg",
]

# C0 controls (but tab and newline), DEL and C1 controls: shown as \xNN, never passed through.
_CONTROLS = {c: f"\\x{c:02x}" for c in (*range(0x20), *range(0x7F, 0xA0)) if c not in (9, 10)}


def esc(value: object) -> str:
    """`value` as HTML (or SVG) element content: ``&``, ``<`` and ``>`` escaped, controls shown.

    Not for attribute values: the pages put only numbers and fixed words in attributes.
    """
    return html.escape(str(value).translate(_CONTROLS), quote=False)


#: How each glyph of the timeline is drawn at (0, y): path data, and its CSS class. A lane's
#: glyphs of one kind make one <path>: a thousand scenarios' timelines stay few elements.
_GLYPHS = {
    "sent": ("M-24 {y}h46m-8-4l8 4-8 4", "g-sent"),
    "received": ("M24 {y}h-46m8-4l-8 4 8 4", "g-received"),
    "open": ("M0 {y}h0", "g-open"),  # a dot: a round cap (CSS) on a line of no length
    "close": ("M0 {y}h0", "g-close"),  # a square cap
    "error": ("M-5 {top}l10 10m0-10l-10 10", "g-error"),
    "matched": ("M-6 {y}l4 4 8-9", "g-matched"),
    "failed": ("M-6 {top1}l12 12m0-12l-12 12", "g-failed"),
    "other": ("M-6 {y}h12", "g-other"),
    "reply": ("M20 {top2}h-40m6-4l-6 4 6 4M-20 {bottom2}h40m-6-4l6 4-6 4", "g-reply"),
}


class Row(NamedTuple):
    """One row of a timeline: when, on which connection, which glyph, and the text beside it.

    `glyph` is a key of `_GLYPHS`; `tone` the CSS class of the label:
    ``tx`` (sent), ``rx`` (received), ``un`` (received, never expected), ``ok``, ``no``
    (failed), ``in`` (information).
    """

    at: float
    conn: str
    glyph: str
    tone: str
    label: str


_TIME_W, _LANE_W, _ROW_H, _HEAD_H, _CHAR_W = 62, 64, 18, 22, 7.2


def timeline_svg(rows: Sequence[Row], conns: Sequence[str], base: float) -> str:
    """A sequence diagram of `rows` over the lanes `conns`; times are shown from `base`.

    Its parts are grouped (times, each lane's glyphs, labels), each group placed once, so that
    a row costs its y and its text: a thousand scenarios' timelines stay small.
    """
    lanes = {conn: _TIME_W + _LANE_W * i + _LANE_W // 2 for i, conn in enumerate(conns)}
    label_x = _TIME_W + _LANE_W * len(conns) + 8
    longest = max((len(row.label) for row in rows), default=0)
    width = label_x + int(longest * _CHAR_W) + 8
    height = _HEAD_H + _ROW_H * len(rows) + 6
    ys = [_HEAD_H + _ROW_H * i + _ROW_H // 2 for i in range(len(rows))]
    parts = [
        f'<svg class="timeline" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="timeline of {len(rows)} rows over {len(conns)} lanes">',
        *_lifelines(rows, lanes),
        *(
            f'<text x="{x}" y="14" class="lane">{esc(_short(c, 9))}</text>'
            for c, x in lanes.items()
        ),
        '<g class="t" transform="translate(2)"><text y="14">s</text>',
        *(f'<text y="{y + 4}">{row.at - base:.3f}</text>' for row, y in zip(rows, ys, strict=True)),
        "</g>",
    ]
    for conn, x in lanes.items():
        parts.append(f'<g transform="translate({x})">')
        parts += _glyphs(
            [(row.glyph, y) for row, y in zip(rows, ys, strict=True) if row.conn == conn]
        )
        parts.append("</g>")
    parts.append(f'<g transform="translate({label_x})">')
    parts += (
        f'<text y="{y + 4}" class="{row.tone}">{esc(row.label)}</text>'
        for row, y in zip(rows, ys, strict=True)
    )
    parts.append("</g></svg>")
    return "".join(parts)


def _glyphs(placed: Sequence[tuple[str, int]]) -> list[str]:
    """One <path> per kind of glyph, drawing that glyph at every y it is placed at."""
    data: dict[str, list[str]] = {}
    for glyph, y in placed:
        shape = _GLYPHS[glyph][0]
        data.setdefault(glyph, []).append(
            shape.format(y=y, top=y - 5, top1=y - 6, top2=y - 3, bottom2=y + 3)
        )
    return [f'<path d="{"".join(d)}" class="{_GLYPHS[glyph][1]}"/>' for glyph, d in data.items()]


def _lifelines(rows: Sequence[Row], lanes: dict[str, int]) -> list[str]:
    """Each connection's line, from its first row (the open) to its close or the end."""
    first: dict[str, int] = {}
    closed: dict[str, int | None] = {}
    for i, row in enumerate(rows):
        first.setdefault(row.conn, i)
        if row.glyph in ("close", "open"):
            closed[row.conn] = i if row.glyph == "close" else None
    lines = []
    for conn, start in first.items():
        end = closed.get(conn)
        y1 = _HEAD_H + _ROW_H * start + _ROW_H // 2
        y2 = _HEAD_H + _ROW_H * (len(rows) - 1 if end is None else end) + _ROW_H // 2
        lines.append(f'<path d="M{lanes[conn]} {y1}V{y2}" class="life"/>')
    return lines


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# Latency bands: 1-2-5 steps from 10 us to 100 s (seconds).
_BANDS = [m * 10.0**e for e in range(-5, 3) for m in (1, 2, 5)]


def histogram_svg(series: Sequence[tuple[str, Sequence[float]]]) -> str:
    """Grouped bars: for each latency band, how many values of each series fell in it."""
    values = [v for _, vs in series for v in vs]
    if not values:
        return '<p class="none">no expect latency was measured</p>'
    low = _band_index(min(values))
    high = _band_index(max(values))
    edges = _BANDS[low : high + 1]
    counts = [_bin(vs, edges) for _, vs in series]
    top = max(max(c) for c in counts) or 1
    bar_w, gap, plot_h, left, bottom = 12, 10, 140, 44, 36
    group_w = bar_w * len(series) + gap
    width = left + group_w * len(edges) + 10
    height = plot_h + bottom + 22
    parts = [
        f'<svg class="chart" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="histogram of expect latencies">'
    ]
    for tick in _ticks(top):
        y = 10 + plot_h - plot_h * tick / top
        parts.append(f'<path d="M{left} {y:.1f}H{width - 6}" class="grid"/>')
        parts.append(f'<text x="{left - 4}" y="{y + 4:.1f}" class="ax r">{tick}</text>')
    for b, edge in enumerate(edges):
        x0 = left + group_w * b + gap // 2
        for s, count in enumerate(counts):
            h = plot_h * count[b] / top
            parts.append(
                f'<rect x="{x0 + bar_w * s}" y="{10 + plot_h - h:.1f}" width="{bar_w - 1}" '
                f'height="{h:.1f}" class="bar s{s}"><title>{esc(series[s][0])}: {count[b]} '
                f"at {esc(_band_label(edge))} or more</title></rect>"
            )
        label_x = x0 + bar_w * len(series) // 2
        parts.append(
            f'<text x="{label_x}" y="{plot_h + 24}" class="ax c">{esc(_band_label(edge))}</text>'
        )
    parts.append(f'<text x="{left}" y="{height - 4}" class="ax">latency band (lower edge)</text>')
    parts += _legend([name for name, _ in series], width)
    parts.append("</svg>")
    return "".join(parts)


def _band_index(value: float) -> int:
    """The band `value` falls in: the last whose lower edge it reaches (the first if none)."""
    return max(0, bisect.bisect_right(_BANDS, value) - 1)


def _bin(values: Sequence[float], edges: Sequence[float]) -> list[int]:
    counts = [0] * len(edges)
    for value in values:
        counts[max(0, bisect.bisect_right(edges, value) - 1)] += 1
    return counts


def _band_label(seconds: float) -> str:
    if seconds < 0.001:
        return f"{seconds * 1e6:.0f}µs"
    if seconds < 1:
        return f"{seconds * 1e3:.0f}ms"
    return f"{seconds:.0f}s"


def _ticks(top: int) -> list[int]:
    step = max(1, 10 ** int(math.log10(top)) if top >= 10 else 1)
    while top / step > 5:
        step *= 2
    return list(range(0, top + 1, step))


def _legend(names: Sequence[str], width: int) -> list[str]:
    parts = []
    for s, name in enumerate(names):
        x = width - 170
        parts.append(f'<rect x="{x}" y="{4 + 14 * s}" width="10" height="10" class="bar s{s}"/>')
        parts.append(f'<text x="{x + 14}" y="{13 + 14 * s}" class="ax">{esc(name)}</text>')
    return parts


class StepLatency(NamedTuple):
    """The latencies of one step (a ``file:line:col``) over every time it ran."""

    location: str
    kind: str
    values: Sequence[float]


def percentile(ordered: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile of sorted values (`fraction` in 0..1)."""
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def percentiles_svg(steps: Sequence[StepLatency]) -> str:
    """One row per step: bars to its p50, p95 and p99 (one linear scale), with the figures."""
    if not steps:
        return '<p class="none">no expect latency was measured</p>'
    figures = []
    for step in steps:
        ordered = sorted(step.values)
        figures.append(tuple(percentile(ordered, f) for f in (0.5, 0.95, 0.99)))
    top = max(f[2] for f in figures) or 1.0
    label_w, plot_w, row_h = 330, 300, 30
    width = label_w + plot_w + 330
    height = row_h * len(steps) + 44
    parts = [
        f'<svg class="chart" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="p50, p95 and p99 latency per step">'
    ]
    for s, name in enumerate(("p99", "p95", "p50")):  # the legend, over the bars
        x = label_w + 60 * s
        parts.append(f'<rect x="{x}" y="4" width="10" height="10" class="bar p{s}"/>')
        parts.append(f'<text x="{x + 14}" y="13" class="ax">{name}</text>')
    for i, (step, (p50, p95, p99)) in enumerate(zip(steps, figures, strict=True)):
        y = 26 + row_h * i
        where = step.location if len(step.location) <= 40 else "…" + step.location[-39:]
        label = f"{where} {step.kind}, n={len(step.values)}"
        parts.append(f'<text x="0" y="{y + 15}" class="ax">{esc(label)}</text>')
        for s, value in enumerate((p99, p95, p50)):  # the longest under, the shortest on top
            w = max(1.0, plot_w * value / top)
            parts.append(
                f'<rect x="{label_w}" y="{y + 2 + 4 * s}" width="{w:.1f}" '
                f'height="{18 - 8 * s}" class="bar p{s}"/>'
            )
        text = (
            f"p50 {format_duration(p50)} · p95 {format_duration(p95)} · p99 {format_duration(p99)}"
        )
        parts.append(f'<text x="{label_w + plot_w + 6}" y="{y + 15}" class="ax">{esc(text)}</text>')
    parts.append("</svg>")
    return "".join(parts)
