"""Issue 15: the redaction in front of the bus looks at a `StepEnded` (two a send/expect pair)
in place, with no call, as it does frames; a URL's password in any of its text fields is still
masked, and an end with none goes on as it is."""

from __future__ import annotations

import dataclasses
import sys
import types
from typing import Any

import pytest

import runner.report.redaction
from runner.events import Event, Status, StepEnded
from runner.report.redaction import Redactor, _text_fields

URL = "ws://user:hunter2@example.test/"
MASKED = "ws://user:***@example.test/"


def ended(**fields: Any) -> StepEnded:
    values: dict[str, Any] = {
        "at": 1.0,
        "scenario": 0,
        "index": 1,
        "kind": "expect",
        "location": "a.yaml:3:5",
        "status": Status.PASSED,
        "duration": 0.1,
        "conn": "default",
        "latency": 0.1,
        "latency_from_send": 0.05,
        "note": None,
        "started": 0.9,
        "summary": "expect default",
    }
    return StepEnded(**{**values, **fields})


def test_the_fields_looked_at_in_place_are_the_step_ends_text_fields() -> None:
    # the emitter's inline look names these five: a new text field must be added there too
    assert set(_text_fields(StepEnded)) == {"kind", "location", "conn", "note", "summary"}


def test_a_plain_step_end_makes_no_call_but_its_listeners(monkeypatch: pytest.MonkeyPatch) -> None:
    looked: list[object] = []
    real = runner.report.redaction._may_hold_userinfo
    monkeypatch.setattr(
        runner.report.redaction, "_may_hold_userinfo", lambda v: looked.append(v) or real(v)
    )
    seen: list[Event] = []
    emit = Redactor().emitter(seen.append)
    event = ended()
    calls: list[str] = []

    def hook(frame: types.FrameType, kind: str, _arg: Any) -> None:
        if kind == "call":
            calls.append(frame.f_code.co_qualname)

    sys.setprofile(hook)
    try:
        emit(event)
    finally:
        sys.setprofile(None)
    assert seen == [event] and seen[0] is event
    assert looked == []
    assert calls == ["Redactor.emitter.<locals>.redacted"]  # was one more: `_may_hold_userinfo`


@pytest.mark.parametrize("name", ["kind", "location", "conn", "note", "summary"])
def test_a_password_in_any_text_field_of_a_step_end_is_masked(name: str) -> None:
    seen: list[Event] = []
    event = ended(**{name: f"at {URL}"})
    Redactor().emitter(seen.append)(event)
    assert getattr(seen[0], name) == f"at {MASKED}"
    assert dataclasses.replace(seen[0], **{name: getattr(event, name)}) == event  # nothing else


def test_a_step_end_with_a_secret_known_is_masked_as_before() -> None:
    redactor = Redactor()
    redactor.add("s3cr3t")
    seen: list[Event] = []
    redactor.emitter(seen.append)(ended(note="got s3cr3t"))
    assert seen[0].note == "got ***"  # type: ignore[attr-defined]
