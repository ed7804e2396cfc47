"""bench_scale's latency figure with all connections open: which round trips it counts."""

from __future__ import annotations

from typing import Any

from bench.bench_scale import all_open_latencies, percentile


def _step(at: float, latency: float | None) -> dict[str, Any]:
    return {"type": "step_ended", "at": at, "latency_from_send": latency}


def test_only_round_trips_sent_after_the_last_open_and_answered_before_the_first_close() -> None:
    report = {
        "events": [
            {"type": "connection_opened", "at": 0.1},
            _step(0.5, 0.3),  # sent at 0.2: before the last open
            {"type": "connection_opened", "at": 1.0},
            _step(1.05, 0.1),  # sent at 0.95: before the last open
            _step(1.2, 0.01),  # counted
            _step(1.3, None),  # not an expect
            _step(2.0, 0.002),  # counted
            {"type": "connection_closed", "at": 2.5},
            _step(2.6, 0.05),  # answered after the first close
            {"type": "connection_closed", "at": 3.0},
        ]
    }
    assert all_open_latencies(report) == [0.01, 0.002]
    assert all_open_latencies({"events": []}) == []


def test_percentile_is_the_reports_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.95) == 95.0
    assert percentile([3.0, 1.0, 2.0], 0.95) == 3.0
    assert percentile([7.0], 0.5) == 7.0
