"""`--timeout` reads durations in the scenarios' own grammar (`parse_duration`)."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from rich.console import Console

from runner.cli import ExitCode, build_parser, main
from runner.scenario.fields import parse_duration


def timeout_of(text: str) -> float:
    return float(build_parser().parse_args(["run", "x.yaml", "--timeout", text]).timeout)


@pytest.mark.parametrize(
    ("text", "seconds"), [("1h", 3600.0), ("250ms", 0.25), ("2s", 2.0), ("1.5m", 90.0), ("3", 3.0)]
)
def test_timeout_takes_every_duration_a_scenario_takes(text: str, seconds: float) -> None:
    assert timeout_of(text) == seconds == parse_duration(text)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("soon", "expected a duration such as 250ms, 2s, 1m or a number of seconds, found 'soon'"),
        ("1d", "expected a duration such as 250ms, 2s, 1m or a number of seconds, found '1d'"),
        ("-1s", "expected a duration such as 250ms, 2s, 1m or a number of seconds, found '-1s'"),
        ("0s", "expected a duration above 0, found '0s'"),
    ],
)
def test_a_bad_timeout_exits_2_with_a_clear_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, message: str
) -> None:
    console = Console(file=StringIO(), width=100, color_system=None)
    code = main([str(tmp_path), f"--timeout={text}"], console=console)
    assert code == ExitCode.USAGE
    assert f"wsrun run: error: argument --timeout: {message}\n" in capsys.readouterr().err


def test_a_run_with_an_hour_long_timeout(tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_text("name: nap\nsteps:\n  - sleep: 10ms\n", encoding="utf-8")
    console = Console(file=StringIO(), width=100, color_system=None)
    assert main([str(tmp_path), "--timeout", "1h"], console=console) == ExitCode.OK
