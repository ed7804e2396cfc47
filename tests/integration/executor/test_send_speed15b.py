"""Issue 15, second round: a send step writes its message with `WebSocket.send_now`, no Future
made, settled and read per message (~4 µs of a pair); the step's events are as before."""

from __future__ import annotations

from concurrent.futures import Future
from pathlib import Path
from typing import Any

import pytest

import runner.client.reply
from runner.events import FrameSent, Status
from tests.integration.executor.test_executor import run
from tests.support import echo, url_of, websockets_server

PAIRS = 50
SCENARIO = 'name: pairs\nsteps:\n  - connect: "${url}"\n' + "".join(
    f"  - send: m{i}\n  - expect: {{text: m{i}}}\n" for i in range(PAIRS)
)


def test_send_steps_make_no_future_per_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    made: list[Future[Any]] = []

    class Counted(Future[Any]):
        def __init__(self) -> None:
            super().__init__()
            made.append(self)

    monkeypatch.setattr(runner.client.reply, "Future", Counted)
    with websockets_server(echo) as server:
        status, events = run(tmp_path, {"pairs.yaml": SCENARIO}, {"url": url_of(server)})
    assert status is Status.PASSED
    sent = [event.data for event in events if isinstance(event, FrameSent)]
    assert sent == [f"m{i}" for i in range(PAIRS)]
    assert len(made) < 5, f"{len(made)} Futures for {PAIRS} sends"  # connect's and close's
