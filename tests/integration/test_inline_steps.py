"""The inline path's invariant (`runner.executor.scenario_run`): once a wait settles on a
connection's thread, that thread runs the next steps only while their runners are ``inline``
(send, expect...); a step that blocks (sleep, close, connect) goes back to the scenario's
thread, and one thread at a time runs steps.

It stays because the hand-off costs a wake-up per round trip: ``python -m bench.bench_runner``
prints the client core with a hand-off at about half the rate of the inline core.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from websockets.sync.server import ServerConnection

from runner.events import Event, EventBus, Status, StepStarted
from runner.executor import RunOptions, run_suite
from runner.executor.step_registry import registered_runners
from runner.scenario import load_suite
from runner.scenario.steps import CloseStep, ConnectStep, SleepStep
from tests.support import url_of, websockets_server


def slow_echo(conn: ServerConnection) -> None:
    """Echo each message after 50 ms: every expect has parked by then."""
    for message in conn:
        time.sleep(0.05)
        conn.send(message)


def test_steps_after_a_settled_wait_run_on_its_thread_until_one_blocks(tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_text(
        "name: s\nsteps:\n"
        '  - connect: {url: "${url}"}\n'
        "  - send: a\n"
        "  - expect: {text: a}\n"  # parks: the connection's thread settles it
        "  - send: b\n"
        "  - expect: {text: b}\n"
        "  - sleep: 10ms\n"  # blocks: back on the scenario's thread
        "  - send: c\n"
        "  - expect: {text: c}\n"
        "  - close\n",
        encoding="utf-8",
    )
    threads: list[tuple[str, str]] = []

    def listener(event: Event) -> None:
        if isinstance(event, StepStarted):
            threads.append((event.kind, threading.current_thread().name))

    with websockets_server(slow_echo) as server:
        suite = load_suite([str(tmp_path)], {"url": url_of(server)})
        bus = EventBus()
        bus.subscribe(listener)
        status = run_suite(suite, suite.scenarios, RunOptions(), bus.emit)
    assert status is Status.PASSED
    kinds = " ".join(kind for kind, _ in threads)
    assert kinds == "connect send expect send expect sleep send expect close"
    where = ["scenario" if "scenario" in name else "connection" for _, name in threads]
    assert where == [
        "scenario",  # connect
        "scenario",  # send a: after connect, on the scenario's thread
        "scenario",  # expect a: parks
        "connection",  # send b: the thread that settled expect a goes on
        "connection",  # expect b
        "scenario",  # sleep: handed back
        "scenario",
        "scenario",
        "scenario",  # close: it waits for the peer, never on the connection's thread
    ]


def test_the_blocking_steps_are_never_inline() -> None:
    runners = registered_runners()
    for model in (ConnectStep, CloseStep, SleepStep):
        assert not runners[model].inline, model.__name__
