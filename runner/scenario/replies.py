"""Models of what a `connect` step (or a scenario) adds around the conversation itself.

- `ReplyRule`: an auto-reply; a message that matches `when` is answered with `send` at once,
  on the connection's thread, and never reaches the inbox (Engine.IO's ``2``/``3``, JSON pings).
- `Keepalive`: the client core's WebSocket pings (RFC 6455 5.5.2), ``pingInterval``/``pongTimeout``.
- `ExpectBody`: what the body of a refused handshake must be.

A rule's templates are not rendered with the step: `when` is rendered when its connection
opens, `send` for each reply, with the values `when` saved on top of the scenario's variables.
So that the loader's checks and the step's rendering leave them alone, `OpaqueRules` carries the
rules through a step's `model_dump` untouched.
"""

from typing import Self

from pydantic import Field, model_validator

from runner.scenario.fields import Model, TemplatedDuration
from runner.scenario.matchers import IgnoreRule, MatcherFields
from runner.scenario.outgoing import Outgoing

__all__ = [
    "ExpectBody",
    "Keepalive",
    "OpaqueRules",
    "ReplyRule",
    "ReplySend",
    "ReplyWhen",
    "unwrap_rules",
]


class ReplyWhen(IgnoreRule):
    """The messages a rule answers: every matcher must hold; `save` takes values for `send`."""

    save: dict[str, str] = Field(
        default_factory=dict,
        description="values for the reply's templates: name → JSONPath (starting with $) or "
        "the name of a named group of `regex`; they are seen by this reply only",
    )

    @model_validator(mode="after")
    def _saves(self) -> Self:
        from runner.scenario.steps import _check_save  # steps imports this module

        for name, source in self.save.items():
            _check_save(name, source, self.regex)
        return self


class ReplySend(Outgoing):
    """The reply: exactly one of text, json, binary (like a `send` step)."""


class ReplyRule(Model):
    """An auto-reply: a message that matches `when` is answered with `send`, and is consumed."""

    when: ReplyWhen = Field(description="the messages to answer (matchers, and `save`)")
    send: str | ReplySend = Field(
        description="the reply: a text message, or {text | json | binary}; templates see the "
        "scenario's variables and what `when` saved"
    )


class OpaqueRules:
    """Reply rules passing through a step's `model_dump` unchanged (see the module docstring)."""

    __slots__ = ("rules",)

    def __init__(self, rules: list[ReplyRule]) -> None:
        self.rules = rules

    def __eq__(self, other: object) -> bool:
        return isinstance(other, OpaqueRules) and self.rules == other.rules

    __hash__ = None  # type: ignore[assignment]  # mutable, like the list it holds

    def __repr__(self) -> str:
        return f"OpaqueRules({self.rules!r})"


def unwrap_rules(value: object) -> object:
    """The rules an `OpaqueRules` holds, or `value` as it is."""
    return value.rules if isinstance(value, OpaqueRules) else value


class Keepalive(Model):
    """WebSocket pings sent by the client core (RFC 6455 5.5.2); the server's pongs are awaited."""

    interval: TemplatedDuration = Field(description="time between pings: 10s; 0 sends none")
    timeout: TemplatedDuration = Field(
        30.0,
        description="how long a ping may wait for its pong before the connection counts as "
        "lost (closed with 1006); 0 waits forever",
    )


class ExpectBody(MatcherFields):
    """What the body of a refused handshake must be, read as UTF-8 text."""

    @model_validator(mode="after")
    def _a_matcher(self) -> Self:
        self._require_matcher()
        return self
