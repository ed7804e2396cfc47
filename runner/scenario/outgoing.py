"""A message to send, as `send` steps, `poll` rounds and `reply` rules write it."""

import json
from typing import Any, Self

from pydantic import Field, model_validator

from runner.scenario.fields import Model
from runner.scenario.matchers import BinaryData

__all__ = ["Outgoing"]


class Outgoing(Model):
    """A message to send: exactly one of text, json, binary."""

    text: str | None = Field(None, description="a text message")
    json_: Any = Field(None, alias="json", description="any value, sent as JSON text")
    binary: BinaryData | None = Field(None, description="a binary message")

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        found = [n for n in ("text", "json_", "binary") if n in self.model_fields_set]
        if len(found) != 1:
            names = ", ".join(n.rstrip("_") for n in found) or "none"
            raise ValueError(f"expected exactly one of text, json, binary; found {names}")
        return self

    def payload(self) -> str | bytes:
        """The message as it goes on the wire (a rendered model): text, bytes, or JSON text."""
        if self.text is not None:
            return self.text
        if self.binary is not None:
            return self.binary.to_bytes()
        return json.dumps(self.json_, ensure_ascii=False, separators=(",", ":"))
