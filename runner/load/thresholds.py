"""``--threshold`` rules: ``[TYPE:]METRIC<VALUE`` over a load test's stats.

``expect:p95<150ms`` holds when the 95th percentile of every EXPECT request's response time is
under 150 ms; ``errors<1%`` when under 1% of all requests failed. METRIC is ``pN`` (a
percentile: p50, p95, p99.9), ``avg``, ``max`` (durations: ``ms``, ``s``) or ``errors`` (a
percentage); the operator ``<`` or ``<=``; TYPE a request type (a step kind: connect, send,
expect...), all of them when left out. Locust-free: stats come in through `Measured`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Measured", "Threshold", "ThresholdError", "parse_threshold"]

_RULE = re.compile(
    r"^\s*(?:(?P<type>[A-Za-z][\w ]*?)\s*:)?\s*(?P<metric>p\d+(?:\.\d+)?|avg|max|errors)\s*"
    r"(?P<op><=|<)\s*(?P<value>\d+(?:\.\d+)?)\s*(?P<unit>ms|s|%)?\s*$"
)


class ThresholdError(ValueError):
    """A ``--threshold`` that cannot be read; the message says why."""


@dataclass(frozen=True)
class Measured:
    """What a threshold is checked against: the merged stats of the requests it selects."""

    requests: int
    failures: int
    percentile: Callable[[float], float]  # the response time (ms) at a fraction
    avg: float = 0.0
    max: float = 0.0


@dataclass(frozen=True)
class Threshold:
    """One rule: `kind` (None: every request), `metric`, `inclusive` (``<=``), `limit` (ms,
    or a fraction for errors)."""

    text: str
    kind: str | None
    metric: str
    inclusive: bool
    limit: float

    def check(self, measured: Measured) -> tuple[bool, str]:
        """Whether it holds, and what was measured, for a person."""
        what = f"{self.kind} requests" if self.kind else "requests"
        if measured.requests == 0:
            return False, f"no {what} were made"
        if self.metric == "errors":
            value = measured.failures / measured.requests
            shown = f"{value:.2%} ({measured.failures} of {measured.requests} {what} failed)"
        else:
            value = self._time(measured)
            shown = f"{value:g}ms over {measured.requests} {what}"
        held = value <= self.limit if self.inclusive else value < self.limit
        return held, shown

    def _time(self, measured: Measured) -> float:
        if self.metric == "avg":
            return measured.avg
        if self.metric == "max":
            return measured.max
        fraction = float(self.metric[1:]) / 100
        return float(measured.percentile(fraction))


def parse_threshold(text: str) -> Threshold:
    """Read one ``--threshold``.

    Raises:
        ThresholdError: it is not ``[TYPE:]METRIC<VALUE``, or its unit does not fit the metric.
    """
    match = _RULE.match(text)
    if match is None:
        raise ThresholdError(
            f"{text!r}: expected [TYPE:]METRIC<VALUE, e.g. 'expect:p95<150ms' or "
            "'errors<1%' (METRIC: pN, avg, max, errors)"
        )
    metric, unit, value = match["metric"], match["unit"], float(match["value"])
    if metric == "errors":
        if unit != "%":
            raise ThresholdError(f"{text!r}: errors take a percentage, e.g. 1%")
        limit = value / 100
    else:
        if unit not in ("ms", "s"):
            raise ThresholdError(f"{text!r}: {metric} takes a duration (ms or s)")
        if metric.startswith("p") and not 0 < float(metric[1:]) <= 100:
            raise ThresholdError(f"{text!r}: a percentile is above 0 and up to 100")
        limit = value * 1000 if unit == "s" else value
    kind = match["type"].strip().upper() if match["type"] else None
    return Threshold(text.strip(), kind, metric, match["op"] == "<=", limit)
