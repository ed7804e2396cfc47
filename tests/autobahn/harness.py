"""Run the Autobahn TestSuite cases against a client on loopback, and collect their verdicts.

The `kosoku` package serves the Autobahn cases in fuzzingserver mode: the suite is the server and
drives the client under test. A client under test (a `Driver`) asks for the number of cases
(`/getCaseCount`), runs each case by connecting to `/runCase?case=N&agent=A` and echoing every
message back until the case closes the connection, then asks for the reports (`/updateReports`),
which is what ends kosoku's run. kosoku then hands back one result per case.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from kosoku import FailureError, run_fuzzingserver

__all__ = [
    "ACCEPTED_BEHAVIOR",
    "ACCEPTED_CLOSE",
    "CORE_SECTIONS",
    "Driver",
    "SuiteRun",
    "Verdict",
    "run_suite",
    "section_of",
]

#: Every section but compression (12, 13); Autobahn has no sections 8 and 11.
CORE_SECTIONS = ("1.*", "2.*", "3.*", "4.*", "5.*", "6.*", "7.*", "9.*", "10.*")

#: Behaviour verdicts that conform: Autobahn counts NON-STRICT and INFORMATIONAL as passed.
ACCEPTED_BEHAVIOR = frozenset({"OK", "NON-STRICT", "INFORMATIONAL"})

#: Close verdicts that conform: INFORMATIONAL marks cases whose close the RFC leaves open (7.1.6).
ACCEPTED_CLOSE = frozenset({"OK", "INFORMATIONAL"})


class Driver(Protocol):
    """A client under test, as the harness drives it; every call must return within its timeout."""

    agent: str

    def fetch_text(self, url: str, timeout: float) -> str:
        """Connect to `url`, return the first text message, and close."""

    def run_case(self, url: str, timeout: float) -> None:
        """Connect to `url`, echo every message (text as text, binary as binary) until closed."""


@dataclass(frozen=True)
class Verdict:
    """The outcome of one Autobahn case, with what kosoku expected and what it observed."""

    case_id: str
    behavior: str
    behavior_close: str
    duration_ms: int
    description: str
    expectation: str
    expected: Any
    received: Any
    result: str
    result_close: str
    expected_close: Any
    client_close_code: int | None
    client_close_reason: str | None
    was_clean: bool
    wall_s: float = 0.0
    driver_error: str | None = None

    @property
    def section(self) -> str:
        """The case's section, e.g. "6" for 6.4.1."""
        return section_of(self.case_id)

    @property
    def accepted(self) -> bool:
        """Whether both verdicts conform and the driver raised nothing."""
        return (
            self.behavior in ACCEPTED_BEHAVIOR
            and self.behavior_close in ACCEPTED_CLOSE
            and self.driver_error is None
        )

    def details(self, width: int = 300) -> str:
        """A multi-line account of the case: expected against observed."""
        lines = [
            f"case {self.case_id}: behavior {self.behavior}, close {self.behavior_close}",
            f"  case: {_plain(self.description)}",
            f"  expectation: {_plain(self.expectation)}",
            f"  expected events: {_cut(self.expected, width)}",
            f"  observed events: {_cut(self.received, width)}",
            f"  result: {self.result} | {self.result_close}",
            f"  expected close: {self.expected_close}",
            f"  client sent close code {self.client_close_code} reason "
            f"{self.client_close_reason!r}, clean {self.was_clean}",
        ]
        if self.driver_error is not None:
            lines.append(f"  driver error: {self.driver_error}")
        return "\n".join(lines)


@dataclass
class SuiteRun:
    """The verdicts of one run, in case order, and the run's wall time."""

    verdicts: list[Verdict]
    wall_s: float
    run_error: str | None = None

    def offenders(self) -> list[Verdict]:
        """The cases that did not conform."""
        return [v for v in self.verdicts if not v.accepted]


def section_of(case_id: str) -> str:
    """The section of a case id: "6" for "6.4.1"."""
    return case_id.split(".", 1)[0]


def run_suite(
    driver: Driver,
    cases: Sequence[str] = CORE_SECTIONS,
    exclude: Sequence[str] = (),
    case_timeout: float = 60.0,
    run_timeout: float = 900.0,
) -> SuiteRun:
    """Serve the selected cases on 127.0.0.1 (a free port) and drive `driver` through them.

    Args:
        driver: the client under test.
        cases: case ids or globs, e.g. ``["1.*", "9.7.1"]``.
        exclude: case ids or globs to leave out.
        case_timeout: how long one case may take the driver.
        run_timeout: how long the whole run may take.

    Returns:
        The verdicts in case order; cases the driver raised on carry `driver_error`.
    """
    started = time.monotonic()
    drive = _Drive(driver, case_timeout)
    verdicts = asyncio.run(_serve(drive, list(cases), list(exclude), run_timeout))
    return SuiteRun(verdicts, time.monotonic() - started, drive.run_error)


async def _serve(
    drive: _Drive, cases: list[str], exclude: list[str], run_timeout: float
) -> list[Verdict]:
    async with run_fuzzingserver(cases, exclude, host="127.0.0.1", port=0) as server:
        drive.base = f"ws://127.0.0.1:{server.port}"
        thread = threading.Thread(target=drive.run, name="autobahn-driver", daemon=True)
        thread.start()
        try:
            results = await asyncio.wait_for(_results(server), run_timeout)
        finally:
            await asyncio.to_thread(thread.join, drive.case_timeout)
        if thread.is_alive():
            raise RuntimeError(
                f"autobahn driver still running {drive.case_timeout} s after the run"
            )
    return [
        _verdict(r, drive.walls.get(r.case_index, 0.0), drive.errors.get(r.case_index))
        for r in results
    ]


async def _results(server: Any) -> list[Any]:
    try:
        return list(await server.get_result())
    except FailureError as failure:  # raised when any case fails; it carries every result
        return failure.results


class _Drive:
    """The driver's side of a run: count, each case in turn, then the reports."""

    def __init__(self, driver: Driver, case_timeout: float) -> None:
        self.driver = driver
        self.base = ""
        self.case_timeout = case_timeout
        self.walls: dict[int, float] = {}
        self.errors: dict[int, str] = {}
        self.run_error: str | None = None

    def run(self) -> None:
        try:
            count = int(self.driver.fetch_text(f"{self.base}/getCaseCount", self.case_timeout))
            for index in range(1, count + 1):
                self.run_one(index)
        except Exception as exc:
            self.run_error = f"getCaseCount: {type(exc).__name__}: {exc}"
        finally:  # updateReports ends kosoku's run: send it even when the driver broke
            self.update_reports()

    def run_one(self, index: int) -> None:
        url = f"{self.base}/runCase?case={index}&agent={self.driver.agent}"
        started = time.monotonic()
        try:
            self.driver.run_case(url, self.case_timeout)
        except Exception as exc:
            self.errors[index] = f"{type(exc).__name__}: {exc}"
        self.walls[index] = time.monotonic() - started

    def update_reports(self) -> None:
        url = f"{self.base}/updateReports?agent={self.driver.agent}"
        try:
            self.driver.run_case(url, self.case_timeout)
        except Exception as exc:
            self.run_error = f"updateReports: {type(exc).__name__}: {exc}"


def _verdict(result: Any, wall_s: float, error: str | None) -> Verdict:
    return Verdict(
        case_id=result.case_id,
        behavior=result.behavior.value,
        behavior_close=result.behavior_close.value,
        duration_ms=result.duration,
        description=result.description,
        expectation=result.expectation,
        expected=result.expected,
        received=result.received,
        result=result.result,
        result_close=result.result_close,
        expected_close=result.expected_close,
        client_close_code=result.remote_close_code,
        client_close_reason=result.remote_close_reason,
        was_clean=result.was_clean,
        wall_s=wall_s,
        driver_error=error,
    )


def _plain(html: str) -> str:
    return re.sub(r"<[^>]+>", " ", html).strip()


def _cut(value: object, width: int) -> str:
    text = repr(value)
    return text if len(text) <= width else f"{text[:width]}... ({len(text)} chars)"
