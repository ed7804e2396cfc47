"""What the steps of one running scenario share: its connections, variables, clock and limits."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from runner.events import Event
from runner.executor.clock import Clock, Deadline
from runner.executor.connection import Connection
from runner.executor.failures import ConnectionFailed
from runner.matching import compile_matcher
from runner.scenario.templates import render

__all__ = ["ScenarioContext"]


@dataclass
class ScenarioContext:
    """The state of one running scenario; one thread uses it (listeners only touch inboxes).

    Attributes:
        index: the scenario's position in the run (events carry it).
        variables: the scenario's variables, growing with every `save`.
        timeout: the default wait of steps that set none (the scenario's `timeout`).
        limit: the deadline of the whole scenario (``--timeout``), never by default.
        ignore: compiled matchers of the scenario's `ignore` rules.
    """

    index: int
    variables: dict[str, Any]
    timeout: float
    clock: Clock
    emit: Callable[[Event], None]
    stop: threading.Event
    limit: Deadline
    ignore: list[Any] = field(default_factory=list)
    connections: dict[str, Connection] = field(default_factory=dict)

    def render(self, value: Any, step: Any) -> Any:
        """`value` with its ``${...}`` templates filled in from the variables and the step's
        bindings (the `with:` of a library block); raise `ScenarioError` for an unknown one."""
        bindings = getattr(step, "bindings", None) or {}
        variables = {**self.variables, **bindings} if bindings else self.variables
        return render(value, variables, step.location)

    def deadline(self, seconds: float | None) -> Deadline:
        """The deadline of a wait of `seconds` (the default timeout when None), within `limit`."""
        wait = self.timeout if seconds is None else seconds
        return Deadline.after(wait).earliest(self.limit)

    def connection(self, name: str, step: Any) -> Connection:
        """The connection called `name`; a step that names an unknown one fails."""
        try:
            return self.connections[name]
        except KeyError:
            known = ", ".join(sorted(self.connections)) or "none yet"
            raise ConnectionFailed(
                f"no connection named {name!r} (connected: {known})", name, step.location
            ) from None

    def compile_ignore(self, specs: list[Any], step: Any) -> list[Any]:
        """Compile `ignore` rules after filling in their templates."""
        return [compile_matcher(self.render(spec, step)) for spec in specs]

    def is_noise(self, data: str | bytes, extra: list[Any]) -> bool:
        """Whether a message matches an ignore rule of the scenario or of `extra`."""
        return any(m.match(data).ok for m in (*self.ignore, *extra))
