"""A long `repeat` runs in constant memory: peak RSS of ``wsrun -q`` as a whole process grows
by next to nothing between 50,000 and 200,000 iterations of a send/expect pair.

Before, the console reporter kept every expect's two latencies (16 bytes) and, at the end, made
them a list of Python floats to sort for its median and p95 (40 bytes a latency, twice): the
150,000 iterations more cost 12.7 MiB more at the peak (312 KiB now). Its latencies are a
`LatencyRecorder` now (exact up to 20,000, then a histogram of bounded size), and the executor
keeps one plan per step, not one per iteration.
"""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from runner.cli import ExitCode
from runner.events import EventBus, Status
from runner.executor import RunOptions, context, run_suite
from runner.executor.scenario_run import StepPlan
from runner.scenario import load_suite
from tests.rawpeer import OP_CLOSE, OP_PING, OP_PONG, RawPeer
from tests.support import echo, timeout, url_of, websockets_server

ROOT = Path(__file__).resolve().parents[2]

#: Runs its arguments; prints the child's pid, then its exit code and peak RSS (KiB).
PARENT = """
import resource, subprocess, sys
child = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)
print(child.pid, flush=True)
code = child.wait()
print(code, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""

#: Where the run's high-water mark is first read: after this many iterations.
EARLY = 50_000
ITERATIONS = 200_000


def _high_water_kib(pid: int) -> int:
    """The peak RSS (KiB) of process `pid` so far (``VmHWM``)."""
    status = Path(f"/proc/{pid}/status").read_text(encoding="utf-8")
    line = next(line for line in status.splitlines() if line.startswith("VmHWM:"))
    return int(line.split()[1])


def test_a_long_repeat_runs_in_constant_memory(tmp_path: Path) -> None:
    """One run of 200,000 iterations: its peak RSS after 50,000 (read by the server when the
    50,000th message comes) and its peak over the whole run, the end's summary included."""
    path = tmp_path / "long.yaml"
    path.write_text(
        "name: long repeat\n"
        "steps:\n"
        '  - connect: {url: "${url}"}\n'
        f"  - repeat:\n      count: {ITERATIONS}\n      steps:\n"
        "        - send: hello\n"
        "        - expect: {text: hello}\n"
        "  - close\n",
        encoding="utf-8",
    )
    early: list[int] = []
    pid: list[int] = []
    failed: list[BaseException] = []

    def counting_echo(peer: RawPeer) -> None:
        """Echoes each message and answers the Close; raw frames cost the server ~20 us a
        message, where the `websockets` library's took ~125 us (25 s of the test's CPU)."""
        try:
            conn = peer.accept(wait=timeout(30))
            count = 0
            while True:
                frame = conn.recv_frame(timeout(30))
                if frame.opcode == OP_CLOSE:
                    conn.send_frame(OP_CLOSE, frame.payload)
                    conn.close()
                    return
                if frame.opcode == OP_PING:
                    conn.send_frame(OP_PONG, frame.payload)
                    continue
                count += 1
                if count == EARLY:
                    early.append(_high_water_kib(pid[0]))
                conn.send_frame(frame.opcode, frame.payload)
        except BaseException as exc:  # the test says so, and the run fails without an echo
            failed.append(exc)

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with RawPeer() as peer:
        serving = threading.Thread(target=counting_echo, args=(peer,), daemon=True)
        serving.start()
        command = [sys.executable, "-m", "runner", "-q", str(path), "--var", f"url={peer.url}"]
        # A small parent runs it (a child's peak counts its parent's at the fork: pytest's).
        with subprocess.Popen(
            [sys.executable, "-c", PARENT, *command], stdout=subprocess.PIPE, text=True, env=env
        ) as parent:
            try:
                assert parent.stdout is not None
                pid.append(int(parent.stdout.readline()))
                code, peak = (int(word) for word in parent.stdout.read().split())
            finally:
                parent.kill()  # stops it if the test failed before its end (the `with` waits)
        serving.join(timeout(10))
    assert failed == []
    assert code == ExitCode.OK
    grown = peak - early[0]
    # Before: 12.7 MiB (16 bytes an iteration kept, and ~80 more at the end to sort them).
    assert grown < 3 * 1024, (
        f"iterations 50,000 to 200,000: {grown:,} KiB more ({early[0]:,} -> {peak:,})"
    )


def test_plain_steps_are_prepared_once_however_many_iterations(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """300 iterations of a send/expect pair without templates: each step's plan is made once,
    the text-only expect's matcher never (it takes its text), and only the templated connect
    goes through pydantic again (`render_step`)."""
    made: dict[str, int] = {"plan": 0, "matcher": 0, "render": 0}

    def counted(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            made[name] += 1
            return function(*args, **kwargs)

        return call

    all_of = StepPlan.all_of

    def plans(steps: Any) -> Any:
        made["plan"] += len(steps)  # the plans made: one a step, however many runs
        return all_of(steps)

    monkeypatch.setattr(StepPlan, "all_of", staticmethod(plans))
    monkeypatch.setattr(context, "compile_matcher", counted("matcher", context.compile_matcher))
    monkeypatch.setattr(context, "render_step", counted("render", context.render_step))
    (tmp_path / "r.yaml").write_text(
        "name: r\nsteps:\n"
        '  - connect: {url: "${url}"}\n'
        "  - repeat:\n      count: 300\n      steps:\n"
        "        - send: hello\n"
        "        - expect: {text: hello}\n"
        "  - close\n",
        encoding="utf-8",
    )
    with websockets_server(echo) as server:
        suite = load_suite([str(tmp_path)], {"url": url_of(server)})
        bus, ended = EventBus(), []
        bus.subscribe(lambda event: ended.append(event) if event.type == "step_ended" else None)
        status = run_suite(suite, suite.scenarios, RunOptions(), bus.emit)
    assert status is Status.PASSED
    assert len(ended) == 2 * 300 + 3
    # the connect is rendered (its url is ${url}); the text-only expect takes its text with no
    # matcher compiled (it would be once, if another message came)
    assert made == {"plan": 5, "matcher": 0, "render": 1}


def test_the_collector_skips_the_loaded_suite_while_it_runs(tmp_path: Path) -> None:
    """What was alive when the run started (the loaded suite) is frozen through the run: the
    collector's full passes no longer walk it once per pass; it is thawed at the end."""
    (tmp_path / "s.yaml").write_text(
        'name: s\nsteps:\n  - connect: {url: "${url}"}\n  - send: a\n  - expect: {text: a}\n',
        encoding="utf-8",
    )
    frozen: list[int] = []
    with websockets_server(echo) as server:
        suite = load_suite([str(tmp_path)], {"url": url_of(server)})
        bus = EventBus()
        bus.subscribe(lambda event: frozen.append(gc.get_freeze_count()))
        assert run_suite(suite, suite.scenarios, RunOptions(), bus.emit) is Status.PASSED
    assert min(frozen[1:-1]) > 10_000  # the models, the modules: all that lived before
    assert gc.get_freeze_count() == 0
