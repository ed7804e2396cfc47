"""The code rules CI holds the project to: mypy --strict, ruff, and the client core's isolation."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *command], cwd=ROOT, capture_output=True, text=True, timeout=300
    )


def test_mypy_strict_is_clean_on_runner() -> None:
    result = _run("mypy", "--strict", "runner")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("command", [("ruff", "check", "."), ("ruff", "format", "--check", ".")])
def test_ruff_is_clean(command: tuple[str, ...]) -> None:
    result = _run(*command)
    assert result.returncode == 0, result.stdout + result.stderr


def _runner_imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return {name for name in names if name == "runner" or name.startswith("runner.")}


@pytest.mark.parametrize(
    "path", sorted((ROOT / "runner" / "client").glob("*.py")), ids=lambda p: p.name
)
def test_the_client_core_stands_alone(path: Path) -> None:
    """runner.client is a library of its own: it knows only itself and the exception tree."""
    outside = {
        name
        for name in _runner_imports(path)
        if not name.startswith(("runner.client", "runner.errors"))
    }
    assert outside == set()
