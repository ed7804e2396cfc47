"""runner.recording sits beside the executor: it uses the client core and the language only."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.test_runner_layers import modules, uses

RECORDING = modules("recording")


def test_there_are_modules_to_check() -> None:
    assert {p.name for p in RECORDING} >= {"to_scenario.py", "har.py", "proxy.py"}


@pytest.mark.parametrize("path", RECORDING, ids=lambda p: p.name)
def test_recording_imports_no_reporter_engine_cli_rich_or_websocket_client(path: Path) -> None:
    forbidden = ["runner.report", "runner.executor", "runner.cli", "rich", "websocket"]
    assert [name for name in forbidden if uses(path, name)] == []
