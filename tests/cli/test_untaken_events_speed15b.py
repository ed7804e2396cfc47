"""Issue 15, second round: `wsrun -q` builds no event that no listener takes (step starts and
frames: the console with -q shows none), through `runner.events.taken`; a report that takes
them still gets every one. The emit of the CLI (its redaction) carries the bus's `takes`."""

from __future__ import annotations

import json
from collections import Counter
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from runner.cli import ExitCode, main
from runner.events import EventBus, FrameReceived, FrameSent, StepEnded, StepStarted, taken
from runner.executor import scenario_run
from runner.report.redaction import Redactor
from tests.support import echo, url_of, websockets_server

PAIRS = 20
SCENARIO = 'name: pairs\nsteps:\n  - connect: "${url}"\n' + "".join(
    f"  - send: m{i}\n  - expect: {{text: m{i}}}\n" for i in range(PAIRS)
)


@pytest.fixture
def built(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """How many of each hot event class were constructed."""
    counts: Counter[str] = Counter()
    for cls in (StepStarted, FrameSent, FrameReceived, StepEnded):
        init = cls.__init__

        def counting(self: Any, *args: Any, _init: Any = init, **kwargs: Any) -> None:
            counts[type(self).__name__] += 1
            _init(self, *args, **kwargs)

        monkeypatch.setattr(cls, "__init__", counting)
    make = scenario_run._step_ended  # a passed step's StepEnded: made without its __init__

    def made(*fields: Any) -> StepEnded:
        counts["StepEnded"] += 1
        return make(*fields)

    monkeypatch.setattr(scenario_run, "_step_ended", made)
    return counts


def _run(tmp_path: Path, *extra: str) -> None:
    (tmp_path / "pairs.yaml").write_text(SCENARIO, encoding="utf-8")
    with websockets_server(echo) as server:
        args = ["-q", str(tmp_path / "pairs.yaml"), "--var", f"url={url_of(server)}", *extra]
        code = main(args, Console(file=StringIO(), color_system=None))
    assert code == ExitCode.OK


def test_quiet_builds_no_step_start_and_no_frame(tmp_path: Path, built: Counter[str]) -> None:
    _run(tmp_path)
    assert built["StepEnded"] == 1 + 2 * PAIRS  # the console counts and times step ends
    assert (built["StepStarted"], built["FrameSent"], built["FrameReceived"]) == (0, 0, 0)


def test_a_report_that_takes_frames_gets_them_all(tmp_path: Path, built: Counter[str]) -> None:
    _run(tmp_path, "--json-report", str(tmp_path / "report.json"))
    assert (built["FrameSent"], built["FrameReceived"]) == (PAIRS, PAIRS)
    assert built["StepStarted"] == 0  # report_version 2 has no step_started line
    events = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))["events"]
    kinds = Counter(event["type"] for event in events)
    assert kinds["frame_sent"] == kinds["frame_received"] == PAIRS, kinds


def test_taken_asks_the_bus_or_the_emitters_takes() -> None:
    bus = EventBus()
    bus.subscribe(type("Ends", (), {"events": (StepEnded,), "__call__": lambda s, e: None})())
    assert taken(bus.emit, StepEnded) and not taken(bus.emit, FrameSent)
    redacted = Redactor().emitter(bus.emit, bus.takes)
    assert taken(redacted, StepEnded) and not taken(redacted, StepStarted)
    assert taken(Redactor().emitter(bus.emit), FrameSent)  # says nothing: takes everything
    assert taken(lambda event: None, FrameSent)
