"""The JSON report: every event, with timing and results; its schema is `REPORT_SCHEMA`.

Text payloads are JSON strings; binary payloads are ``{"base64": "..."}``; beyond
`MAX_REPORT_PAYLOAD` either is cut, with its length and SHA-256 (`runner.report.payloads`).
Events are written one per line, their times to the nanosecond (`TIME_FORMAT`, report version
3). The report streams: each event is serialized as it comes (by an encoder made once per event
class, `event_json`; a step's end or a frame with its batch, when it is spilled, by the spill's
own templates, which write the same text) into a temporary spool file, and only
what the summary needs (the scenarios' starts and ends, their steps' results, the services)
stays in memory; closing the reporter writes the summary, then copies the spool's lines. Steps
are numbered from 1, as the console numbers them (`failure.step`, the `index` of steps and step
events). The report is written atomically when the reporter is closed, which the CLI does even
after a failure or Ctrl-C.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import tempfile
import types
import typing
import weakref
from array import array
from collections.abc import Callable, Iterator
from enum import Enum, StrEnum
from json.encoder import encode_basestring
from typing import IO, Any

from runner.events import (
    Event,
    Failure,
    FrameReceived,
    FrameSent,
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
from runner.report.payloads import MAX_REPORT_PAYLOAD, PayloadWriter, cut_payload
from runner.report.text import LatencyRecorder, latency_stats

__all__ = ["REPORT_VERSION", "JsonReporter", "event_json", "to_jsonable"]

#: Bumped when the report's shape changes incompatibly: 2 writes no step_started lines (each
#: step_ended line says when its step started, and its summary); 3 writes the events' times
#: (their float fields) to the nanosecond, with 9 decimals (`TIME_FORMAT`), not as the float's
#: shortest repr (17 digits, the last ones the noise of a clock subtraction, which took two
#: thirds of the report's cost in a run).
REPORT_VERSION = 3

#: How an event's float field is written in its line (finite ones; the others as `json` does):
#: seconds, to the nanosecond, the monotonic clock's resolution.
TIME_FORMAT = "%.9f"


def to_jsonable(value: object, payload: Callable[[str | bytes], Any] = cut_payload) -> Any:
    """Turn events and their fields into JSON values (bytes become ``{"base64": ...}``, a
    dataclass's finite float fields are rounded to the nanosecond, as their lines write
    them); `payload` writes the messages' payloads (cut beyond `MAX_REPORT_PAYLOAD`)."""
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
        elif item.__class__ is float and -math.inf < item < math.inf:
            # a time, to the nanosecond (`TIME_FORMAT`): the value an event's line writes, so
            # that a failure's messages and unexpected ones name the times of their frames
            fields[f.name] = float(TIME_FORMAT % item)
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


_ENCODER = json.JSONEncoder(ensure_ascii=False)
_ENCODERS: dict[type, Callable[[Event, Callable[[str | bytes], Any]], str]] = {}


def event_json(event: Event, payload: Callable[[str | bytes], Any] = cut_payload) -> str:
    """`event` as one line of the report: ``json.dumps(to_jsonable(event, payload),
    ensure_ascii=False)``, the same text but for the event's own finite floats, written with
    `TIME_FORMAT` (``%.9f``), made by an encoder written once per event class (the generic
    walk cost a hundred times a send/expect pair's own work, for the events of a long run)."""
    encoder = _ENCODERS.get(event.__class__)
    if encoder is None:
        encoder = _ENCODERS[event.__class__] = _encoder(event.__class__)
    return encoder(event, payload)


def _encoder(cls: type) -> Callable[[Event, Callable[[str | bytes], Any]], str]:
    """The encoder of an event class: one f-string, each field written by what its type
    says it holds (a string, a number, maybe None; anything else by `_value_json`)."""
    payloads, counted = _payload_fields(cls), _STEP_NUMBERS.get(cls)
    hints = typing.get_type_hints(cls)
    kind = encode_basestring(cls.type)  # type: ignore[attr-defined]
    pieces = ['{{"type": ' + kind.replace("{", "{{").replace("}", "}}")]
    for f in dataclasses.fields(cls):
        value = f"event.{f.name}"
        if f.name == counted:
            value = f"(None if {value} is None else {value} + 1)"
        pieces.append(f", {encode_basestring(f.name)}: ".replace("{", "{{").replace("}", "}}"))
        pieces.append("{" + _field_json(value, hints[f.name], f.name in payloads) + "}")
    source = f"def encode(event, payload):\n    return f{''.join(pieces) + '}}'!r}\n"
    scope: dict[str, Any] = {
        "_payload_json": _payload_json,
        "_value_json": _value_json,
        "_text": encode_basestring,
        "_number": _number_json,
        "_null": "null",
        "_true": "true",
        "_false": "false",
        "_int": int.__repr__,
        "_time": TIME_FORMAT,
        "_float_type": float,
        "_str": str,
        "_max": MAX_REPORT_PAYLOAD,
        "_inf": math.inf,
    }
    exec(source, scope)  # our own classes' field names and types: no outside input
    encode: Callable[[Event, Callable[[str | bytes], Any]], str] = scope["encode"]
    return encode


def _field_json(value: str, hint: Any, payload: bool) -> str:
    """The expression that writes one field, `value`, of type `hint`."""
    options = set(_options(hint))
    optional = type(None) in options
    options.discard(type(None))
    if payload:  # text within the limit in place (no call); else `_payload_json` cuts it
        return (
            f"(_text({value}) if {value}.__class__ is _str and len({value}) <= _max "
            f"else _payload_json({value}, payload))"
        )
    only = next(iter(options)) if len(options) == 1 else None
    if only is bool:
        return f"(_true if {value} else _false)"
    if optional and len(options) == 1 and only not in (str, int, float):  # a list, a dict
        return f"(_null if {value} is None else _value_json({value}, payload))"
    if only is str or (isinstance(only, type) and issubclass(only, StrEnum)):
        written = f"_text({value})"  # a StrEnum is written as its value, as json.dumps does
    elif only is int:  # an int's own repr: what json.dumps writes (and a bool is no int field)
        written = f"_int({value})"
    elif only is float:  # a finite float to the nanosecond, in place (no call); else as json does
        written = (
            f"(_time % {value} if {value}.__class__ is _float_type and -_inf < {value} < _inf "
            f"else _number({value}, payload))"
        )
    elif options and options <= {int, float} and bool not in options:
        written = f"_number({value}, payload)"
    else:
        return f"_value_json({value}, payload)"
    return f"(_null if {value} is None else {written})" if optional else written


def _number_json(value: Any, payload: Callable[[str | bytes], Any]) -> str:
    """An event's number field: a finite float to the nanosecond (`TIME_FORMAT`), an int as
    `json.dumps` writes it (Infinity and NaN, bools, by its walk)."""
    cls = value.__class__
    if cls is float and -math.inf < value < math.inf:
        written: str = TIME_FORMAT % value
        return written
    if cls is int:
        return int.__repr__(value)
    return _value_json(value, payload)


def _value_json(value: Any, payload: Callable[[str | bytes], Any]) -> str:
    """One value as `json.dumps` writes it (the common scalars without its machinery)."""
    cls = value.__class__
    if cls is str:
        return str(encode_basestring(value))
    if value is None:
        return "null"
    if cls is bool:
        return "true" if value else "false"
    if cls is int:
        return int.__repr__(value)
    if cls is float and math.isfinite(value):
        return float.__repr__(value)
    return _ENCODER.encode(to_jsonable(value, payload))


def _payload_json(value: Any, payload: Callable[[str | bytes], Any]) -> str:
    """A message's payload: text whole up to the report's limit, else `payload` cuts it."""
    if value.__class__ is str and len(value) <= MAX_REPORT_PAYLOAD:
        return str(encode_basestring(value))
    if isinstance(value, str | bytes):
        return _ENCODER.encode(to_jsonable(payload(value), payload))
    return _value_json(value, payload)


class JsonReporter:
    """Serializes every event as it comes (into a spool file) and writes the JSON report to
    `path` on `close()`; `report()` gives it as a mapping at any time."""

    def __init__(
        self, path: str | os.PathLike[str], redact: Callable[[str], str] | None = None
    ) -> None:
        self.path = path
        self._redact = redact  # applied to the report's text (`runner.report.redaction`)
        self._spool: IO[bytes] | None = None  # the events' lines, made at the first event
        # What is not in the spool yet (written SPOOLED at once): lines, and the hot events
        # themselves, encoded when they are spilled (`_spill`), a batch at a time.
        self._pending: list[str | Event] = []  # cleared in place, never replaced
        self._spooled = 0  # the events' lines in the spool
        self._last_at = 0.0
        self._run_started: RunStarted | None = None
        self._run_ended: RunEnded | None = None
        self._started: dict[int, ScenarioStarted] = {}
        self._ended: list[ScenarioEnded] = []
        # Each scenario's steps as their entries' JSON text (a str: nothing for the cyclic
        # collector to walk), and the expects' latencies for the summary's figures.
        self._steps: dict[int, list[str]] = {}
        self._latencies = LatencyRecorder()  # bounded: exact up to 20,000, then a histogram
        self._from_send = LatencyRecorder()
        # a spill's latencies, taken by a C call each, then given to the recorders at its end
        self._batch, self._batch_from_send = array("d"), array("d")
        self._left_out: dict[int, int] = {}  # a scenario's steps beyond MAX_STEP_ENTRIES
        self._services: dict[str, dict[str, Any]] = {}
        self._plain = True  # no "@" in the spool: with no secret, nothing in it to redact

    def __call__(self, event: Event) -> None:
        """Take one event (an `EventBus` listener): its line goes to the spool."""
        # A payload that shows up in several places of one event (a failure's closest message
        # and its transcript) is cut and hashed once; a frame's, once anyway.
        cls = event.__class__
        if cls in _NOT_WRITTEN:
            return
        if cls in _HOT:  # as the bus hands them over (`handler_for`)
            self._take_hot(event)
            return
        payload = PayloadWriter() if cls is ScenarioEnded else cut_payload
        pending = self._pending
        pending.append(event_json(event, payload))
        if len(pending) >= SPOOLED:
            self._spill()
        self._last_at = event.at
        keep = _KEEP.get(cls)
        if keep is not None:
            keep(self, event)

    def handler_for(self, cls: type) -> Callable[[Event], None] | None:
        """What takes events of `cls` (`EventBus` calls it directly): for the classes a run
        emits for every step and frame, a function that writes the line with the class's
        encoder, made once, and keeps what the summary needs; None for the classes it does not
        write (`_NOT_WRITTEN`); `self` for the others."""
        if cls in _NOT_WRITTEN:
            return None
        if cls not in _HOT:
            return self
        pending, append, spill = self._pending, self._pending.append, self._spill

        def take_hot(event: Event) -> None:  # `_take_hot`, its names looked up once
            append(event)
            if len(pending) >= SPOOLED:
                spill()

        return take_hot

    def _take_hot(self, event: Event) -> None:
        """Keep a hot event (a step's end, a frame) to encode with its batch (`_spill`):
        events are frozen, so it is the same event then (its time the last one seen)."""
        pending = self._pending
        pending.append(event)
        if len(pending) >= SPOOLED:
            self._spill()

    def _keep_step(self, event: StepEnded, line: str | None = None) -> None:
        steps = self._steps.setdefault(event.scenario, [])
        if len(steps) < MAX_STEP_ENTRIES:
            whole = line is None or not _STEP_SLICE
            steps.append(_step_json(event) if whole or line is None else _step_entry(line))
        else:  # a long repeat: counted, and in the events
            self._left_out[event.scenario] = self._left_out.get(event.scenario, 0) + 1
        if event.latency is not None:
            self._latencies.add(event.latency)
            if event.latency_from_send is not None:
                self._from_send.add(event.latency_from_send)

    def _keep_started(self, event: ScenarioStarted) -> None:
        self._started[event.scenario] = event

    def _keep_ended(self, event: ScenarioEnded) -> None:
        self._ended.append(event)

    def _keep_run(self, event: RunStarted | RunEnded) -> None:
        if isinstance(event, RunStarted):
            self._run_started = self._run_started or event
        else:
            self._run_ended = self._run_ended or event

    def _keep_service(self, event: ServiceStarted | ServiceOutput | ServiceStopped) -> None:
        entry = self._services.setdefault(event.service, {"name": event.service})
        entry.update(_service_fields(event))

    def _spill(self) -> None:
        """Write the pending lines to the spool (made at the first spill), in one piece: the
        hot events among them are encoded here, in a batch (one encoder's code stays warm
        for many events rather than taking turns with the executor's), their steps kept."""
        spool = self._spool
        if spool is None:
            spool = self._spool = tempfile.TemporaryFile()  # noqa: SIM115
            weakref.finalize(self, spool.close)  # a reporter never closed (HTML's collector)
        first = not self._spooled  # the spool holds the events' array items, separated
        lines = ",\n  ".join(self._encoded_pending())
        if self._plain and "@" in lines:  # (one C scan) a URL's password may be in it
            self._plain = False
        spool.write(("\n  " if first else ",\n  ").encode() + lines.encode("utf-8"))
        self._pending.clear()

    def _encoded_pending(self) -> list[str]:
        """The pending lines, the hot events among them encoded here. A step's end and a text
        frame of the usual shape are written by one %-template each, in this loop (no call
        an event but the C ones: `encode_basestring`, the %-formatting), their steps' entries
        made from the same pieces; any other event or shape by its class's encoder
        (`event_json`), which writes the same text."""
        lines: list[str] = []
        append = lines.append
        encoders, cut, keep = _ENCODERS, cut_payload, self._keep_step
        text, status_json, inf = encode_basestring, _STATUS_JSON, math.inf
        step_line, middles, frame_lines = _STEP_LINE, _STEP_MIDDLES, _FRAME_LINES
        steps_of, left_out = self._steps, self._left_out
        # the latencies go to the batches here (a C call), to their recorders after the loop
        latencies, from_send = self._batch.append, self._batch_from_send.append
        scenario, steps = -1, []
        pending: list[Any] = self._pending  # events of the classes tested below, or lines
        for item in pending:
            cls = item.__class__
            if cls is StepEnded:
                at, took, started = item.at, item.duration, item.started
                latency, after_send = item.latency, item.latency_from_send
                if (  # the usual shape: finite float times, a latency (and from_send) or none
                    at.__class__ is took.__class__ is started.__class__ is float
                    and -inf < at + took + started < inf
                    and (
                        (latency is None and after_send is None)
                        or (
                            latency.__class__ is float
                            and -inf < latency < inf
                            and (
                                after_send is None
                                or (after_send.__class__ is float and -inf < after_send < inf)
                            )
                        )
                    )
                ):
                    conn, note = item.conn, item.note
                    # each shape's tuple made whole (a starred display cost twice as much)
                    number, kind, location = item.index + 1, text(item.kind), text(item.location)
                    status = status_json.get(item.status) or text(item.status)
                    on = "null" if conn is None else text(conn)
                    if latency is None:
                        middle = middles[0] % (number, kind, location, status, took, on)
                    elif after_send is None:
                        middle = middles[1] % (number, kind, location, status, took, on, latency)
                    else:
                        middle = middles[2] % (
                            (number, kind, location, status, took, on, latency, after_send)
                        )
                    append(
                        step_line
                        % (
                            at,
                            item.scenario,
                            middle,
                            "null" if note is None else text(note),
                            started,
                            text(item.summary),
                        )
                    )
                    if item.scenario != scenario:
                        scenario = item.scenario
                        steps = steps_of.setdefault(scenario, [])
                    if len(steps) < MAX_STEP_ENTRIES:
                        steps.append("{" + middle + "}")
                    else:  # a long repeat: counted, and in the events
                        left_out[scenario] = left_out.get(scenario, 0) + 1
                    if latency is not None:
                        latencies(latency)
                        if after_send is not None:
                            from_send(after_send)
                    continue
            elif cls is FrameSent or cls is FrameReceived:
                at, data, wire = item.at, item.data, item.wire_size
                if (  # a text frame within the report's limit, of no protocol
                    at.__class__ is float
                    and -inf < at < inf
                    and data.__class__ is str
                    and len(data) <= MAX_REPORT_PAYLOAD
                    and item.envelopes is None
                    and item.heartbeat is False
                    and (wire is None or wire.__class__ is int)
                ):
                    append(
                        frame_lines[cls]
                        % (
                            at,
                            item.scenario,
                            text(item.conn),
                            text(data),
                            "null" if wire is None else wire,
                        )
                    )
                    continue
            elif cls is str:  # a line made as its event came
                append(item)
                continue
            encode = encoders.get(cls) or encoders.setdefault(cls, _encoder(cls))
            line = encode(item, cut)
            append(line)
            if cls is StepEnded:
                scenario = -1  # `steps` may be another scenario's list now
                keep(item, line)
        if pending and pending[-1].__class__ is not str:  # (a line's event set it as it came)
            self._last_at = pending[-1].at
        self._spooled += len(lines)
        for recorder, batch in (
            (self._latencies, self._batch),
            (self._from_send, self._batch_from_send),
        ):
            recorder.extend(batch)
            del batch[:]
        return lines

    @property
    def _count(self) -> int:
        """The events' lines so far, spooled or pending."""
        return self._spooled + len(self._pending)

    @contextlib.contextmanager
    def _rewound(self) -> Iterator[IO[bytes] | None]:
        """The spool, every pending line spilled into it, read from its start (None before the
        first spill); at its end again afterwards, where the next spill writes."""
        if self._pending:
            self._spill()
        spool = self._spool
        if spool is None:
            yield None
            return
        spool.flush()
        spool.seek(0)
        try:
            yield spool
        finally:
            spool.seek(0, os.SEEK_END)

    def _lines(self) -> Iterator[bytes]:
        """The events' lines so far, in order, UTF-8 (the spool is read from its start: the
        array's items, each after ``\n  `` and before ``,`` but for the last)."""
        with self._rewound() as spool:
            if spool is None:
                return
            next(spool)  # the first item's newline
            for line in spool:
                yield line[2:-2] if line.endswith(b",\n") else line[2:]

    def report(self) -> dict[str, Any]:
        """The report as a JSON-ready mapping, built from the events seen so far."""
        events = [json.loads(line) for line in self._lines()]
        summary = self._summary(PayloadWriter())
        for scenario in summary["scenarios"]:
            scenario["steps"] = [
                json.loads(step) for step in self._steps.get(scenario["index"], [])
            ]
        return summary | {"events": events}

    def _summary(self, payload: PayloadWriter) -> dict[str, Any]:
        """Everything in the report but its events."""
        started, ended = self._run_started, self._run_ended
        return {
            "report_version": REPORT_VERSION,
            "wsrun_version": started.version if started else None,
            "started_at": started.started_at if started else None,
            "status": (ended.status if ended else Status.INTERRUPTED).value,
            "duration": _time(ended.duration if ended else self._last_at),
            "counts": ended.counts if ended else {},
            "scenarios": self._scenarios(payload),
            "latency": self._latency(),
            "services": list(self._services.values()),
        }

    def close(self) -> None:
        """Write the report atomically: the summary, then the events one per line, copied
        from the spool a line at a time (each redacted and encoded on its own).

        The summary is indented, but for its scenarios, one per line as the events are:
        `json` indents in Python, and a scenario of 10,000 steps took longer to indent than
        its events to write."""
        if self._pending:  # its steps are kept as its events are encoded
            self._spill()
        summary = self._summary(PayloadWriter())
        scenarios, summary["scenarios"] = summary["scenarios"], _SCENARIOS
        text = json.dumps(summary, indent=1, ensure_ascii=False)
        write_atomically(self.path, self._pieces(text, scenarios))
        if self._spool is not None:
            self._spool.close()
            self._spool = None

    def _scenario_lines(self, scenarios: list[dict[str, Any]]) -> Iterator[str]:
        """The scenarios' entries, one a line, each in three pieces: its steps' texts are put
        in the place kept for them, not copied into its text (and that into the summary's)."""
        for number, scenario in enumerate(scenarios):
            steps = self._steps.get(scenario["index"], [])
            before, _, after = _ENCODER.encode(scenario).partition(_STEPS_JSON)
            yield f"{',' if number else ''}\n  {before}["
            yield ", ".join(steps)
            yield "]" + after

    def _pieces(
        self, summary: str, scenarios: list[dict[str, Any]] | None = None
    ) -> Iterator[bytes | IO[bytes]]:
        """The report's bytes: the summary (its `scenarios` in the place kept for them), then
        the spool's lines in large pieces (of whole lines, when redacted: an event's line
        holds no newline, its strings escape theirs), separated as a JSON array's items; or,
        with nothing in them to redact, the spool itself, which `write_atomically` copies."""
        head = summary[:-2] + ',\n "events": ['
        before, kept, after = head.partition(json.dumps(_SCENARIOS))
        if kept:
            yield self._encoded(before + "[")
            for piece in self._scenario_lines(scenarios or []):
                yield self._encoded(piece)
            yield self._encoded(("\n ]" if scenarios else "]") + after)
        else:
            yield self._encoded(head)
        redact = self._redact
        if redact is None or (self._plain and _masks_nothing(redact)):
            with self._rewound() as spool:  # (copied by the kernel: not read into Python)
                if spool is not None:
                    yield spool
            yield b"]\n}\n" if spool is None else b"\n ]\n}\n"
            return
        empty = True
        for chunk in self._chunks():
            if redact is not None:
                text = chunk.decode("utf-8")
                redacted = redact(text)
                if redacted is not text:  # (no secret and no URL password: not encoded again)
                    chunk = redacted.encode("utf-8")
            yield chunk
            empty = False
        yield b"]\n}\n" if empty else b"\n ]\n}\n"

    def _chunks(self) -> Iterator[bytes]:
        """The spool so far, in pieces of about `COPIED` bytes, each of whole lines (each cut
        before a newline: an event's line holds none, its strings escape theirs)."""
        with self._rewound() as spool:
            rest = b""
            while spool is not None and (block := spool.read(COPIED)):
                block = rest + block
                cut = block.rfind(b"\n")
                if cut <= 0:
                    rest = block
                    continue
                rest = block[cut:]
                yield block[:cut]
            if rest:  # the last line
                yield rest

    def _encoded(self, text: str) -> bytes:
        if self._redact is not None:
            text = self._redact(text)
        return text.encode("utf-8")

    def _scenarios(self, payload: PayloadWriter) -> list[dict[str, Any]]:
        """The scenarios' entries, their steps left as `_STEPS` (filled in by the caller)."""
        entries = [
            _scenario(e, self._started.get(e.scenario), payload)
            for e in sorted(self._ended, key=lambda e: e.scenario)
        ]
        for entry in entries:  # the steps past the first MAX_STEP_ENTRIES, when there were
            if left_out := self._left_out.get(entry["index"]):
                entry["steps_left_out"] = left_out
        return entries

    def _latency(self) -> dict[str, Any]:
        return {
            "from_step_start": _times(latency_stats(self._latencies).as_dict()),
            "from_last_send": _times(latency_stats(self._from_send).as_dict()),
        }


def _masks_nothing(redact: Callable[[str], str]) -> bool:
    """Whether `redact` leaves any text with no "@" as it is: a `Redactor`'s `text` with no
    secret (it masks only a URL's password then), as the CLI's is in a run without any."""
    from runner.report.redaction import Redactor  # (here: the module needs it only at close)

    owner = getattr(redact, "__self__", None)
    return isinstance(owner, Redactor) and redact == owner.text and not owner.active


def _time(value: Any) -> Any:
    """A time the summary writes, to the nanosecond as the events' lines write theirs."""
    if value.__class__ is float and -math.inf < value < math.inf:
        return float(TIME_FORMAT % value)
    return value


def _times(figures: dict[str, Any]) -> dict[str, Any]:
    return {name: _time(value) for name, value in figures.items()}


#: Where the scenarios go in the summary's text (`JsonReporter.close`).
_SCENARIOS = "\x00scenarios\x00"

#: Where a scenario's steps go in its entry's text (`JsonReporter._scenario_line`).
_STEPS = "\x00steps\x00"
_STEPS_JSON = json.dumps(_STEPS)

#: How many step entries a scenario's `steps` holds at most (its first ones): the others (a
#: long `repeat`'s) are counted in its ``steps_left_out`` and are in the events.
MAX_STEP_ENTRIES = 10_000

#: How many events' lines wait in memory before they are written to the spool in one piece.
SPOOLED = 256
#: About how many bytes of the spool `JsonReporter.close` copies to the report at once.
COPIED = 1 << 20

#: The usual step_ended line, in two pieces: from ``"index"`` to ``"latency_from_send"``, the
#: part that is also the step's entry in its scenario's `steps` (`_step_entry`), with no
#: latency, a latency only, or both; and the rest. The times are written by the template.
_STEP_MIDDLES = tuple(
    '"index": %d, "kind": %s, "location": %s, "status": %s, "duration": '
    + TIME_FORMAT
    + f', "conn": %s, "latency": {latency}, "latency_from_send": {after_send}'
    for latency, after_send in (("null", "null"), (TIME_FORMAT, "null"), (TIME_FORMAT,) * 2)
)
_STEP_LINE = (
    f'{{"type": "step_ended", "at": {TIME_FORMAT}, "scenario": %d, %s, "note": %s, '
    f'"started": {TIME_FORMAT}, "summary": %s}}'
)
#: The usual frame lines: text, of no protocol (no envelopes), no heartbeat.
_FRAME_LINES = {
    cls: f'{{"type": "{cls.type}", "at": {TIME_FORMAT}, "scenario": %d, "conn": %s, '
    '"data": %s, "wire_size": %s, "envelopes": null, "heartbeat": false}'
    for cls in (FrameSent, FrameReceived)
}
_STATUS_JSON = {status: encode_basestring(status.value) for status in Status}

#: The events a run emits for every step and frame: `JsonReporter.handler_for` gives each a
#: handler of its own (their payloads are cut alone: none holds one twice).
_HOT = frozenset({StepEnded, FrameSent, FrameReceived})
#: The events the report has no line for: a step's start is in its step_ended line
#: (`StepEnded.started`, `StepEnded.summary`), which halves the lines a send/expect pair costs.
_NOT_WRITTEN = frozenset({StepStarted})

#: What the summary keeps of each kind of event (the others are only in the spool).
_KEEP: dict[type, Callable[[JsonReporter, Any], None]] = {
    StepEnded: JsonReporter._keep_step,
    ScenarioStarted: JsonReporter._keep_started,
    ScenarioEnded: JsonReporter._keep_ended,
    RunStarted: JsonReporter._keep_run,
    RunEnded: JsonReporter._keep_run,
    ServiceStarted: JsonReporter._keep_service,
    ServiceOutput: JsonReporter._keep_service,
    ServiceStopped: JsonReporter._keep_service,
}


def _service_fields(event: ServiceStarted | ServiceOutput | ServiceStopped) -> dict[str, Any]:
    if isinstance(event, ServiceStarted):
        return {"provides": dict(event.provides)}
    return {"output": event.output}


def _scenario(
    ended: ScenarioEnded, started: ScenarioStarted | None, payload: PayloadWriter
) -> dict[str, Any]:
    return {
        "index": ended.scenario,
        "name": ended.name,
        "file": started.file if started else None,
        "line": started.line if started else None,
        "status": ended.status.value,
        "duration": _time(ended.duration),
        "steps_passed": ended.steps_passed,
        "steps_total": ended.steps_total,
        "steps": _STEPS,
        "failure": to_jsonable(ended.failure, payload),
        "unexpected": to_jsonable(ended.unexpected, payload),
    }


#: A step's entry holds its `StepEnded` line's fields from ``index`` to ``latency_from_send``,
#: written the same way, in the same order: the entry is that part of the line, cut out.
_STEP_ENTRY = ("index", "kind", "location", "status", "duration", "conn", "latency")
_STEP_SLICE = [f.name for f in dataclasses.fields(StepEnded)][2:11] == [
    *_STEP_ENTRY,
    "latency_from_send",
    "note",
]


def _step_entry(line: str) -> str:
    """A step's entry, cut out of its `StepEnded` line (`event_json`): from ``"index"`` to
    before ``, "note"``. Neither can be found inside a value before it: the fields before
    ``index`` are a type name and numbers, and a JSON string escapes every quote it holds."""
    return "{" + line[line.index('"index": ') : line.rindex(', "note": ')] + "}"


def _step_json(step: StepEnded) -> str:
    """A step's entry in its scenario's `steps`, as the C encoder writes the mapping."""
    value, number = _value_json, _number_json  # a number as the step's line writes it
    return (
        f'{{"index": {step.index + 1}, "kind": {value(step.kind, cut_payload)}, '
        f'"location": {value(step.location, cut_payload)}, '
        f'"status": {value(step.status.value, cut_payload)}, '
        f'"duration": {number(step.duration, cut_payload)}, '
        f'"conn": {value(step.conn, cut_payload)}, '
        f'"latency": {number(step.latency, cut_payload)}, '
        f'"latency_from_send": {number(step.latency_from_send, cut_payload)}}}'
    )
