"""Plain-text rendering of scenario errors, as `wsrun validate` and the bad-file tests show them."""

from __future__ import annotations

from collections.abc import Iterable

from runner.errors import ScenarioError

__all__ = ["format_error", "format_errors"]


def format_error(error: ScenarioError) -> str:
    """`file:line:col: message; expected ...; found ... (hint)` and the offending line."""
    text = str(error)
    if error.snippet:
        text += "\n" + "\n".join("    " + line for line in error.snippet.splitlines())
    return text


def format_errors(errors: Iterable[ScenarioError]) -> str:
    """Every error, one block each, separated by blank lines."""
    return "\n\n".join(format_error(error) for error in errors) + "\n"
