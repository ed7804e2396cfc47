"""The `call` step: a request on a protocol connection, sent with a fresh id, and its reply.

Defined on the bases of `steps.py`, which imports this module before it builds the union. The
request is written as the protocol writes it, beside the step's own keys::

    - call: {method: sum, params: [1, 2], expect: {json: {result: 3}}}      # json-rpc
    - call: {event: sum, args: [1, 2], expect: {json: {args: [3]}}}         # socket.io

Every key but `expect`, `save`, `timeout` and `conn` is the request; the connection's protocol
validates it (`Protocol.request_model`): at load time when the step's connect is in the same
file (`call_checks`), and always when the step runs.
"""

from typing import Any, Literal, Self

from pydantic import ConfigDict, Field, model_validator

from runner.scenario.fields import TemplatedDuration
from runner.scenario.matchers import MatcherFields, regex_groups
from runner.scenario.steps import ConnectionStep, _check_save

__all__ = ["CALL_KEYS", "CallExpect", "CallStep"]

#: The keys of a call step that are not its request.
CALL_KEYS = ("kind", "conn", "expect", "save", "timeout")


class CallExpect(MatcherFields):
    """What the reply's envelope must be (every matcher of `expect`)."""


class CallStep(ConnectionStep):
    """Send a request on a protocol connection with a fresh id, and wait for its reply (the
    keys other than expect, save, timeout and conn are the request, as the protocol writes it)."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"additionalProperties": True})
    waits = True
    kind: Literal["call"] = Field("call", description="the step's kind")
    expect: CallExpect | None = Field(
        None, description="what the reply's envelope must be (default: any reply)"
    )
    save: dict[str, str] = Field(
        default_factory=dict,
        description="variables to save from the reply's envelope: name → JSONPath (starting "
        "with $), or the name of a named group of `expect.regex`",
    )
    timeout: TemplatedDuration | None = Field(
        None, description="how long to wait for the reply (default: the scenario's timeout)"
    )

    def request(self) -> dict[str, Any]:
        """The request: every key written that is not one of the step's own."""
        return dict(self.model_extra or {})

    def saved_variables(self) -> set[str]:
        """The `save` names and the named groups of `expect.regex`."""
        regex = self.expect.regex if self.expect is not None else None
        return {*self.save, *regex_groups(regex)}

    @model_validator(mode="after")
    def _request_and_saves(self) -> Self:
        if not self.model_extra:
            raise ValueError(
                "expected the request beside expect/save/timeout/conn (e.g. method: sum, "
                "params: [1, 2] for json-rpc; event: sum, args: [1, 2] for socket.io)"
            )
        regex = self.expect.regex if self.expect is not None else None
        for name, source in self.save.items():
            _check_save(name, source, regex)
        return self
