"""Each file in tests/data/bad fails with exactly the errors of its sibling .expected file.

To add a case, write `tests/data/bad/<case>.yaml` and its `<case>.expected` (what
`wsrun validate tests/data/bad/<case>.yaml` prints, run from the repository's root). Libraries the
cases import live in tests/data/bad/lib/.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.scenario import format_errors, validate_paths

ROOT = Path(__file__).resolve().parents[3]
BAD = ROOT / "tests" / "data" / "bad"
CASES = sorted(BAD.glob("*.yaml"))


def test_there_are_cases_with_expectations() -> None:
    assert len(CASES) >= 15
    assert sorted(p.stem for p in BAD.glob("*.expected")) == [p.stem for p in CASES]


@pytest.mark.parametrize("case", CASES, ids=[p.stem for p in CASES])
def test_bad_file(case: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    relative = case.relative_to(ROOT)
    found = format_errors(validate_paths([relative]))
    assert found == case.with_suffix(".expected").read_text(encoding="utf-8")


def test_a_folder_reports_every_file_sorted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    errors = validate_paths([BAD.relative_to(ROOT)])
    files = {e.location.file for e in errors if e.location}
    expected = {
        line.split(":", 1)[0]
        for case in CASES
        for line in case.with_suffix(".expected").read_text(encoding="utf-8").splitlines()
        if line and not line.startswith(" ")
    }
    assert files == expected
    where = [(e.location.file, e.location.line, e.location.column) for e in errors if e.location]
    assert where == sorted(where)
