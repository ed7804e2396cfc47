"""What the steps of one running scenario share: its connections, variables, clock and limits."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError

from runner.errors import ScenarioError
from runner.events import Event
from runner.executor.clock import Clock, Deadline
from runner.executor.connection import Connection
from runner.executor.failures import ConnectionFailed
from runner.matching import compile_matcher
from runner.scenario.fields import RENDERED
from runner.scenario.rendering import render_step
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
        """`model` (a step or an ignore rule) with every template filled in, each field of its
        declared type again. Models without templates come back as they are.

        Raises:
            ScenarioError: an unset environment variable, or a rendered value of the wrong type.
        """
        plain = self._plain.get(id(model))
        if plain is None:
            plain = self._plain[id(model)] = not _has_template(model)
        if plain:
            return model
        if hasattr(model, "kind"):
            return render_step(model, self.variables)
        return self._rendered_rule(model, where)

    def _rendered_rule(self, rule: Any, where: Any) -> Any:
        location = getattr(where, "location", None)
        values = render(
            rule.model_dump(by_alias=True, exclude_unset=True), self.variables, location
        )
        try:
            return type(rule).model_validate(values, strict=False, context=RENDERED)
        except ValidationError as error:
            problem = "; ".join(e["msg"] for e in error.errors(include_url=False))
            raise ScenarioError(f"ignore: {problem.lower()} once rendered", location) from None

    def conn_name(self, step: Any) -> str:
        """The step's connection: named, or else the scenario's first (``main`` if none yet)."""
        if step.conn:
            return str(step.conn)
        return next(iter(self.connections), DEFAULT_CONN)

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


def _has_template(value: Any) -> bool:
    """Whether a model (or a value in it) holds a ``${`` anywhere (``$${`` included)."""
    if isinstance(value, str):
        return "${" in value
    if isinstance(value, BaseModel):  # only the fields written can hold a template
        fields = value.model_fields_set - {"kind", "bindings", "location"}
        return any(_has_template(getattr(value, name)) for name in fields)
    if isinstance(value, dict):
        return any(_has_template(k) or _has_template(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_has_template(item) for item in value)
    return False
