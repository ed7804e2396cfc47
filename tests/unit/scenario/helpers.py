"""Helpers of the scenario tests: write YAML files into a temporary folder and load them."""

from __future__ import annotations

import textwrap
from pathlib import Path

from runner.errors import ScenarioError, ScenarioErrors
from runner.scenario import Suite, load_suite


def write(folder: Path, name: str, text: str) -> Path:
    """Write a dedented YAML file (creating folders) and return its path."""
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def load(folder: Path, text: str, name: str = "s.yaml", **cli: str) -> Suite:
    """Write one scenario file and load it."""
    return load_suite([write(folder, name, text)], cli)


def errors(folder: Path, text: str, name: str = "s.yaml", **cli: str) -> list[ScenarioError]:
    """Write one scenario file and return the errors of loading it (it must fail)."""
    try:
        load(folder, text, name, **cli)
    except ScenarioErrors as exc:
        return exc.errors
    raise AssertionError("the scenario loaded without errors")


def messages(folder: Path, text: str, **cli: str) -> list[str]:
    """The errors of a scenario as `line:col: text` (without the file name)."""
    return [
        str(error).split(":", 1)[1] if error.location else str(error)
        for error in errors(folder, text, **cli)
    ]
