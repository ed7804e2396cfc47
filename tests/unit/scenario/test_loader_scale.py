"""Big files load: 100,000 steps and 50,000 parametrize rows are valid, not refused.

The alias-bomb guard counted every value of a file, so a file of some 80,000 steps or more was
refused with "aliases expand without end" (once per value past the limit). It now counts the
values that aliases build again; a billion-laughs file is still refused, with one error. How
fast loading is, is `bench/bench_loader.py`'s business, not these tests'.
"""

from __future__ import annotations

from io import StringIO
from pathlib import Path

from rich.console import Console

from runner.cli import ExitCode, main
from runner.errors import MAX_REPORTED_ERRORS
from runner.scenario import load_suite
from runner.scenario.source import MAX_ALIAS_VALUES, parse_document


def validate(path: Path) -> tuple[int, str]:
    console = Console(file=StringIO(), width=200, color_system=None)
    code = main(["validate", str(path)], console=console)
    return code, console.file.getvalue()  # type: ignore[attr-defined]


def steps_file(path: Path, steps: int) -> Path:
    lines = ["name: big", "steps:", '  - connect: {url: "ws://127.0.0.1:9/"}']
    for i in range(steps // 2):
        lines += [f"  - send: m{i}", f"  - expect: {{text: m{i}}}"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_100000_steps_validate(tmp_path: Path) -> None:
    code, out = validate(steps_file(tmp_path / "big.yaml", 100_000))
    assert "aliases expand without end" not in out
    assert code == ExitCode.OK, out[:2000]
    assert "valid: 1 path checked, no errors" in out


def test_100000_steps_load_every_step_with_its_line(tmp_path: Path) -> None:
    [scenario] = load_suite([steps_file(tmp_path / "big.yaml", 100_000)]).scenarios
    assert len(scenario.steps) == 100_001
    last = scenario.steps[-1]
    assert last.location is not None
    assert last.location.line == 100_003  # name, steps, connect, then one step a line


def test_50000_parametrize_rows_are_50000_scenarios(tmp_path: Path) -> None:
    rows = [f"  - {{user: u{i}, n: {i % 7}}}" for i in range(50_000)]
    text = "\n".join(
        ["name: rows", "parametrize:", *rows, "steps:", '  - connect: "ws://127.0.0.1:9/${user}"']
    )
    (tmp_path / "rows.yaml").write_text(text + "\n", encoding="utf-8")
    scenarios = load_suite([tmp_path / "rows.yaml"]).scenarios
    assert len(scenarios) == 50_000
    assert scenarios[12_345].name == "rows[u12345-4]"
    assert len({s.name for s in scenarios}) == 50_000


def billion_laughs() -> str:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    return "\n".join(lines) + "\n"


def test_an_alias_bomb_is_still_refused_with_one_error(tmp_path: Path) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text("name: bomb\nsteps: []\n" + billion_laughs(), encoding="utf-8")
    code, out = validate(path)
    assert code == ExitCode.USAGE
    assert out.count("aliases expand without end") == 1, out
    assert f"more than {MAX_ALIAS_VALUES:,} values built again through aliases" in out


def test_aliases_count_their_expansions_only() -> None:
    """An anchor used many times is fine while what it expands to stays under the limit, however
    many values the file holds itself."""
    used = MAX_ALIAS_VALUES // 10  # each use builds the list and its 9 items again
    own = "own: [" + "1, " * MAX_ALIAS_VALUES + "1]"  # more plain values than the limit
    text = "\n".join(["base: &b [x, x, x, x, x, x, x, x, x]", own, "uses:"] + ["  - *b"] * used)
    document = parse_document(text + "\n", "t.yaml")
    assert document.problems == []
    assert document.value["uses"][-1] == ["x"] * 9
    over = parse_document(text + "\n  - *b\n", "t.yaml")  # 10 values more than the limit
    assert ["aliases expand without end" in str(p) for p in over.problems] == [True]


def test_20000_bad_values_are_reported_once_each_up_to_the_cap(tmp_path: Path) -> None:
    """Each error marked its value by scanning every value of the file: 20,000 errors in a file
    of 20,000 values did not finish in minutes."""
    lines = ["name: tags", "vars:"] + [f"  v{i}: !!binary aGk=" for i in range(20_000)]
    path = tmp_path / "tags.yaml"
    steps = ["steps:", "  - connect: ws://127.0.0.1:9/"]
    path.write_text("\n".join([*lines, *steps]) + "\n", encoding="utf-8")
    code, out = validate(path)
    assert code == ExitCode.USAGE
    assert out.count("unsupported tag !!binary") == MAX_REPORTED_ERRORS
    assert f"and {20_000 - MAX_REPORTED_ERRORS:,} more errors, not shown" in out


def test_validate_of_a_valid_file_leaves_the_reporters_unimported(tmp_path: Path) -> None:
    """``wsrun validate`` starts fast: a valid file imports neither the console reporter nor
    what it pulls in (``runner.report.console`` was imported only for a width constant)."""
    import subprocess
    import sys

    path = tmp_path / "one.yaml"
    path.write_text("name: one\nsteps:\n  - connect: ws://127.0.0.1:9/\n", encoding="utf-8")
    code = (
        "import sys\nfrom runner.cli import main\n"
        f"assert main(['validate', {str(path)!r}]) == 0\n"
        "print(sorted(m for m in sys.modules if m.startswith('runner.report.console')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["valid: 1 path checked, no errors", "[]"]


def test_the_cli_no_wrap_width_is_the_console_reporters() -> None:
    from runner import cli
    from runner.report.console import NO_WRAP_WIDTH

    assert cli._NO_WRAP_WIDTH == NO_WRAP_WIDTH
