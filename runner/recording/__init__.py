"""Recording: turn a recorded WebSocket session (a HAR file, a proxied or interactive session)
into a scenario file.

    session.py       the recorded session: connections and their frames, in time order
    to_scenario.py   a session -> scenario YAML (placeholders, save/${var}, heartbeats, secrets)
    har.py           a HAR file (Chrome's `_webSocketMessages` format) -> a session, with warnings
    proxy.py         `wsrun record --listen --upstream`: a recording proxy
    interactive.py   `wsrun record URL`: an interactive session like wscat
    commands.py      the `import` and `record` subcommands (parsers and their work)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from runner.recording.session import Close, Connection, Exchange, Frame, Session
    from runner.recording.to_scenario import scenario_text

__all__ = ["Close", "Connection", "Exchange", "Frame", "Session", "scenario_text"]


def __getattr__(name: str) -> Any:
    """The exports, imported on first use: `wsrun --version` imports the `record` parser only."""
    if name == "scenario_text":
        from runner.recording import to_scenario

        return to_scenario.scenario_text
    if name in __all__:
        from runner.recording import session

        return getattr(session, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
