"""Recording: turn a recorded WebSocket session (a HAR file, a proxied or interactive session)
into a scenario file.

    session.py       the recorded session: connections and their frames, in time order
    to_scenario.py   a session -> scenario YAML (placeholders, save/${var}, heartbeats, secrets)
    har.py           a HAR file (Chrome's `_webSocketMessages` format) -> a session, with warnings
    proxy.py         `wsrun record --listen --upstream`: a recording proxy
    interactive.py   `wsrun record URL`: an interactive session like wscat
    commands.py      the `import` and `record` subcommands (parsers and their work)
"""

from runner.recording.session import Close, Connection, Exchange, Frame, Session
from runner.recording.to_scenario import scenario_text

__all__ = ["Close", "Connection", "Exchange", "Frame", "Session", "scenario_text"]
