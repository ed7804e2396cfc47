"""Reporters: they subscribe to the event stream and render it (console, JSON, JUnit XML).

Each reporter is a callable taking one `runner.events.Event`, plus `close()`, which writes what
it holds (the file reporters write atomically). The CLI closes every reporter even when the run
fails or is interrupted. Import the reporters from their modules (`runner.report.console`...), so
that a command pays only for what it uses.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # not at run time: `wsrun validate` imports the redaction module, not events
    from runner.events import Event

__all__ = ["Reporter"]


class Reporter(Protocol):
    """What the CLI expects of a reporter."""

    def __call__(self, event: Event) -> None:
        """Take in one event."""

    def close(self) -> None:
        """Finish: write files, flush output."""
