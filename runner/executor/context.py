"""What the steps of one running scenario share: its connections, variables, clock and limits."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from runner.errors import ScenarioError
from runner.events import Event
from runner.executor.clock import Clock, Deadline
from runner.executor.connection import Connection
from runner.executor.failures import ConnectionFailed
from runner.matching import compile_matcher
from runner.scenario.fields import RENDERED
from runner.scenario.templates import render

__all__ = ["DEFAULT_CONN", "ScenarioContext"]

#: The name of a connection whose connect step names none.
DEFAULT_CONN = "main"


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
    matchers: dict[int, Any] = field(default_factory=dict)
    _plain: dict[int, bool] = field(default_factory=dict)

    def rendered(self, model: Any, where: Any = None) -> Any:
        """`model` (a step or an ignore rule) with every template filled in, validated again
        with the values' real types. Models without templates come back as they are.

        Raises:
            ScenarioError: an unknown variable, or a rendered value of the wrong type.
        """
        where = where if where is not None else model
        plain = self._plain.get(id(model))
        if plain is None:
            data = model.model_dump(by_alias=True, exclude_unset=True)
            plain = self._plain[id(model)] = "${" not in json.dumps(data, default=str)
        if plain:
            return model
        values = self.render(model.model_dump(by_alias=True, exclude_unset=True), where)
        if hasattr(model, "kind"):
            values["kind"] = model.kind
        try:
            rendered = type(model).model_validate(values, context=RENDERED)
        except ValidationError as error:
            problem = "; ".join(e["msg"] for e in error.errors())
            location = getattr(where, "location", None)
            raise ScenarioError(f"after filling in templates: {problem}", location) from None
        if hasattr(model, "location"):
            rendered = rendered.model_copy(update={"location": model.location})
        return rendered

    def conn_name(self, step: Any) -> str:
        """The step's connection: named, or else the scenario's first (``main`` if none yet)."""
        if step.conn:
            return str(step.conn)
        return next(iter(self.connections), DEFAULT_CONN)

    def render(self, value: Any, step: Any) -> Any:
        """`value` with its ``${...}`` templates filled in from the variables and the step's
        bindings (the `with:` of a library block); raise `ScenarioError` for an unknown one."""
        bindings = getattr(step, "bindings", None) or {}
        variables = {**self.variables, **bindings} if bindings else self.variables
        return render(value, variables, getattr(step, "location", None))

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

    def matcher(self, step: Any, spec: Any) -> Any:
        """The compiled matcher of a rendered spec; kept per step when it has no templates."""
        if spec is not step:
            return compile_matcher(spec)
        compiled = self.matchers.get(id(step))
        if compiled is None:
            compiled = self.matchers[id(step)] = compile_matcher(spec)
        return compiled

    def compile_ignore(self, rules: list[Any], where: Any) -> list[Any]:
        """Compile `ignore` rules after filling in their templates (errors point at `where`)."""
        return [self.matcher(rule, self.rendered(rule, where)) for rule in rules]

    def is_noise(self, data: str | bytes, extra: list[Any]) -> bool:
        """Whether a message matches an ignore rule of the scenario or of `extra`."""
        return any(m.match(data).ok for m in (*self.ignore, *extra))
