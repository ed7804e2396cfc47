"""Issue 15, the JSON report's cost over ``-q`` (helper J): the redacting emitter looks at a
frame's text in place, with no call (a plain run's frames hold no "@"), and the report's
latencies are taken by an array's append in the spill's loop, not by a recorder's `add` (two
Python calls an expect step), with the same summary figures and the same bound."""

from __future__ import annotations

import json
import os
import random
import sys
from array import array
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

from runner.events import FrameReceived, FrameSent, Status, StepEnded
from runner.report import files, redaction
from runner.report.files import write_atomically
from runner.report.json_report import SPOOLED, JsonReporter, _times
from runner.report.redaction import Redactor
from runner.report.text import EXACT_LATENCIES, LatencyRecorder


class _Calls:
    """The Python functions called while it is on (`sys.setprofile`), by name."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def __call__(self, frame: FrameType, event: str, arg: object) -> None:
        if event == "call":
            self.names.append(frame.f_code.co_name)


def _emitted(redactor: Redactor, event: Any) -> tuple[Any, list[str]]:
    """What `redactor`'s emitter hands on for `event`, and the Python calls it made."""
    got: list[Any] = []
    emit = redactor.emitter(got.append, {FrameSent, FrameReceived}.__contains__)
    calls = _Calls()
    sys.setprofile(calls)
    try:
        emit(event)
    finally:
        sys.setprofile(None)
    assert len(got) == 1
    return got[0], calls.names


@pytest.mark.parametrize("cls", [FrameSent, FrameReceived])
@pytest.mark.parametrize("data", ["m123", b"\x00@binary", ""])
def test_a_plain_frame_is_passed_on_with_no_call(cls: type, data: str | bytes) -> None:
    """No secret, no "@" in its text: the frame itself goes on, and the emitter called neither
    `_may_hold_userinfo` (which it did for each of a pair's two frames) nor `_redact`."""
    event = cls(at=1.0, scenario=0, conn="default", data=data, wire_size=4)
    passed, calls = _emitted(Redactor(), event)
    assert passed is event
    assert calls == ["redacted"], calls


@pytest.mark.parametrize("cls", [FrameSent, FrameReceived])
@pytest.mark.parametrize(
    "fields",
    [
        {"data": "go to wss://user:hunter2@host/x"},
        {"conn": "wss://user:hunter2@host/", "data": "m"},
        {"data": "{}", "envelopes": [{"url": "wss://user:hunter2@host/"}]},
    ],
)
def test_a_frame_with_a_url_password_is_still_masked(cls: type, fields: dict[str, Any]) -> None:
    event = cls(**{"at": 1.0, "scenario": 0, "conn": "c", "wire_size": 2, **fields})
    passed, calls = _emitted(Redactor(), event)
    assert passed is not event and "_redact" in calls
    written = json.dumps([passed.conn, passed.data, passed.envelopes])
    assert "hunter2" not in written and "user:***@host" in written


def test_a_frame_holding_a_secret_is_masked() -> None:
    event = FrameSent(at=1.0, scenario=0, conn="c", data="token s3cr3t-value", wire_size=18)
    passed, _ = _emitted(Redactor(["s3cr3t-value"]), event)
    assert passed.data == "token ***"
    binary = FrameReceived(at=1.0, scenario=0, conn="c", data=b"s3cr3t-value!", wire_size=13)
    assert _emitted(Redactor(["s3cr3t-value"]), binary)[0].data == b"***!"


def test_the_frames_fields_are_the_ones_the_emitter_looks_at() -> None:
    """The emitter's look is for the frames' fields as `_may_hold_userinfo` finds them."""
    for cls in (FrameSent, FrameReceived):
        assert redaction._text_fields(cls) == ("conn", "data", "envelopes")


def _recorded(values: list[float]) -> dict[str, Any]:
    recorder = LatencyRecorder()
    for value in values:
        recorder.add(value)
    return recorder.stats().as_dict()


@pytest.mark.parametrize("count", [0, 1, 7, EXACT_LATENCIES, EXACT_LATENCIES + 1, 45_000])
def test_the_latencies_figures_are_a_recorders(count: int) -> None:
    """Taken in batches as a spill takes them (`LatencyRecorder.extend` after each): the
    figures (exact up to 20,000, then the histogram's) are what a `LatencyRecorder` gives for
    the same values one by one, and past 20,000 none is kept exact (all in the histogram)."""
    rng = random.Random(count)
    values = [rng.lognormvariate(-9, 1) for _ in range(count)] + [0.0] * (count > 3)
    latencies = LatencyRecorder()
    for start in range(0, len(values), SPOOLED):
        latencies.extend(array("d", values[start : start + SPOOLED]))
        assert latencies.estimated == (latencies.count > EXACT_LATENCIES)
    if len(values) > EXACT_LATENCIES:
        assert latencies.estimated  # all in the histogram
    one_by_one = LatencyRecorder()
    for value in values:
        one_by_one.add(value)
    assert latencies.stats().as_dict() == one_by_one.stats().as_dict()
    assert (latencies.count, latencies.min, latencies.max) == (
        one_by_one.count,
        one_by_one.min,
        one_by_one.max,
    )


def _expect(index: int, latency: float) -> StepEnded:
    return StepEnded(
        at=1.0 + index,
        scenario=0,
        index=index,
        kind="expect",
        location=f"a.yaml:{index + 2}:5",
        status=Status.PASSED,
        duration=0.5,
        conn="default",
        latency=latency,
        latency_from_send=latency / 2,
        started=0.5 + index,
        summary="expect default",
    )


def test_a_reports_latency_summary_is_unchanged(tmp_path: Path) -> None:
    """Through the reporter, over a spill's batches: the summary's latency figures are the
    recorders' figures for the steps' latencies (written to the nanosecond)."""
    reporter = JsonReporter(tmp_path / "r.json")
    latencies = [0.001 * (1 + i % 97) for i in range(3 * SPOOLED + 5)]
    for index, latency in enumerate(latencies):
        handler = reporter.handler_for(StepEnded)
        assert handler is not None
        handler(_expect(index, latency))
    reporter.close()
    report = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert report["latency"]["from_step_start"] == _times(_recorded(latencies))
    assert report["latency"]["from_last_send"] == _times(_recorded([v / 2 for v in latencies]))
    assert report["latency"]["from_step_start"]["count"] == len(latencies)


def test_a_file_piece_is_copied_from_its_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`write_atomically` copies a file piece from where it stands to its end: by the kernel,
    or in blocks where `os.sendfile` fails or is missing; the same bytes either way."""
    source = tmp_path / "spool"
    source.write_bytes(b"skipped|" + bytes(range(256)) * 5000)
    wanted = b"head" + bytes(range(256)) * 5000 + b"tail"

    def written(name: str) -> bytes:
        with source.open("rb") as spool:
            spool.seek(len(b"skipped|"))
            write_atomically(tmp_path / name, [b"head", spool, b"tail"])
        return (tmp_path / name).read_bytes()

    sent: list[int] = []
    sendfile = os.sendfile

    def counted(out: int, in_: int, offset: int, count: int) -> int:
        sent.append(count)
        return sendfile(out, in_, offset, min(count, 300_000))  # in several calls

    monkeypatch.setattr(os, "sendfile", counted)
    assert written("kernel") == wanted and len(sent) > 1

    def refused(*_: object) -> int:
        raise OSError(22, "Invalid argument")

    monkeypatch.setattr(os, "sendfile", refused)
    monkeypatch.setattr(files, "COPIED", 1000)
    assert written("refused") == wanted
    monkeypatch.delattr(os, "sendfile")
    assert written("missing") == wanted


@pytest.mark.parametrize(
    ("redactor", "data", "copied"),
    [
        (None, "m", True),
        (Redactor(), "m", True),  # the CLI's, in a run with no secret
        (Redactor(), "wss://u:pw@host/", False),  # an "@": looked at, and masked
        (Redactor(["s3cr3t-value"]), "s3cr3t-value", False),
    ],
)
def test_a_spool_with_nothing_to_redact_is_copied_by_the_kernel(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    redactor: Redactor | None,
    data: str,
    copied: bool,
) -> None:
    """With no redaction, or the CLI's with no secret and no "@" in any line, close copies the
    spool with `os.sendfile` (it read it into Python, decoded and looked at each MiB); the
    report is the text the line-by-line redaction writes."""
    sent: list[int] = []
    sendfile = os.sendfile

    def counted(out: int, in_: int, offset: int, count: int) -> int:
        sent.append(count)
        return sendfile(out, in_, offset, count)

    monkeypatch.setattr(os, "sendfile", counted)
    texts = []
    redacts = (None if redactor is None else redactor.text, lambda text: text)
    for name, redact in zip(("fast", "lines"), redacts, strict=True):
        reporter = JsonReporter(tmp_path / f"{name}.json", redact)
        for i in range(2 * SPOOLED + 3):
            handler = reporter.handler_for(FrameSent)
            assert handler is not None
            handler(FrameSent(at=i / 7, scenario=0, conn="c", data=f"{data}{i}", wire_size=2))
            if i % 100 == 0:
                reporter(_expect(i, 0.001))
        reporter.close()
        texts.append((tmp_path / f"{name}.json").read_text(encoding="utf-8"))
        if name == "fast":
            assert bool(sent) is copied
    if redactor is not None and not copied:
        masked = [redactor.text(line) for line in texts[1].split("\n")]
        assert texts[0] == "\n".join(masked)
        assert "pw@" not in texts[0] and "s3cr3t-value" not in texts[0]
    else:
        assert texts[0] == texts[1]
    assert len(json.loads(texts[0])["events"]) == 2 * SPOOLED + 3 + 6
