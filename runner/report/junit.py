"""The JUnit XML report: a testsuite per scenario file, a testcase per scenario.

A failed expectation is a ``<failure>``; a connection that failed, an internal error or an
interruption is an ``<error>``; a scenario that never ran is ``<skipped>``. Each testcase's
``<system-out>`` holds its transcript, so CI systems show what happened next to the result
(each payload cut beyond `MAX_REPORT_PAYLOAD`, with its length).
The file is written atomically on `close()`, which the CLI does even after a failure or Ctrl-C.
"""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from runner.events import (
    ConnectionClosed,
    ConnectionOpened,
    ErrorOccurred,
    Event,
    FrameReceived,
    FrameSent,
    RunStarted,
    ScenarioEnded,
    ScenarioStarted,
    Status,
    StepEnded,
)
from runner.report.files import write_atomically
from runner.report.payloads import MAX_REPORT_PAYLOAD
from runner.report.text import failure_lines, preview

__all__ = ["JunitReporter"]

# XML 1.0 allows only these characters; anything else in a payload is shown as U+FFFD.
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml_text(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)


#: A testcase's ``system-out`` keeps its transcript's first and last lines, this many each
#: (a long `repeat` makes four lines an iteration); it says how many it left out between.
TRANSCRIPT_HEAD = TRANSCRIPT_TAIL = 1_000


@dataclass
class _Case:
    started: ScenarioStarted | None = None
    ended: ScenarioEnded | None = None
    transcript: list[str] = field(default_factory=list)  # the first TRANSCRIPT_HEAD lines
    tail: deque[str] = field(default_factory=lambda: deque(maxlen=TRANSCRIPT_TAIL))
    left_out: int = 0  # lines that went out of `tail`

    def add(self, line: str) -> None:
        if len(self.transcript) < TRANSCRIPT_HEAD:
            self.transcript.append(line)
            return
        tail = self.tail
        if len(tail) == TRANSCRIPT_TAIL:
            self.left_out += 1
        tail.append(line)

    def lines(self) -> list[str]:
        gap = [f"… {self.left_out:,} lines left out …"] if self.left_out else []
        return [*self.transcript, *gap, *self.tail]


class JunitReporter:
    """Collects scenario results and transcripts; writes JUnit XML to `path` on `close()`."""

    def __init__(
        self, path: str | os.PathLike[str], redact: Callable[[str], str] | None = None
    ) -> None:
        self.path = path
        self._redact = redact  # applied to the XML text (`runner.report.redaction`)
        self._cases: dict[int, _Case] = {}
        self._timestamp = ""

    def __call__(self, event: Event) -> None:
        """Take in one event (an `EventBus` listener)."""
        if isinstance(event, RunStarted):
            self._timestamp = event.started_at
            return
        scenario = getattr(event, "scenario", None)
        if scenario is None:
            return
        case = self._cases.setdefault(scenario, _Case())
        if isinstance(event, ScenarioStarted):
            case.started = event
        elif isinstance(event, ScenarioEnded):
            case.ended = event
        else:
            self._note(case, event)

    def _note(self, case: _Case, event: Event) -> None:
        line = _transcript_line(event)
        if line is not None:
            start = case.started.at if case.started else 0.0
            case.add(f"+{event.at - start:.3f}s {line}")

    def xml(self) -> ET.Element:
        """The report as an XML element tree (``<testsuites>``)."""
        root = ET.Element("testsuites", name="wsrun")
        suites: dict[str, ET.Element] = {}
        for index in sorted(self._cases):
            case = self._cases[index]
            file = case.started.file if case.started else "wsrun"
            if file not in suites:
                suites[file] = ET.SubElement(root, "testsuite", name=file)
            suites[file].append(_testcase(case))
        for suite in [root, *suites.values()]:
            _count(suite)
        for suite in suites.values():
            suite.set("timestamp", self._timestamp)
        return root

    def close(self) -> None:
        """Write the XML atomically."""
        root = self.xml()
        ET.indent(root)
        text = ET.tostring(root, encoding="unicode")
        data = '<?xml version="1.0" encoding="utf-8"?>\n' + text + "\n"
        if self._redact is not None:
            data = self._redact(data)
        write_atomically(self.path, data.encode("utf-8"))


def _transcript_line(event: Event) -> str | None:
    if isinstance(event, FrameSent | FrameReceived):
        arrow = "→ sent" if isinstance(event, FrameSent) else "← received"
        return f"{event.conn} {arrow} {preview(event.data, MAX_REPORT_PAYLOAD)}"
    if isinstance(event, ConnectionOpened):
        return f"{event.conn} ● open {event.url} ({event.status})"
    if isinstance(event, ConnectionClosed):
        return f"{event.conn} ■ close {event.code} {event.reason}".rstrip()
    if isinstance(event, ErrorOccurred):
        return f"{event.conn} ✗ error {event.code} {event.message}"
    if isinstance(event, StepEnded):
        return f"step {event.index + 1} {event.kind} {event.status.value} at {event.location}"
    return None


def _testcase(case: _Case) -> ET.Element:
    started, ended = case.started, case.ended
    name = ended.name if ended else (started.name if started else "?")
    element = ET.Element("testcase", name=_xml_text(name))
    element.set("classname", started.file if started else "wsrun")
    element.set("time", f"{ended.duration:.3f}" if ended else "0.000")
    if started is not None:
        element.set("file", started.file)
        element.set("line", str(started.line))
    _add_result(element, ended, started.at if started else 0.0)
    if case.transcript:
        ET.SubElement(element, "system-out").text = _xml_text("\n".join(case.lines()))
    return element


def _add_result(element: ET.Element, ended: ScenarioEnded | None, base: float) -> None:
    status = ended.status if ended else Status.INTERRUPTED
    if status is Status.PASSED:
        return
    if status is Status.SKIPPED:
        ET.SubElement(element, "skipped", message="not run")
        return
    tag = "failure" if status is Status.FAILED else "error"
    failure = ended.failure if ended else None
    message = failure.message if failure else status.value
    child = ET.SubElement(element, tag, message=_xml_text(message), type=status.value)
    if failure is not None:
        child.text = _xml_text("\n".join(line.text for line in failure_lines(failure, base)))
    if ended is not None and ended.unexpected:
        extra = [f"{u.conn} ← {preview(u.data, 200)}" for u in ended.unexpected]
        child.text = (child.text or "") + _xml_text("\nunexpected messages:\n" + "\n".join(extra))


def _count(suite: ET.Element) -> None:
    cases = list(suite.iter("testcase"))
    suite.set("tests", str(len(cases)))
    for tag, attribute in (("failure", "failures"), ("error", "errors"), ("skipped", "skipped")):
        suite.set(attribute, str(sum(1 for c in cases if c.find(tag) is not None)))
    total = sum(float(c.get("time", "0")) for c in cases)
    suite.set("time", f"{total:.3f}")
