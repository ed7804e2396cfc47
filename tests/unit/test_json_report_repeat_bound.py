"""A long `repeat` in the JSON report: a scenario's `steps` holds its first `MAX_STEP_ENTRIES`
step results, ``steps_left_out`` counts the others (every one is in the events), and the
summary's latency figures count them all, in bounded memory (estimates past 20,000)."""

from __future__ import annotations

import copy
import json
import statistics
import tracemalloc
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from runner.events import RunEnded, ScenarioEnded, ScenarioStarted, Status, StepEnded
from runner.report.json_report import MAX_STEP_ENTRIES, JsonReporter
from runner.report.report_schema import report_json_schema
from runner.report.text import LATENCY_ERROR


def _expect(at: float, latency: float) -> StepEnded:
    return StepEnded(
        at=at,
        scenario=0,
        index=1,
        kind="expect",
        location="long.yaml:6:11",
        status=Status.PASSED,
        duration=latency,
        conn="default",
        latency=latency,
        latency_from_send=latency / 2,
    )


def _events_by_their_type(schema: dict[str, Any], first: str) -> dict[str, Any]:
    """The report's schema with its `Event` (a ``oneOf`` of one object per event type, each
    requiring its own ``type`` const) as the same rule checked by ``type`` first: an object
    whose ``type`` is one alternative's const, valid against that alternative (tried in turn,
    type `first` first). The two accept the same events (the other alternatives fail on their
    const anyway), but ``oneOf`` validates each event against every alternative: 40,000 events
    took ~48 s CPU to validate, this ~8 s."""
    schema = copy.deepcopy(schema)
    defs = schema["$defs"]
    (alternatives,) = defs["Event"].values()
    typed = []
    for alternative in alternatives:
        event = defs[alternative["$ref"].removeprefix("#/$defs/")]
        assert event["type"] == "object" and "type" in event["required"], event
        typed.append((event["properties"]["type"]["const"], alternative))
    consts = [const for const, _ in typed]
    assert len(set(consts)) == len(consts) and first in consts, consts
    typed.sort(key=lambda pair: pair[0] != first)
    rule: Any = False  # no alternative's type
    for const, alternative in reversed(typed):
        is_it = {"required": ["type"], "properties": {"type": {"const": const}}}
        rule = {"if": is_it, "then": alternative, "else": rule}
    defs["Event"] = {"type": "object", **rule}
    return schema


def test_a_scenario_keeps_its_first_step_entries_and_counts_the_others(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    reporter = JsonReporter(path)
    reporter(ScenarioStarted(at=0.0, scenario=0, name="long", file="long.yaml", line=1, steps=1))
    steps = MAX_STEP_ENTRIES + 30_000
    tracemalloc.start()
    try:
        for i in range(MAX_STEP_ENTRIES):
            reporter(_expect(i * 1e-4, (i % 100 + 1) / 1e4))
        early, _ = tracemalloc.get_traced_memory()
        for i in range(MAX_STEP_ENTRIES, steps):
            reporter(_expect(i * 1e-4, (i % 100 + 1) / 1e4))
        late, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # 30,000 entries more were ~7 MiB; their latencies went from arrays to the histogram.
    assert late - early < 512 * 1024, f"{late - early:,} bytes for 30,000 steps more"
    reporter(
        ScenarioEnded(
            at=5.0,
            scenario=0,
            name="long",
            status=Status.PASSED,
            duration=5.0,
            steps_passed=1,
            steps_total=1,
        )
    )
    reporter(RunEnded(at=5.0, status=Status.PASSED, duration=5.0, counts={"passed": 1}))
    reporter.close()
    report = json.loads(path.read_text(encoding="utf-8"))
    (scenario,) = report["scenarios"]
    assert len(scenario["steps"]) == MAX_STEP_ENTRIES
    assert scenario["steps_left_out"] == 30_000
    assert scenario["steps"][0]["latency"] == 1e-4
    ended = [e for e in report["events"] if e["type"] == "step_ended"]
    assert len(ended) == steps
    latency = report["latency"]["from_step_start"]
    assert latency["count"] == steps and latency["estimated"] is True
    exact = statistics.median((i % 100 + 1) / 1e4 for i in range(steps))  # 5.05 ms
    assert abs(latency["median"] - exact) <= exact * LATENCY_ERROR
    assert report["latency"]["from_last_send"]["count"] == steps
    assert report_json_schema()["$defs"]["Event"].keys() == {"oneOf"}
    by_type = _events_by_their_type(report_json_schema(), "step_ended")
    jsonschema.validate(report, by_type)
    (run_ended,) = (e for e in report["events"] if e["type"] == "run_ended")
    no_status = {key: value for key, value in run_ended.items() if key != "status"}
    broken_events: list[Any] = [
        {**ended[0], "index": 0},
        {**ended[0], "type": "x"},
        no_status,
        {},
        [],
    ]
    for broken in broken_events:
        with pytest.raises(jsonschema.ValidationError):  # as the oneOf refuses them
            jsonschema.validate(dict(report, events=[broken]), by_type)
    schema = report_json_schema()["properties"]
    assert "steps_left_out" in schema["scenarios"]["items"]["properties"]
    assert "estimated" in schema["latency"]["properties"]["from_step_start"]["properties"]


def test_a_short_scenario_says_nothing_left_out(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    reporter = JsonReporter(path)
    for i in range(3):
        reporter(_expect(i, 0.001))
    reporter(
        ScenarioEnded(
            at=5.0,
            scenario=0,
            name="s",
            status=Status.PASSED,
            duration=5.0,
            steps_passed=3,
            steps_total=3,
        )
    )
    reporter.close()
    report = json.loads(path.read_text(encoding="utf-8"))
    (scenario,) = report["scenarios"]
    assert len(scenario["steps"]) == 3 and "steps_left_out" not in scenario
    assert report["latency"]["from_step_start"]["estimated"] is False
