"""Turning pydantic's validation errors into ScenarioErrors that point into the YAML file.

Each pydantic error has a `loc` (field names, list indices, union tags). It is mapped onto the
document's own values to find the exact line and column, and reworded in the project's grammar:
what was expected, what was found, and "did you mean" for a misspelled key or choice.
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Iterable, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from runner.errors import ScenarioError
from runner.scenario.kinds import step_model
from runner.scenario.source import Document, ValuePath

__all__ = [
    "allowed_keys",
    "canonical_kind",
    "describe",
    "did_you_mean",
    "document_path",
    "translate",
    "value_at",
]

#: Plain scalars that YAML 1.1 reads as booleans and wsrun reads as strings.
YAML11_BOOLEANS = {
    word
    for base in ("yes", "no", "on", "off", "y", "n")
    for word in (base, base.capitalize(), base.upper())
}

#: pydantic's errors of a value of the right type whose size or value is outside the bounds.
_OUT_OF_RANGE = {
    "too_long",
    "greater_than",
    "greater_than_equal",
    "less_than",
    "less_than_equal",
}
_EXPECTED_BY_TYPE = {
    "string_type": "a string",
    "int_type": "an integer",
    "int_parsing": "an integer",
    "float_type": "a number",
    "bool_type": "true or false",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "list_type": "a list",
    "none_required": "null",
}


def did_you_mean(word: str, options: Iterable[str]) -> str | None:
    """'did you mean 'x'?' for the closest option, or None."""
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}?" if close else None


def describe(value: Any) -> str:
    """A value as the error messages show it ('the string "x"', 'the number 3', 'a list')."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f'the string "{shown}"'
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


def value_at(value: Any, path: ValuePath) -> Any:
    """The value at `path` inside `value` (None when the path leaves it)."""
    for part in path:
        if not _has(value, part):
            return None
        value = value[part]
    return value


def _has(node: Any, part: int | str) -> bool:
    if isinstance(node, dict):
        return part in node
    return isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)


def canonical_kind(key: str) -> str:
    """The step kind a key names (synonyms resolved)."""
    model = step_model(key)
    return model.kind_name() if model is not None else key


def translate(
    error: ValidationError, document: Document, base: ValuePath, root: Any
) -> list[ScenarioError]:
    """ScenarioErrors for every error of a validation of the value at `base` against `root`."""
    found: dict[ValuePath, ScenarioError] = {}
    for detail in error.errors(include_url=False):
        path, consumed = document_path(document.value, base, detail["loc"])
        if any(path[: len(p)] == p for p in document.problem_paths):
            continue  # already reported while reading the file
        scenario_error = _error(detail, document, path, consumed, root)
        earlier = found.get(path)
        found[path] = _merge(earlier, scenario_error) if earlier else scenario_error
    return list(found.values())


def document_path(value: Any, base: ValuePath, loc: Sequence[int | str]) -> tuple[ValuePath, bool]:
    """The document path an error's `loc` points at, and whether its last part was found."""
    path = list(base)
    node = value_at(value, base)
    consumed = True
    for part in loc:
        consumed = False
        if not _has(node, part) and isinstance(node, dict) and len(node) == 1:
            key = next(iter(node))
            part = key if canonical_kind(str(key)) == part else part
        if _has(node, part):
            path.append(part)
            node, consumed = node[part], True
        elif not isinstance(node, dict | list):
            break  # a shorthand: the scalar stands for the whole step
    return tuple(path), consumed


def _error(
    detail: ErrorDetails, document: Document, path: ValuePath, consumed: bool, root: Any
) -> ScenarioError:
    kind = detail["type"]
    loc = detail["loc"]
    if kind == "extra_forbidden" and consumed:
        return _unknown_key(document, path, loc, root)
    if kind == "missing":
        return document.error(f"missing key {loc[-1]!r}", document.location(path))
    if kind == "literal_error":
        return _bad_choice(detail, document, path)
    if kind in ("value_error", "assertion_error"):
        message = str(detail["msg"]).removeprefix("Value error, ")
        return document.error(message, document.location(path))
    if kind == "too_short":
        return document.error(
            f"{_field(path)} is empty", document.location(path), expected="at least one item"
        )
    expected = _EXPECTED_BY_TYPE.get(kind) or str(detail["msg"]).lower()
    if kind in _OUT_OF_RANGE:  # the type is right, the size or value is not
        return document.error(
            f"{_field(path)} is out of range",
            document.location(path),
            expected=expected,
            found=describe(detail["input"]),
        )
    return document.error(
        f"wrong type for {_field(path)}",
        document.location(path),
        expected=expected,
        found=describe(detail["input"]),
        hint=_type_hint(document, path, detail["input"], expected),
    )


def _field(path: Sequence[int | str]) -> str:
    names = [str(part) for part in path if isinstance(part, str)]
    return repr(names[-1]) if names else "the value"


def _unknown_key(
    document: Document, path: ValuePath, loc: Sequence[int | str], root: Any
) -> ScenarioError:
    key = str(path[-1])
    allowed = allowed_keys(root, loc[:-1])
    return document.error(
        f"unknown key {key!r}",
        document.key_location(path),
        expected=f"one of {', '.join(allowed)}" if allowed else None,
        hint=did_you_mean(key, allowed),
    )


def _bad_choice(detail: ErrorDetails, document: Document, path: ValuePath) -> ScenarioError:
    expected = str((detail.get("ctx") or {}).get("expected", ""))
    choices = [part.strip().strip("'\"") for part in expected.replace(" or ", ",").split(",")]
    value = detail["input"]
    return document.error(
        f"invalid value for {_field(path)}",
        document.location(path),
        expected=f"one of {', '.join(repr(c) for c in choices if c)}",
        found=describe(value),
        hint=did_you_mean(value, choices) if isinstance(value, str) else None,
    )


def _type_hint(document: Document, path: ValuePath, value: Any, expected: str) -> str | None:
    if expected == "true or false" and isinstance(value, str) and value in YAML11_BOOLEANS:
        return f"wsrun reads {value} as a string, unlike YAML 1.1: write true or false"
    if expected == "a string" and path in document.plain:
        return f'write "{document.plain[path]}" in quotes to make it a string'
    return None


def _merge(first: ScenarioError, second: ScenarioError) -> ScenarioError:
    """Two errors at one spot (the alternatives of a union) become one."""
    if first.expected and second.expected and second.expected not in first.expected:
        first.expected = f"{first.expected} or {second.expected}"
        first.hint = first.hint or second.hint
    return first


def allowed_keys(root: Any, loc: Sequence[int | str]) -> list[str]:
    """The keys the model at `loc` (under the type `root`) accepts, as written in YAML."""
    current: Any = root
    for part in loc:
        current = _child(current, part)
        if current is None:
            return []
    model = _model(current)
    return _keys(model) if model else []


def _keys(model: type[BaseModel]) -> list[str]:
    skipped = {"kind", "location", "bindings"}
    return [info.alias or name for name, info in model.model_fields.items() if name not in skipped]


def _unwrap(tp: Any) -> Any:
    while typing.get_origin(tp) is typing.Annotated:
        tp = typing.get_args(tp)[0]
    return tp


def _model(tp: Any) -> type[BaseModel] | None:
    tp = _unwrap(tp)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return tp
    if _is_union(tp):
        models = [m for m in map(_model, typing.get_args(tp)) if m is not None]
        return models[0] if len(models) == 1 else None
    return None


def _is_union(tp: Any) -> bool:
    return typing.get_origin(tp) in (typing.Union, types.UnionType)


def _child(tp: Any, part: int | str) -> Any:
    tp = _unwrap(tp)
    if _is_union(tp):
        return _union_child(tp, part)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        for name, info in tp.model_fields.items():
            if part in (name, info.alias):
                return info.annotation
        return None
    args = typing.get_args(tp)
    if typing.get_origin(tp) is list and isinstance(part, int):
        return args[0]
    if typing.get_origin(tp) is dict and isinstance(part, str):
        return args[1]
    return None


def _union_child(tp: Any, part: int | str) -> Any:
    members = typing.get_args(tp)
    for member in members:
        model = _model(member)
        if model is not None and part in (model.__name__, _tag(model)):
            return model
    for member in members:
        child = _child(member, part)
        if child is not None:
            return child
    return None


def _tag(model: type[BaseModel]) -> str | None:
    field = model.model_fields.get("kind")
    if field is None or typing.get_origin(field.annotation) is not Literal:
        return None
    return str(typing.get_args(field.annotation)[0])
