"""The JSON report: every event, with timing and results; its schema is `REPORT_SCHEMA`.

Text payloads are JSON strings; binary payloads are ``{"base64": "..."}``; beyond
`MAX_REPORT_PAYLOAD` either is cut, with its length and SHA-256 (`runner.report.payloads`).
Events are written one per line, as they are serialized, so that the report's text is the
only copy of a run's events in memory as it is written. Steps are numbered
from 1, as the console numbers them (`failure.step`, the `index` of steps and step events). The
report is written atomically when the reporter is closed, which the CLI does even after a
failure or Ctrl-C.
"""

from __future__ import annotations

import dataclasses
import json
import os
import types
import typing
from collections.abc import Callable
from enum import Enum
from typing import Any

from runner.events import (
    Event,
    Failure,
    RunEnded,
    RunStarted,
    ScenarioEnded,
    ScenarioStarted,
    ServiceOutput,
    ServiceStarted,
    ServiceStopped,
    Status,
    StepEnded,
    StepStarted,
)
from runner.report.files import write_atomically
from runner.report.payloads import PayloadWriter, cut_payload
from runner.report.text import latency_stats

__all__ = ["REPORT_VERSION", "JsonReporter", "to_jsonable"]

#: Bumped when the report's shape changes incompatibly.
REPORT_VERSION = 1


def to_jsonable(value: object, payload: Callable[[str | bytes], Any] = cut_payload) -> Any:
    """Turn events and their fields into JSON values (bytes become ``{"base64": ...}``);
    `payload` writes the messages' payloads (cut beyond `MAX_REPORT_PAYLOAD`)."""
    if isinstance(value, Event):
        return {"type": value.type, **_fields(value, payload)}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _fields(value, payload)
    if isinstance(value, bytes):
        return payload(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (list, tuple)):
        return [to_jsonable(item, payload) for item in value]
    if isinstance(value, dict):
        return {str(key): to_jsonable(item, payload) for key, item in value.items()}
    return value


def _fields(value: Any, payload: Callable[[str | bytes], Any]) -> dict[str, Any]:
    payloads = _payload_fields(type(value))
    fields = {}
    for f in dataclasses.fields(value):
        item = getattr(value, f.name)
        if f.name in payloads and isinstance(item, str):
            fields[f.name] = payload(item)
        else:
            fields[f.name] = to_jsonable(item, payload)
    counted = _STEP_NUMBERS.get(type(value))
    if counted is not None and fields[counted] is not None:
        fields[counted] += 1  # the events count steps from 0; the report, like the console, from 1
    return fields


#: The fields that hold a step's position: the report shows them counted from 1.
_STEP_NUMBERS: dict[type, str] = {Failure: "step", StepStarted: "index", StepEnded: "index"}

_PAYLOAD_FIELDS: dict[type, frozenset[str]] = {}


def _payload_fields(cls: type) -> frozenset[str]:
    """The fields of `cls` that hold a message (typed str | bytes): they may be cut."""
    names = _PAYLOAD_FIELDS.get(cls)
    if names is None:
        hints = typing.get_type_hints(cls)
        names = frozenset(
            f.name for f in dataclasses.fields(cls) if {str, bytes} <= set(_options(hints[f.name]))
        )
        _PAYLOAD_FIELDS[cls] = names
    return names


def _options(hint: Any) -> tuple[Any, ...]:
    union = typing.get_origin(hint) in (typing.Union, types.UnionType)
    return typing.get_args(hint) if union else (hint,)


class JsonReporter:
    """Collects every event and writes the JSON report to `path` on `close()`."""

    def __init__(
        self, path: str | os.PathLike[str], redact: Callable[[str], str] | None = None
    ) -> None:
        self.path = path
        self._redact = redact  # applied to the report's text (`runner.report.redaction`)
        self._events: list[Event] = []

    def __call__(self, event: Event) -> None:
        """Keep one event (an `EventBus` listener)."""
        self._events.append(event)

    def report(self) -> dict[str, Any]:
        """The report as a JSON-ready mapping, built from the events seen so far."""
        payload = PayloadWriter()
        events = [to_jsonable(e, payload) for e in self._events]
        return self._summary(payload) | {"events": events}

    def _summary(self, payload: PayloadWriter) -> dict[str, Any]:
        """Everything in the report but its events."""
        started = next((e for e in self._events if isinstance(e, RunStarted)), None)
        ended = next((e for e in self._events if isinstance(e, RunEnded)), None)
        return {
            "report_version": REPORT_VERSION,
            "wsrun_version": started.version if started else None,
            "started_at": started.started_at if started else None,
            "status": (ended.status if ended else Status.INTERRUPTED).value,
            "duration": ended.duration if ended else self._last_at(),
            "counts": ended.counts if ended else {},
            "scenarios": self._scenarios(payload),
            "latency": self._latency(),
            "services": self._services(),
        }

    def close(self) -> None:
        """Write the report atomically: the summary, then the events one per line.

        Each piece is redacted and encoded on its own, and the bytes are joined once: the
        report never exists as text and as bytes at once.
        """
        payload = PayloadWriter()
        summary = json.dumps(self._summary(payload), indent=1, ensure_ascii=False)
        parts, separator = [self._encoded(summary[:-2] + ',\n "events": [')], b"\n  "
        for event in self._events:
            event_text = json.dumps(to_jsonable(event, payload), ensure_ascii=False)
            parts += (separator, self._encoded(event_text))
            separator = b",\n  "
        parts.append(b"\n ]\n}\n" if self._events else b"]\n}\n")
        write_atomically(self.path, b"".join(parts))

    def _encoded(self, text: str) -> bytes:
        if self._redact is not None:
            text = self._redact(text)
        return text.encode("utf-8")

    def _last_at(self) -> float:
        return self._events[-1].at if self._events else 0.0

    def _scenarios(self, payload: PayloadWriter) -> list[dict[str, Any]]:
        started = {e.scenario: e for e in self._events if isinstance(e, ScenarioStarted)}
        steps: dict[int, list[StepEnded]] = {}
        for event in self._events:
            if isinstance(event, StepEnded):
                steps.setdefault(event.scenario, []).append(event)
        ended = [e for e in self._events if isinstance(e, ScenarioEnded)]
        return [
            _scenario(e, started.get(e.scenario), steps.get(e.scenario, []), payload)
            for e in sorted(ended, key=lambda e: e.scenario)
        ]

    def _latency(self) -> dict[str, Any]:
        expects = [e for e in self._events if isinstance(e, StepEnded) and e.latency is not None]
        return {
            "from_step_start": latency_stats(e.latency for e in expects).as_dict(),
            "from_last_send": latency_stats(e.latency_from_send for e in expects).as_dict(),
        }

    def _services(self) -> list[dict[str, Any]]:
        services: dict[str, dict[str, Any]] = {}
        for event in self._events:
            if isinstance(event, ServiceStarted | ServiceOutput | ServiceStopped):
                entry = services.setdefault(event.service, {"name": event.service})
                entry.update(_service_fields(event))
        return list(services.values())


def _service_fields(event: ServiceStarted | ServiceOutput | ServiceStopped) -> dict[str, Any]:
    if isinstance(event, ServiceStarted):
        return {"provides": dict(event.provides)}
    return {"output": event.output}


def _scenario(
    ended: ScenarioEnded,
    started: ScenarioStarted | None,
    steps: list[StepEnded],
    payload: PayloadWriter,
) -> dict[str, Any]:
    return {
        "index": ended.scenario,
        "name": ended.name,
        "file": started.file if started else None,
        "line": started.line if started else None,
        "status": ended.status.value,
        "duration": ended.duration,
        "steps_passed": ended.steps_passed,
        "steps_total": ended.steps_total,
        "steps": [_step(s) for s in steps],
        "failure": to_jsonable(ended.failure, payload),
        "unexpected": to_jsonable(ended.unexpected, payload),
    }


def _step(step: StepEnded) -> dict[str, Any]:
    keys = ("kind", "location", "status", "duration", "conn", "latency")
    return (
        {"index": step.index + 1}
        | {key: to_jsonable(getattr(step, key)) for key in keys}
        | {"latency_from_send": step.latency_from_send}
    )
