"""Issue 15: with -q the console shows no step, so a step's end costs it its latencies alone:
its kind's step model is not looked up (two calls a step); at normal verbosity it still is,
and a waiting step's line is shown as before."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from rich.console import Console

import runner.report.console
from runner.events import Status, StepEnded
from runner.report.console import NORMAL, QUIET, ConsoleReporter


def ended(kind: str, latency: float | None) -> StepEnded:
    return StepEnded(
        at=1.0,
        scenario=0,
        index=1,
        kind=kind,
        location="a.yaml:3:5",
        status=Status.PASSED,
        duration=0.25,
        conn="default",
        latency=latency,
        summary=kind,
    )


def _looked(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    looked: list[str] = []
    real = runner.report.console._waits

    def counted(kind: str) -> Any:
        looked.append(kind)
        return real(kind)

    monkeypatch.setattr(runner.report.console, "_waits", counted)
    return looked


def test_a_quiet_console_looks_up_no_step_model(monkeypatch: pytest.MonkeyPatch) -> None:
    looked = _looked(monkeypatch)
    out = StringIO()
    reporter = ConsoleReporter(Console(file=out, color_system=None), QUIET, 1)
    for event in (ended("send", None), ended("expect", 0.01), ended("sleep", None)):
        reporter(event)
    assert looked == []  # was one a step
    assert reporter._latencies.count == 1
    assert out.getvalue() == ""


def test_a_normal_console_still_shows_a_waiting_step(monkeypatch: pytest.MonkeyPatch) -> None:
    looked = _looked(monkeypatch)
    out = StringIO()
    reporter = ConsoleReporter(Console(file=out, color_system=None, width=200), NORMAL, 1)
    reporter(ended("send", None))
    reporter(ended("sleep", None))
    assert looked == ["send", "sleep"]
    text = out.getvalue()
    assert "✓ sleep" in text and "✓ send" not in text
