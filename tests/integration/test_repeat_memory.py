"""A long `repeat` runs in constant memory: peak RSS of ``wsrun -q`` as a whole process grows
by next to nothing between 5,000 and 25,000 iterations of a send/expect pair.

Before, the console reporter kept every `StepEnded` (two per iteration, ~400 bytes with their
list slots) for its latency summary: 20,000 iterations more cost ~8 MiB more. It keeps the
latencies alone now (16 bytes an expect), and the executor keeps one plan per step, not one per
iteration.
"""

from __future__ import annotations

import gc
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from runner.cli import ExitCode
from runner.events import EventBus, Status
from runner.executor import RunOptions, context, run_suite
from runner.executor.scenario_run import StepPlan
from runner.scenario import load_suite
from tests.support import echo, timeout, url_of, websockets_server

ROOT = Path(__file__).resolve().parents[2]

PEAK = """
import resource, subprocess, sys
code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode
print(code, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def _peak_kib(folder: Path, url: str, iterations: int) -> int:
    """Peak RSS (KiB) of ``wsrun -q`` running `iterations` echo pairs in a repeat."""
    path = folder / f"repeat_{iterations}.yaml"
    path.write_text(
        "name: long repeat\n"
        "steps:\n"
        '  - connect: {url: "${url}"}\n'
        f"  - repeat:\n      count: {iterations}\n      steps:\n"
        "        - send: hello\n"
        "        - expect: {text: hello}\n"
        "  - close\n",
        encoding="utf-8",
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "runner", "-q", str(path), "--var", f"url={url}"]
    result = subprocess.run(
        [sys.executable, "-c", PEAK, *command],
        capture_output=True,
        text=True,
        timeout=timeout(60),
        env=env,
    )
    code, peak = result.stdout.split()
    assert int(code) == ExitCode.OK, result.stderr
    return int(peak)


def test_a_long_repeat_runs_in_constant_memory(tmp_path: Path) -> None:
    with websockets_server(echo) as server:
        url = url_of(server)
        short = _peak_kib(tmp_path, url, 5_000)
        long = _peak_kib(tmp_path, url, 25_000)
    grown = long - short
    assert grown < 4 * 1024, f"20,000 iterations more: {grown:,} KiB more ({short:,} -> {long:,})"


def test_plain_steps_are_prepared_once_however_many_iterations(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """300 iterations of a send/expect pair without templates: each step's plan and matcher
    are made once, and only the templated connect goes through pydantic again (`render_step`)."""
    made: dict[str, int] = {"plan": 0, "matcher": 0, "render": 0}

    def counted(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            made[name] += 1
            return function(*args, **kwargs)

        return call

    monkeypatch.setattr(StepPlan, "of", staticmethod(counted("plan", StepPlan.of)))
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
    assert made == {"plan": 5, "matcher": 1, "render": 1}  # the connect: its url is ${url}


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
