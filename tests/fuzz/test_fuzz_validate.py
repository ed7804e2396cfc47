"""Fuzzing `wsrun validate`: seeded mutations of the example files, each held to "exit 0 or 2,
no traceback, within a bounded time".

The cases are the files in scenarios/ (scenarios, libraries, the suite file), mutated by a seeded
random generator: characters and lines deleted, duplicated or swapped, YAML punctuation and
template syntax inserted, and scalars replaced by the values that crashed the validator in a
fault trial (deep nesting, huge integers, catastrophic or unsupported regular expressions,
huge template arguments, unhashable values where a flag goes). `WSRUN_FUZZ_CASES` sets how many
(default 3,000, about 25 s) and `WSRUN_FUZZ_SEED` the seed (default: fixed, so that CI is
reproducible); a failure names the seed and the case, and keeps the file that failed.
"""

from __future__ import annotations

import os
import random
import shutil
import time
from io import StringIO
from pathlib import Path

import pytest
from rich.console import Console

from runner.cli import ExitCode, main
from tests.support import timeout

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
CASES = int(os.environ.get("WSRUN_FUZZ_CASES", "3000"))
SEED = int(os.environ.get("WSRUN_FUZZ_SEED", "20261201"))
#: The most one case may take (a file of the examples' size validates in milliseconds).
PER_CASE = timeout(2)

#: Values that were a traceback, a hang or a MemoryError before (issue 9).
HOSTILE = [
    "[" * 400 + "]" * 400,
    "{a: " * 120 + "1" + "}" * 120,
    "9" * 4301,
    "0x" + "f" * 3000,
    "'^(a+)+$'",
    "'a{4294967296}'",
    "'" + "(" * 1000 + ")" * 1000 + "'",
    r"'(a)\1'",
    "'(?=x)'",
    "'{{regex:(?<=a)}}'",
    "'{{regex:a{4294967296}}}'",
    "'${random_int(1, " + "9" * 4301 + ")}'",
    "'${random_string(1000000000)}'",
    "'${random_int(3, 1)}'",
    "'${nope(}'",
    "'${env.HOME}'",
    "{a: 1}",
    "[1]",
    "[[], {}]",
    "null",
    "-1",
    "1e999",
    "99999999999999999999999999999999s",
    ".nan",
    "*undefined_alias",
    "&x [*x]",
    "!!python/object:os.system {}",
    "'\\x00'",
    '"\\u0000"',
    "'" + "x" * 20000 + "'",
]
#: Bits of syntax inserted at random places.
SYNTAX = [
    "{",
    "}",
    "[",
    "]",
    ":",
    ": ",
    "- ",
    "\n",
    "\n  ",
    "'",
    '"',
    "#",
    "&a ",
    "*a",
    "!!str ",
    "<<: ",
    "${",
    "}",
    "$${",
    "{{",
    "}}",
    "{{regex:",
    "${x}",
    "${env.X:-1}",
    "\t",
    "\\",
    "%",
    "?",
    "|",
    ">",
    "---\n",
    "...\n",
    "\x00",
    "\ufeff",
    "é",
    "0o9",
    "010",
    "yes",
    "~",
]


def example_files() -> list[Path]:
    return sorted(SCENARIOS.rglob("*.yaml"))


def mutate(text: str, rng: random.Random) -> str:
    """One to four random edits of `text`."""
    for _ in range(rng.randint(1, 4)):
        text = rng.choice(_EDITS)(text, rng)
    return text


def _delete(text: str, rng: random.Random) -> str:
    if not text:
        return text
    start = rng.randrange(len(text))
    return text[:start] + text[start + rng.randint(1, 20) :]


def _insert(text: str, rng: random.Random) -> str:
    at = rng.randrange(len(text) + 1)
    return text[:at] + rng.choice(SYNTAX) + text[at:]


def _lines(text: str, rng: random.Random) -> str:
    lines = text.splitlines()
    if len(lines) < 2:
        return text
    i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
    choice = rng.randrange(3)
    if choice == 0:
        lines[i], lines[j] = lines[j], lines[i]
    elif choice == 1:
        lines.insert(j, lines[i])
    else:
        del lines[i]
    return "\n".join(lines) + "\n"


def _hostile(text: str, rng: random.Random) -> str:
    """A scalar after a `key: ` replaced by a hostile value."""
    starts = [i + 2 for i in range(len(text) - 1) if text[i : i + 2] == ": "]
    if not starts:
        return text
    start = rng.choice(starts)
    end = start
    while end < len(text) and text[end] not in ",}\n":
        end += 1
    return text[:start] + rng.choice(HOSTILE) + text[end:]


def _dedent(text: str, rng: random.Random) -> str:
    lines = text.splitlines()
    if not lines:
        return text
    i = rng.randrange(len(lines))
    lines[i] = lines[i][rng.randint(1, 4) :] if rng.random() < 0.5 else "  " + lines[i]
    return "\n".join(lines) + "\n"


_EDITS = [_delete, _insert, _insert, _lines, _hostile, _hostile, _dedent]


def validate(path: Path) -> tuple[int, str, float]:
    console = Console(file=StringIO(), width=100, color_system=None)
    started = time.monotonic()
    code = main(["validate", str(path)], console=console)
    elapsed = time.monotonic() - started
    return code, console.file.getvalue(), elapsed  # type: ignore[attr-defined]


def test_the_mutator_mutates_and_the_examples_are_valid(tmp_path: Path) -> None:
    files = example_files()
    assert len(files) >= 15
    rng = random.Random(SEED)
    text = files[0].read_text(encoding="utf-8")
    assert any(mutate(text, rng) != text for _ in range(10))
    copy = tmp_path / "scenarios"
    shutil.copytree(SCENARIOS, copy)
    code, out, _ = validate(copy)
    assert code == ExitCode.OK, out


def test_validate_holds_on_mutated_examples(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("X", raising=False)
    copy = tmp_path / "scenarios"
    shutil.copytree(SCENARIOS, copy)
    originals = {path: path.read_text(encoding="utf-8") for path in sorted(copy.rglob("*.yaml"))}
    files = list(originals)
    rng = random.Random(SEED)
    codes: dict[int, int] = {}
    for case in range(CASES):
        target = rng.choice(files)
        mutated = mutate(originals[target], rng)
        target.write_text(mutated, encoding="utf-8")
        try:
            code, out, elapsed = validate(target)
        finally:
            target.write_text(originals[target], encoding="utf-8")
        failed = code not in (ExitCode.OK, ExitCode.USAGE) or "Traceback" in out
        if failed or elapsed > PER_CASE:
            kept = tmp_path / f"case-{case}{target.suffix}"
            kept.write_text(mutated, encoding="utf-8")
            pytest.fail(
                f"seed {SEED}, case {case} ({target.relative_to(copy)}, kept as {kept}): "
                f"exit {code} in {elapsed:.2f}s\n{out[-3000:]}"
            )
        codes[code] = codes.get(code, 0) + 1
    assert codes.get(ExitCode.USAGE, 0) > CASES // 4  # the mutations do break files
    assert sum(codes.values()) == CASES
