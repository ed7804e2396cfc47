"""`LatencyRecorder`: latencies in bounded memory, exact figures up to `EXACT_LATENCIES`, then
estimates from a log-linear histogram within `LATENCY_ERROR`, marked as estimates."""

from __future__ import annotations

import random
import tracemalloc

from runner.report.text import (
    EXACT_LATENCIES,
    LATENCY_ERROR,
    LatencyRecorder,
    LatencyStats,
    latency_stats,
)


def _recorded(values: list[float], exact: int = EXACT_LATENCIES) -> LatencyRecorder:
    recorder = LatencyRecorder(exact)
    for value in values:
        recorder.add(value)
    return recorder


def test_up_to_its_limit_the_figures_are_exact() -> None:
    rng = random.Random(7)
    values = [rng.lognormvariate(-9, 1.2) for _ in range(EXACT_LATENCIES)]
    stats = latency_stats(_recorded(values))
    exact = LatencyStats(values)
    assert not stats.estimated
    assert stats.as_dict() == exact.as_dict()
    assert stats.as_dict()["estimated"] is False
    assert "≈" not in str(stats)


def test_beyond_it_median_and_p95_are_estimates_within_the_stated_error() -> None:
    rng = random.Random(8)
    for count in (EXACT_LATENCIES + 1, 120_001):
        values = [rng.lognormvariate(-9, 1.5) for _ in range(count)]
        stats, exact = _recorded(values).stats(), LatencyStats(values)
        assert stats.estimated and stats.as_dict()["estimated"] is True
        assert (stats.count, stats.min, stats.max) == (exact.count, exact.min, exact.max)
        for name in ("median", "p95"):
            got, want = getattr(stats, name), getattr(exact, name)
            assert abs(got - want) <= LATENCY_ERROR * want, (count, name, got, want)
        assert "median ≈" in str(stats) and "(≈: from a histogram, within 0.4%)" in str(stats)


def test_odd_values_and_small_limits() -> None:
    stats = _recorded([0.0, 0.0, 0.002, 0.001], exact=1).stats()
    assert stats.estimated
    assert (stats.min, stats.max, stats.count) == (0.0, 0.002, 4)
    assert abs(stats.median - 0.0005) <= 0.0005 * LATENCY_ERROR  # (0 + 0.001) / 2
    assert abs(stats.p95 - 0.002) <= 0.002 * LATENCY_ERROR
    assert LatencyRecorder().stats().as_dict() == {
        "count": 0,
        "min": 0.0,
        "median": 0.0,
        "p95": 0.0,
        "max": 0.0,
        "estimated": False,
    }


def test_its_memory_is_bounded_whatever_the_count() -> None:
    """A million latencies from 10 us to 10 s: the recorder holds at most 128 bands per power
    of two (2,560 here, a dict of ~200 KiB at most), where an array of them all is 8 MB."""
    recorder = LatencyRecorder()
    rng = random.Random(9)
    values = [10 ** rng.uniform(-5, 1) for _ in range(1_000_000)]
    tracemalloc.start()
    try:
        for value in values[:100_000]:
            recorder.add(value)
        early, _ = tracemalloc.get_traced_memory()
        for value in values[100_000:]:
            recorder.add(value)
        late, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert late - early < 256 * 1024, f"{late - early:,} bytes for 900,000 more latencies"
    assert recorder.stats().count == 1_000_000
