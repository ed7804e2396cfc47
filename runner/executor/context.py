"""What the steps of one running scenario share: its connections, variables, clock and limits."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ValidationError

from runner.errors import Location, ScenarioError
from runner.events import Event
from runner.executor.clock import Clock, Deadline
from runner.executor.connection import Connection
from runner.executor.failures import ConnectionFailed
from runner.matching import Matcher, MatcherSource, compile_matcher
from runner.scenario.fields import RENDERED
from runner.scenario.kinds import StepModel
from runner.scenario.rendering import render_step
from runner.scenario.replies import ReplyRule
from runner.scenario.steps import DEFAULT_CONN, ConnectionStep, IgnoreRule
from runner.scenario.templates import render

if TYPE_CHECKING:
    from http.cookiejar import CookieJar

    from runner.executor.step_registry import StepPlan

__all__ = ["CLOSING_AT_END", "ScenarioContext"]

#: `ScenarioContext.step_index` once the steps are over and the connections are being closed.
CLOSING_AT_END = -2

_S = TypeVar("_S", bound=StepModel)
_monotonic = time.monotonic


@dataclass
class ScenarioContext:
    """The state of one running scenario; one thread uses it (listeners only touch inboxes).

    Attributes:
        index: the scenario's position in the run (events carry it).
        variables: the scenario's variables, growing with every `save`.
        timeout: the default wait of steps that set none (the scenario's `timeout`).
        limit: the deadline of the whole scenario (``--timeout``), never by default.
        limit_seconds: that ``--timeout`` in seconds, for messages (None: no limit).
        ignore: compiled matchers of the scenario's `ignore` rules.
        step_index, step_kind: the step running (set by the scenario runner as each begins;
            connections read them when they end, to say during which step).
        plan: the plan of the step running (set with them): what its runner may keep.
        cookies: the scenario's cookie jar, shared by `http` and `connect` (made by the first
            step that needs one: `runner.executor.http.cookie_jar`).
    """

    index: int
    variables: dict[str, Any]
    timeout: float
    clock: Clock
    emit: Callable[[Event], None]
    stop: threading.Event
    limit: Deadline
    limit_seconds: float | None = None
    ignore: list[Matcher] = field(default_factory=list)
    replies: list[ReplyRule] = field(default_factory=list)  # the scenario's `reply` rules
    connections: dict[str, Connection] = field(default_factory=dict)
    retired: list[Connection] = field(default_factory=list)  # replaced by a new connect
    matchers: dict[int, Matcher] = field(default_factory=dict)
    _plain: dict[int, bool] = field(default_factory=dict)
    step_index: int = -1
    step_kind: str = ""
    plan: StepPlan | None = None
    cookies: CookieJar | None = None

    def during(self) -> str:
        """``during step 3 (sleep)``: when, in the scenario, for a person."""
        if self.step_index == CLOSING_AT_END:
            return "while the scenario closed its connections at its end"
        if self.step_index < 0:
            return "before the first step"
        return f"during step {self.step_index + 1} ({self.step_kind})"

    def limit_reached(self) -> bool:
        """Whether the scenario's ``--timeout`` has run out."""
        return self.limit_seconds is not None and self.limit.expired()

    def rendered(self, step: _S) -> _S:
        """`step` with every template filled in, each field of its declared type again; a step
        without templates comes back as it is.

        Raises:
            ScenarioError: an unset environment variable, or a rendered value of the wrong type.
        """
        plan = self.plan
        if plan is not None and plan.step is step:  # the step running: its plan knows
            return step if plan.plain else render_step(step, self.variables)
        plain = self._plain.get(id(step))
        if plain is None:
            plain = self._plain[id(step)] = not _has_template(step)
        return step if plain else render_step(step, self.variables)

    def rendered_rule(self, rule: IgnoreRule, where: Location | None) -> IgnoreRule:
        """An `ignore` rule with its templates filled in (errors point at `where`)."""
        if self._is_plain(rule):
            return rule
        values = render(rule.model_dump(by_alias=True, exclude_unset=True), self.variables, where)
        try:
            return IgnoreRule.model_validate(values, strict=False, context=RENDERED)
        except ValidationError as error:
            problem = "; ".join(e["msg"] for e in error.errors(include_url=False))
            raise ScenarioError(f"ignore: {problem.lower()} once rendered", where) from None

    def _is_plain(self, model: BaseModel) -> bool:
        plain = self._plain.get(id(model))
        if plain is None:
            plain = self._plain[id(model)] = not _has_template(model)
        return plain

    def conn_name(self, step: ConnectionStep) -> str:
        """The step's connection: named, or else the scenario's first (``default`` if none)."""
        if step.conn:
            return step.conn
        return next(iter(self.connections), DEFAULT_CONN)

    def deadline(self, seconds: float | None, now: float | None = None) -> Deadline:
        """The deadline of a wait of `seconds` (the default timeout when None), within `limit`,
        from `now` (a `time.monotonic()` the caller read; read here when None).

        The one rule of every step's wait: an expect step calls it for each run (made of
        plain operations: no call but this one)."""
        when = (_monotonic() if now is None else now) + (
            self.timeout if seconds is None else seconds
        )
        limit = self.limit
        return Deadline(when) if when <= limit.when else limit

    def connection(self, step: ConnectionStep) -> Connection:
        """The step's connection; a step that names an unknown one fails."""
        name = step.conn or next(iter(self.connections), DEFAULT_CONN)  # as `conn_name`
        try:
            return self.connections[name]
        except KeyError:
            known = ", ".join(sorted(self.connections)) or "none yet"
            raise ConnectionFailed(
                f"no connection named {name!r} (connected: {known})", name, step.location
            ) from None

    def matcher(
        self, written: MatcherSource, rendered: MatcherSource, *, keep: bool = True
    ) -> Matcher:
        """The compiled matcher of a rendered step or rule; kept per model when it has no
        templates (`rendered` is then `written` itself), unless `keep` is False (the caller
        keeps it: an expect step's plan)."""
        if rendered is not written or not keep:
            return compile_matcher(rendered)
        compiled = self.matchers.get(id(written))
        if compiled is None:
            compiled = self.matchers[id(written)] = compile_matcher(written)
        return compiled

    def compile_ignore(self, rules: list[IgnoreRule], where: Location | None) -> list[Matcher]:
        """Compile `ignore` rules after filling in their templates (errors point at `where`)."""
        return [self.matcher(rule, self.rendered_rule(rule, where)) for rule in rules]

    def is_noise(self, data: str | bytes, extra: list[Matcher]) -> bool:
        """Whether a message matches an ignore rule of the scenario or of `extra`."""
        return any(m.match(data).ok for m in (*self.ignore, *extra))


#: Fields of a model that hold no template: its kind, and what the loader sets.
_UNTEMPLATED = frozenset({"kind", "bindings", "location"})
_SCALARS = (int, float, bool, type(None))


def _has_template(value: Any) -> bool:
    """Whether a model (or a value in it) holds a ``${`` anywhere (``$${`` included)."""
    cls = value.__class__
    if cls is str:
        return "${" in value
    if cls in _SCALARS:
        return False
    if isinstance(value, BaseModel):
        return _model_has_template(value)
    if isinstance(value, str):
        return "${" in value
    if isinstance(value, dict):
        return any(_has_template(k) or _has_template(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_has_template(item) for item in value)
    return False


def _model_has_template(model: BaseModel) -> bool:
    """`_has_template` of a model: only the fields written can hold a template.

    Each step is looked at once per scenario run (as its list's plans are made), so this is on
    the way of every step of a long scenario: a plain loop, no set or generator made per model
    (and the set of fields written read from its slot, not through pydantic's property), and
    for each field its value's class looked at first (most are text or scalars)."""
    fields: dict[str, Any] = model.__dict__  # the few written, not every field, looked at
    for name in model.__pydantic_fields_set__:
        item: Any = fields.get(name)  # (an extra key is in the set, and not in `fields`: None)
        kind = item.__class__
        if kind is str:
            if "${" in item and name not in _UNTEMPLATED:
                return True
        elif kind not in _SCALARS and name not in _UNTEMPLATED and _has_template(item):
            return True  # (a step's timeout, a float: no call)
    extra = model.__pydantic_extra__  # a call step's request is its extra keys
    return _has_template(extra) if extra else False
