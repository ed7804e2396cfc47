"""Each file in tests/data/bad fails with exactly the errors of its sibling .expected file.

To add a case, write `tests/data/bad/<case>.yaml` and its `<case>.expected` (what
`wsrun validate tests/data/bad/<case>.yaml` prints, run from the repository's root). Libraries the
cases import live in tests/data/bad/lib/.
"""

from __future__ import annotations

import re
from io import StringIO
from pathlib import Path

import pytest
from rich.console import Console

from runner.errors import ScenarioError
from runner.report.console import print_scenario_errors
from runner.scenario import validate_paths

ROOT = Path(__file__).resolve().parents[3]
BAD = ROOT / "tests" / "data" / "bad"
CASES = sorted(BAD.glob("*.yaml"))
_LOCATED = re.compile(r"^(?P<file>\S+?):\d+:\d+: ", re.MULTILINE)


def printed(errors: list[ScenarioError]) -> str:
    """What `wsrun validate` prints for `errors`, on a plain console (no line ever wraps)."""
    console = Console(file=StringIO(), width=100, color_system=None)
    print_scenario_errors(console, errors)
    return console.file.getvalue()  # type: ignore[attr-defined]


def test_there_are_cases_with_expectations() -> None:
    assert len(CASES) >= 15
    assert sorted(p.stem for p in BAD.glob("*.expected")) == [p.stem for p in CASES]


@pytest.mark.parametrize("case", CASES, ids=[p.stem for p in CASES])
def test_bad_file(case: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    relative = case.relative_to(ROOT)
    found = printed(validate_paths([relative]))
    assert found == case.with_suffix(".expected").read_text(encoding="utf-8")


def test_a_folder_reports_every_file_sorted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    errors = validate_paths([BAD.relative_to(ROOT)])
    files = {e.location.file for e in errors if e.location}
    expected = {
        match["file"]
        for case in CASES
        for match in _LOCATED.finditer(case.with_suffix(".expected").read_text(encoding="utf-8"))
    }
    assert files == expected
    where = [(e.location.file, e.location.line, e.location.column) for e in errors if e.location]
    assert where == sorted(where)
