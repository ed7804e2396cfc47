"""The JSON report's event line as the generic walk writes it, for report_version 3: what
`json.dumps(to_jsonable(event))` writes, but for the event's own finite float fields, which are
written with `TIME_FORMAT` (to the nanosecond). Written apart from the encoders it checks."""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable
from typing import Any

from runner.events import Event
from runner.report.json_report import TIME_FORMAT, to_jsonable
from runner.report.payloads import PayloadWriter


def reference_line(event: Event, payload: Callable[[str | bytes], Any] | None = None) -> str:
    """`event`'s line: `json.dumps` of `to_jsonable`, each top-level finite float (class float)
    put in as ``TIME_FORMAT % value`` through a placeholder."""
    mapping = to_jsonable(event, payload or PayloadWriter())
    floats = {f.name: getattr(event, f.name) for f in dataclasses.fields(event)}
    return reference_json(mapping, [name for name, value in floats.items() if _is_time(value)])


def reference_json(mapping: dict[str, Any], names: list[str] | None = None) -> str:
    """`json.dumps(mapping)`, its top-level finite floats (those of `names`, if given) written
    with `TIME_FORMAT`: a step's entry in the summary is written so."""
    times = {}
    mapping = dict(mapping)
    for name in [n for n, v in mapping.items() if _is_time(v)] if names is None else names:
        token = f"\x00time{len(times)}\x00"
        times[json.dumps(token)] = TIME_FORMAT % mapping[name]
        mapping[name] = token
    text = json.dumps(mapping, ensure_ascii=False)
    for token, written in times.items():
        text = text.replace(token, written, 1)
    return text


def _is_time(value: object) -> bool:
    return value.__class__ is float and math.isfinite(value)  # type: ignore[arg-type]
