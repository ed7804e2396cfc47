"""The expectation steps beyond `expect` and `expect_none`: expect_all, expect_sequence, poll.

Defined on the bases of `steps.py`, which imports this module before it builds the union.
"""

from typing import Literal, Self

from pydantic import Field, field_validator, model_validator

from runner.scenario.fields import TemplatedDuration
from runner.scenario.matchers import IgnoreRule, MatcherFields, regex_groups
from runner.scenario.outgoing import Outgoing
from runner.scenario.steps import ConnectionStep, _check_save

__all__ = [
    "MAX_ALL_ENTRIES",
    "ExpectAllStep",
    "ExpectEntry",
    "ExpectSequenceStep",
    "Outgoing",
    "PollStep",
]


#: The most entries an expect_all pairs (each new message may move every held one, depth-first).
MAX_ALL_ENTRIES = 200


class ExpectEntry(MatcherFields):
    """One message an expect_all, expect_sequence or poll waits for, and what to save from it."""

    save: dict[str, str] = Field(
        default_factory=dict,
        description="variables to save from the message: name → JSONPath (starting with $) or "
        "the name of a named group of `regex`",
    )

    def saved_variables(self) -> set[str]:
        """The `save` names and the named groups of `regex`."""
        return {*self.save, *regex_groups(self.regex)}

    @model_validator(mode="after")
    def _matchers_and_saves(self) -> Self:
        self._require_matcher()
        for name, source in self.save.items():
            _check_save(name, source, self.regex)
        return self


class _EntriesStep(ConnectionStep):
    waits = True
    timeout: TemplatedDuration | None = Field(
        None, description="how long to wait for them all (default: the scenario's timeout)"
    )
    ignore: list[IgnoreRule] = Field(
        default_factory=list, description="messages to drop as noise while waiting"
    )
    messages: list[ExpectEntry] = Field(
        min_length=1, description="the messages: each a set of matchers, with its `save`"
    )

    def saved_variables(self) -> set[str]:
        """What every entry saves."""
        return {name for entry in self.messages for name in entry.saved_variables()}


class ExpectAllStep(_EntriesStep):
    """Wait until each entry has matched a different message, in any order (others stay)."""

    kind: Literal["expect_all"] = Field("expect_all", description="the step's kind")
    messages: list[ExpectEntry] = Field(
        min_length=1,
        max_length=MAX_ALL_ENTRIES,
        description=f"the messages (at most {MAX_ALL_ENTRIES}): each a set of matchers, with "
        "its `save`",
    )


class ExpectSequenceStep(_EntriesStep):
    """Wait for messages matching the entries in this order; others may come in between."""

    kind: Literal["expect_sequence"] = Field("expect_sequence", description="the step's kind")
    strict: bool = Field(
        False,
        description="nothing may come before or between them: each next message (not noise) "
        "must match the next entry",
    )


class PollStep(ConnectionStep):
    """Send, then wait for an answer that matches `until`; send again every `every`."""

    waits = True
    kind: Literal["poll"] = Field("poll", description="the step's kind")
    send: Outgoing = Field(description="the message to send each round")
    until: ExpectEntry = Field(description="what an answer must match to end the poll")
    every: TemplatedDuration = Field(
        1.0, description="how long each round waits (default 1s; 10ms at least)"
    )
    timeout: TemplatedDuration | None = Field(
        None, description="how long to poll in all (default: the scenario's timeout)"
    )
    ignore: list[IgnoreRule] = Field(
        default_factory=list, description="messages to drop as noise while polling"
    )

    def saved_variables(self) -> set[str]:
        """What `until` saves."""
        return self.until.saved_variables()

    @field_validator("every")
    @classmethod
    def _not_a_flood(cls, value: float | str) -> float | str:
        if isinstance(value, float) and value < 0.01:  # a round per send: this bounds the rate
            raise ValueError(f"expected every of 10ms or more, found {value:g}s")
        return value
