"""The matcher part of the language: what a message must be, in `expect` steps and `ignore` rules.

Each matcher is a field of `MatcherFields` whose `Annotated` metadata holds its declaration, a
`runner.matching.MatcherKind`: its name, the check at load, compiling and describing all follow
from it. `IgnoreRule` is a set of matchers on its own; step models mix `MatcherFields` in.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Sequence
from functools import cache
from typing import Annotated, Any, Self

from pydantic import Field, ValidationInfo, field_validator, model_validator

from runner.matching import (
    BINARY,
    JSON,
    JSONPATH,
    REGEX,
    TEXT,
    MatcherKind,
    Written,
    has_template,
)
from runner.scenario.fields import Model

__all__ = ["BinaryData", "IgnoreRule", "MatcherFields", "matcher_names", "regex_groups"]

_GROUP = re.compile(r"\(\?P<([A-Za-z_][A-Za-z0-9_]*)>")


def regex_groups(pattern: str | None) -> list[str]:
    """The names of the named groups (``(?P<name>...)``) of a regular expression."""
    return _GROUP.findall(pattern or "")


class BinaryData(Model):
    """Bytes written as hexadecimal or base64 (exactly one of them)."""

    hex: str | None = Field(None, description="the bytes in hexadecimal, spaces allowed")
    base64: str | None = Field(None, description="the bytes in base64 (RFC 4648)")

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        written = [name for name in ("hex", "base64") if getattr(self, name) is not None]
        if len(written) != 1:
            raise ValueError(f"expected exactly one of hex, base64; found {len(written)}")
        text = self.hex if self.hex is not None else self.base64
        if not has_template(text or ""):
            self.to_bytes()
        return self

    def to_bytes(self) -> bytes:
        """The bytes; raises ValueError when the text does not decode."""
        try:
            if self.hex is not None:
                return bytes.fromhex(self.hex)
            return base64.b64decode(self.base64 or "", validate=True)
        except (ValueError, binascii.Error) as exc:
            kind = "hex" if self.hex is not None else "base64"
            raise ValueError(f"invalid {kind}: {exc}") from exc


class MatcherFields(Model):
    """What a message must be; every matcher written must hold.

    Each matcher is a field whose `Annotated` metadata holds its `runner.matching.MatcherKind`:
    the names, the load-time checks, compiling and describing all follow from that declaration.
    """

    text: Annotated[str | None, TEXT] = Field(None, description="the message is text equal to this")
    regex: Annotated[str | None, REGEX] = Field(
        None,
        description="the message is text in which this regular expression is found (re.search); "
        "named groups (?P<name>...) become variables",
    )
    json_: Annotated[Any, JSON] = Field(
        None,
        alias="json",
        description="the message is JSON that contains this value: mappings may have more keys, "
        "lists match element by element; placeholders: {{any}}, {{string}}, {{number}}, "
        "{{integer}}, {{boolean}}, {{object}}, {{array}}, {{null}}, {{regex:PATTERN}}",
    )
    jsonpath: Annotated[dict[str, Any] | None, JSONPATH] = Field(
        None,
        description="the message is JSON, and each JSONPath (RFC 9535) selects a value that "
        "matches (like `json`); a query that can select several nodes is compared as a list",
    )
    binary: Annotated[BinaryData | None, BINARY] = Field(
        None, description="the message is binary, equal to this"
    )

    def written_matchers(self) -> Sequence[Written[Any]]:
        """The matchers written, in the order they are declared."""
        written = self.model_fields_set
        return [
            Written(kind, getattr(self, field))
            for field, kind in _declared(type(self))
            if field in written
        ]

    def matchers(self) -> list[str]:
        """The names of the matchers written, in the order they are declared."""
        return [item.kind.name for item in self.written_matchers()]

    @field_validator("*")
    @classmethod
    def _check_matcher(cls, value: Any, info: ValidationInfo) -> Any:
        kind = dict(_declared(cls)).get(info.field_name or "")
        if kind is not None and value is not None:
            kind.check(value)
        return value

    def _require_matcher(self) -> None:
        if not self.matchers():
            raise ValueError(f"expected at least one matcher: {', '.join(matcher_names())}")


@cache
def _declared(model: type[MatcherFields]) -> tuple[tuple[str, MatcherKind[Any]], ...]:
    """The fields of `model` that hold a matcher, with its declaration."""
    return tuple(
        (name, kind)
        for name, info in model.model_fields.items()
        for kind in info.metadata
        if isinstance(kind, MatcherKind)
    )


def matcher_names() -> list[str]:
    """The names of every matcher, in the order they are declared."""
    return [kind.name for _, kind in _declared(MatcherFields)]


class IgnoreRule(MatcherFields):
    """A message that matches every matcher of the rule is dropped as noise (e.g. heartbeats)."""

    @model_validator(mode="after")
    def _one_matcher(self) -> Self:
        self._require_matcher()
        return self
