"""While scenarios run, the garbage collector runs with `RUN_GC_THRESHOLD` and the loaded suite
frozen; both are as they were after the run (issue 15: a 1,000-connection run made Python's
default thresholds stop every thread for two or three full collections of 57-142 ms each)."""

from __future__ import annotations

import gc
import threading
from pathlib import Path

import pytest

from runner.cli import ExitCode, main
from runner.executor.suite_run import RUN_GC_THRESHOLD, collector_for_runs


def test_a_run_collects_with_the_run_thresholds_and_restores_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "pause.yaml"
    path.write_text("name: pause\nsteps:\n  - sleep: 0.4s\n", encoding="utf-8")
    before = gc.get_threshold()
    assert before != RUN_GC_THRESHOLD
    seen: list[tuple[int, ...]] = []
    frozen: list[int] = []
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.02):
            seen.append(gc.get_threshold())
            frozen.append(gc.get_freeze_count())

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        code = main(["run", "-q", str(path)])
    finally:
        stop.set()
        sampler.join()
    capsys.readouterr()
    assert code == ExitCode.OK
    assert RUN_GC_THRESHOLD in seen  # during the sleep step
    assert max(frozen) > 0  # the loaded suite was frozen
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_the_thresholds_come_back_when_the_run_raises() -> None:
    before = gc.get_threshold()
    with pytest.raises(KeyboardInterrupt), collector_for_runs():
        assert gc.get_threshold() == RUN_GC_THRESHOLD
        raise KeyboardInterrupt
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
