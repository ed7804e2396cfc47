"""The matcher part of the language: what a message must be, in `expect` steps and `ignore` rules.

Each matcher is a field of `MatcherFields` whose `Annotated` metadata holds its declaration, a
`runner.matching.MatcherKind`: its name, the check at load, compiling and describing all follow
from it. `MatcherSet` is a set of matchers on its own (the value of `not` and of each `any_of`
entry; `IgnoreRule` is one); step models mix `MatcherFields` in.

A `json_schema` path is relative to the file it is written in: the loader validates a file with
`file_context(path)`, which holds its folder, and the path is made absolute then (later
validations, of rendered steps or bound blocks, see the absolute path).
"""

import base64
import binascii
import re
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal, Self

from pydantic import Field, ValidationInfo, field_validator, model_validator

from runner.matching import (
    ANY_OF,
    BINARY,
    CONTAINS,
    JSON,
    JSON_SCHEMA,
    JSONPATH,
    NOT,
    REGEX,
    TEXT,
    TEXT_JSON,
    MatcherKind,
    PatternError,
    Written,
    compile_pattern,
    has_template,
    load_schema,
)
from runner.scenario.fields import Model

__all__ = [
    "BinaryData",
    "BinaryPattern",
    "ByteSave",
    "IgnoreRule",
    "MatcherFields",
    "MatcherSet",
    "TextJson",
    "declared_by_name",
    "file_context",
    "matcher_names",
    "regex_groups",
]

_FOLDER = "scenario_folder"


def file_context(path: str | Path) -> dict[str, Any]:
    """The validation context of a scenario or library file: its folder, against which a
    `json_schema` path is resolved."""
    return {_FOLDER: Path(path).resolve().parent}


# A named group, as RE2 writes it: (?P<name>...) or (?<name>...).
_GROUP = re.compile(r"\(\?P?<([A-Za-z_][A-Za-z0-9_]*)>")


def regex_groups(pattern: str | None) -> list[str]:
    """The names of the named groups (``(?P<name>...)``, ``(?<name>...)``) of a regular
    expression that can be variables (a name that is an identifier), in order."""
    if not pattern:
        return []
    try:
        index = compile_pattern(pattern).groupindex
    except PatternError:  # not compiled yet (a template) or invalid (reported elsewhere)
        return list(dict.fromkeys(_GROUP.findall(pattern)))
    names = sorted(index, key=index.__getitem__)
    return [name for name in names if _GROUP.fullmatch(f"(?<{name}>")]


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
        if self.hex is not None and "??" in self.hex:
            raise ValueError(
                "a ?? wildcard matches any byte in expect; a message sent needs them all"
            )
        return _decode(self.hex, self.base64)


def _decode(hex_text: str | None, base64_text: str | None) -> bytes:
    try:
        if hex_text is not None:
            return bytes.fromhex(hex_text)
        return base64.b64decode(base64_text or "", validate=True)
    except (ValueError, binascii.Error) as exc:
        kind = "hex" if hex_text is not None else "base64"
        raise ValueError(f"invalid {kind}: {exc}") from exc


class BinaryPattern(Model):
    """What a binary message must be: bytes in hexadecimal (where ``??`` is any byte) or base64,
    the whole message or, with `prefix`, its start."""

    hex: str | None = Field(
        None, description="the bytes in hexadecimal, spaces allowed; ?? stands for any byte"
    )
    base64: str | None = Field(None, description="the bytes in base64 (RFC 4648)")
    prefix: bool = Field(False, description="the message need only start with these bytes")

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        written = [name for name in ("hex", "base64") if getattr(self, name) is not None]
        if len(written) != 1:
            raise ValueError(f"expected exactly one of hex, base64; found {len(written)}")
        text = self.hex if self.hex is not None else self.base64
        if not has_template(text or ""):
            self.pattern()
        return self

    def pattern(self) -> list[int | None]:
        """The bytes, None for a ``??`` wildcard; raises ValueError when the text does not
        decode."""
        if self.hex is None or "??" not in self.hex:
            return list(_decode(self.hex, self.base64))
        digits = "".join(self.hex.split())
        if len(digits) % 2:
            raise ValueError(f"invalid hex: an odd number of digits in {self.hex!r}")
        pairs = [digits[i : i + 2] for i in range(0, len(digits), 2)]
        return [None if pair == "??" else _decode(pair, None)[0] for pair in pairs]


class TextJson(Model):
    """A text message made of a fixed prefix and JSON (Socket.IO ``42[...]``, Engine.IO
    ``0{...}``)."""

    prefix: str = Field(description="the text before the JSON, e.g. 42 (Socket.IO event)")
    json_: Any = Field(
        alias="json",
        description="the JSON after the prefix must contain this (the rules of `json`)",
    )


class ByteSave(Model):
    """A value saved from a binary message: some of its bytes, as hex or as an integer."""

    bytes_: list[int] = Field(
        alias="bytes",
        min_length=2,
        max_length=2,
        description="the first and the last byte to take (inclusive, counted from 0)",
    )
    as_: Literal["hex", "int"] = Field(
        "hex",
        alias="as",
        description="hex: lowercase hex digits (e.g. 0005, ready for a binary hex); int: an "
        "unsigned integer",
    )
    order: Literal["big", "little"] = Field(
        "big", description="the byte order of an int: big (network order) or little"
    )

    @field_validator("bytes_")
    @classmethod
    def _in_order(cls, value: list[int]) -> list[int]:
        first, last = value
        if first < 0 or last < first:
            raise ValueError(f"expected bytes [first, last] with 0 <= first <= last, found {value}")
        return value


class MatcherFields(Model):
    """What a message must be; every matcher written must hold.

    Each matcher is a field whose `Annotated` metadata holds its `runner.matching.MatcherKind`:
    the names, the load-time checks, compiling and describing all follow from that declaration.
    """

    text: Annotated[str | None, TEXT] = Field(None, description="the message is text equal to this")
    regex: Annotated[str | None, REGEX] = Field(
        None,
        description="the message is text in which this regular expression (RE2 syntax) is found; "
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
    binary: Annotated[BinaryPattern | None, BINARY] = Field(
        None,
        description="the message is binary, equal to these bytes (?? is any byte), or starting "
        "with them (prefix: true)",
    )
    contains: Annotated[str | None, CONTAINS] = Field(
        None, description="the message is text that contains this"
    )
    json_schema: Annotated[dict[str, Any] | str | None, JSON_SCHEMA] = Field(
        None,
        description="the message is JSON valid against this JSON Schema: the schema itself, or "
        "the path of a JSON file holding it, relative to the file that names it",
    )
    text_json: Annotated[TextJson | None, TEXT_JSON] = Field(
        None,
        description="the message is text: this prefix, then JSON that contains `json` (the "
        "rules of `json`)",
    )
    not_: Annotated["MatcherSet | None", NOT] = Field(
        None, alias="not", description="the message does not match this set of matchers"
    )
    any_of: Annotated["list[MatcherSet] | None", ANY_OF] = Field(
        None, description="the message matches at least one of these sets of matchers"
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
        kind = declared_by_name(cls).get(info.field_name or "")
        if kind is not None and value is not None:
            kind.check(value)
        return value

    @field_validator("json_schema")
    @classmethod
    def _schema_file(cls, value: Any, info: ValidationInfo) -> Any:
        if not isinstance(value, str):
            return value
        if has_template(value):
            raise ValueError("the path of a json_schema file cannot hold a template")
        path = Path(value)
        if not path.is_absolute():
            folder = (info.context or {}).get(_FOLDER)
            if folder is None:
                raise ValueError(f"cannot resolve the json_schema path {value!r}: no file")
            path = folder / path
        load_schema(str(path))
        return str(path)

    def _require_matcher(self) -> None:
        # at each expect step's validation: a look at the set fields, no `Written` built
        if self.model_fields_set.isdisjoint(declared_by_name(type(self))):
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


@cache
def declared_by_name(model: type[MatcherFields]) -> dict[str, MatcherKind[Any]]:
    """`_declared` as a mapping (each field of each expect looked its matcher up in a new one)."""
    return dict(_declared(model))


def matcher_names() -> list[str]:
    """The names of every matcher, in the order they are declared."""
    return [kind.name for _, kind in _declared(MatcherFields)]


class MatcherSet(MatcherFields):
    """A set of matchers (at least one), all of which must hold."""

    @model_validator(mode="after")
    def _one_matcher(self) -> Self:
        self._require_matcher()
        return self


class IgnoreRule(MatcherSet):
    """A message that matches every matcher of the rule is dropped as noise (e.g. heartbeats)."""


# `not` and `any_of` name `MatcherSet`, defined after `MatcherFields`: its fields, and those of the
# subclasses defined so far, are completed here, in this module's namespace (with `defer_build` a
# subclass in another module would otherwise resolve them in its own, at its first validation).
for _model in (MatcherFields, MatcherSet, IgnoreRule):
    _model.model_rebuild()
