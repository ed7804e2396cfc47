"""The JSON Schema of the JSON report, derived from the event dataclasses' type hints.

Deriving it keeps it honest: a new event field shows up in the schema without anyone editing
it. ``schemas/report.schema.json`` is this schema, written by `write_report_schema`; a test
checks that the committed file is fresh and that real reports validate against it.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from enum import Enum
from pathlib import Path
from typing import Any

from runner import events
from runner.report.files import write_atomically
from runner.report.json_report import REPORT_VERSION
from runner.report.payloads import MAX_REPORT_PAYLOAD

__all__ = ["REPORT_SCHEMA_FILE", "report_json_schema", "write_report_schema"]

REPORT_SCHEMA_FILE = "report.schema.json"

_EVENTS = [
    cls
    for name in events.__all__
    if isinstance(cls := getattr(events, name), type)
    and issubclass(cls, events.Event)
    and cls is not events.Event
    and cls is not events.StepStarted  # no line of its own: its step_ended line holds it
]
_NUMBER = {"type": "number"}
_STATUS = {"enum": [s.value for s in events.Status]}
_STATS = {
    "type": "object",
    "required": ["count", "min", "median", "p95", "max"],
    "properties": {
        **{k: _NUMBER for k in ("count", "min", "median", "p95", "max")},
        "estimated": {
            "type": "boolean",
            "description": "median and p95 from a histogram (over 20,000 values), within 0.4%",
        },
    },
}


def _type_schema(hint: Any) -> dict[str, Any]:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return _union(args)
    if origin is tuple or origin is list:
        return {"type": "array", "items": _type_schema(args[0])}
    if origin is dict:
        return {"type": "object", "additionalProperties": _type_schema(args[1])}
    if isinstance(hint, type) and issubclass(hint, Enum):
        return _STATUS
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return {"$ref": f"#/$defs/{hint.__name__}"}
    return _SCALARS[hint]


def _union(args: tuple[Any, ...]) -> dict[str, Any]:
    if set(args) == {str, bytes}:
        return {"$ref": "#/$defs/Payload"}
    return {"anyOf": [_type_schema(arg) for arg in args]}


_SCALARS: dict[Any, dict[str, Any]] = {
    str: {"type": "string"},
    int: {"type": "integer"},
    float: _NUMBER,
    bool: {"type": "boolean"},
    bytes: {"$ref": "#/$defs/Payload"},
    type(None): {"type": "null"},
    Any: {},  # a protocol's envelope: any JSON value
}


def _object_schema(cls: type, *, event: bool) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    fields = [f.name for f in dataclasses.fields(cls)]
    properties = {name: _type_schema(hints[name]) for name in fields}
    if event:
        properties = {"type": {"const": cls.type}, **properties}  # type: ignore[attr-defined]
    return {
        "type": "object",
        "description": (cls.__doc__ or "").strip().splitlines()[0],
        "required": list(properties),
        "properties": properties,
        "additionalProperties": False,
    }


def _defs() -> dict[str, Any]:
    cut = {
        "length": {"type": "integer", "description": "the whole payload's characters or bytes"},
        "sha256": {"type": "string", "description": "of the whole payload's (UTF-8) bytes"},
    }
    payload = {
        "description": "a text message as a string, a binary message as base64; beyond "
        f"{MAX_REPORT_PAYLOAD} characters or bytes, its beginning with its length and SHA-256",
        "anyOf": [
            {"type": "string"},
            {
                "type": "object",
                "required": ["base64"],
                "properties": {"base64": {"type": "string"}, **cut},
                "additionalProperties": False,
            },
            {
                "type": "object",
                "required": ["text", "length", "sha256"],
                "properties": {"text": {"type": "string"}, **cut},
                "additionalProperties": False,
            },
        ],
    }
    defs: dict[str, Any] = {"Payload": payload}
    for part in (events.Failure, events.TranscriptEntry, events.Unexpected, events.Traffic):
        defs[part.__name__] = _object_schema(part, event=False)
    for cls in _EVENTS:
        defs[cls.__name__] = _object_schema(cls, event=True)
    defs["Event"] = {"oneOf": [{"$ref": f"#/$defs/{cls.__name__}"} for cls in _EVENTS]}
    _number_steps_from_one(defs)
    return defs


#: The report counts steps from 1, as the console does (the events count them from 0).
_STEP_NUMBER = {"minimum": 1, "description": "the step's number, from 1 (as in the console)"}


def _number_steps_from_one(defs: dict[str, Any]) -> None:
    defs["Failure"]["properties"]["step"] = {
        "anyOf": [{"type": "integer", **_STEP_NUMBER}, {"type": "null"}]
    }
    defs["StepEnded"]["properties"]["index"] = {"type": "integer", **_STEP_NUMBER}


def _step_schema() -> dict[str, Any]:
    nullable_number = {"type": ["number", "null"]}
    properties = {
        "index": {"type": "integer", **_STEP_NUMBER},
        "kind": {"type": "string"},
        "location": {"type": "string"},
        "status": _STATUS,
        "duration": _NUMBER,
        "conn": {"type": ["string", "null"]},
        "latency": nullable_number,
        "latency_from_send": nullable_number,
    }
    return {"type": "object", "required": list(properties), "properties": properties}


def _scenario_schema() -> dict[str, Any]:
    properties = {
        "index": {"type": "integer"},
        "name": {"type": "string"},
        "file": {"type": ["string", "null"]},
        "line": {"type": ["integer", "null"]},
        "status": _STATUS,
        "duration": _NUMBER,
        "steps_passed": {"type": "integer"},
        "steps_total": {"type": "integer"},
        "steps": {"type": "array", "items": _step_schema()},
        "failure": {"anyOf": [{"$ref": "#/$defs/Failure"}, {"type": "null"}]},
        "unexpected": {"type": "array", "items": {"$ref": "#/$defs/Unexpected"}},
    }
    left_out = {
        "type": "integer",
        "minimum": 1,
        "description": "the steps past the first 10,000 (a long repeat's): in `events` only",
    }
    return {
        "type": "object",
        "required": list(properties),
        "properties": {**properties, "steps_left_out": left_out},
    }


def report_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of the report `JsonReporter` writes."""
    service = {
        "type": "object",
        "required": ["name"],
        "properties": {
            "name": {"type": "string"},
            "provides": {"type": "object", "additionalProperties": {"type": "string"}},
            "output": {"type": "string"},
        },
    }
    properties: dict[str, Any] = {
        "report_version": {"const": REPORT_VERSION},
        "wsrun_version": {"type": ["string", "null"]},
        "started_at": {"type": ["string", "null"], "description": "ISO 8601, wall clock"},
        "status": _STATUS,
        "duration": _NUMBER,
        "counts": {"type": "object", "additionalProperties": {"type": "integer"}},
        "scenarios": {"type": "array", "items": _scenario_schema()},
        "latency": {
            "type": "object",
            "required": ["from_step_start", "from_last_send"],
            "properties": {"from_step_start": _STATS, "from_last_send": _STATS},
        },
        "services": {"type": "array", "items": service},
        "events": {"type": "array", "items": {"$ref": "#/$defs/Event"}},
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://wsrun.invalid/schemas/report.schema.json",
        "title": "wsrun JSON report",
        "description": "Every event of a wsrun run, with timing and results (--json-report).",
        "type": "object",
        "required": list(properties),
        "properties": properties,
        "additionalProperties": False,
        "$defs": _defs(),
    }


def write_report_schema(folder: str | Path) -> Path:
    """Write ``report.schema.json`` into `folder`; return its path."""
    path = Path(folder) / REPORT_SCHEMA_FILE
    text = json.dumps(report_json_schema(), indent=2, ensure_ascii=False) + "\n"
    write_atomically(path, text.encode("utf-8"))
    return path
