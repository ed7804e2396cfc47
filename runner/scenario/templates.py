"""`${...}` templates: variables, environment variables, and a small set of functions.

Grammar of a reference (no expression evaluates code):

- ``${name}``, ``${name.key.0}`` (into a mapping or list), ``${name:-default}``;
- ``${env.NAME}``, ``${env.NAME:-default}``;
- ``${fn(arg, ...)}`` where fn is one of `FUNCTIONS` and each arg is a number, a quoted string
  or a variable name;
- ``$${`` writes a literal ``${``.

A string that is exactly one reference takes the referenced value with its type (``${n}`` stays an
integer); elsewhere values are written into the text (numbers as written, true/false/null and
JSON for mappings and lists).
"""

from __future__ import annotations

import difflib
import inspect
import json
import os
import random
import re
import string
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from runner.errors import Location, ScenarioError

__all__ = [
    "FUNCTIONS",
    "Reference",
    "TemplateSyntaxError",
    "is_reference",
    "parse",
    "references",
    "render",
    "substitute",
]


class TemplateSyntaxError(ValueError):
    """A `${...}` that cannot be parsed."""


def _random_string(length: int) -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(random.choice(alphabet) for _ in range(length))  # test data, not secrets


#: The functions a template may call; none of them reads or changes anything but the clock.
FUNCTIONS: dict[str, Callable[..., Any]] = {
    "uuid": lambda: str(uuid.uuid4()),
    "now_ms": lambda: time.time_ns() // 1_000_000,
    "now_s": lambda: time.time(),
    "now_iso": lambda: datetime.now(UTC).isoformat(timespec="milliseconds"),
    "random_int": lambda low, high: random.randint(low, high),  # test data, not secrets
    "random_string": _random_string,
}


@dataclass(frozen=True)
class Reference:
    """One ``${...}``: a variable (`name` and `path`), an environment variable, or a call."""

    source: str
    kind: str  # "var", "env" or "call"
    name: str
    path: tuple[str, ...] = ()
    default: str | None = None
    args: tuple[Any, ...] = ()


@dataclass(frozen=True)
class _Name:
    """A variable name used as a function argument."""

    name: str


_NAME = r"[A-Za-z_][A-Za-z0-9_-]*"
_VAR = re.compile(rf"({_NAME})((?:\.[A-Za-z0-9_-]+)*)(?::-(.*))?", re.DOTALL)
_ENV = re.compile(rf"env\.({_NAME})(?::-(.*))?", re.DOTALL)
_CALL = re.compile(rf"({_NAME})\((.*)\)", re.DOTALL)
_ARG = re.compile(r"""\s*('[^']*'|"[^"]*"|[-+]?\d+(?:\.\d+)?|[A-Za-z_]\w*)\s*(?:,|$)""")


@lru_cache(maxsize=4096)
def parse(text: str) -> tuple[str | Reference, ...]:
    """Split `text` into literal strings and references; raises TemplateSyntaxError."""
    parts: list[str | Reference] = []
    literal: list[str] = []
    index = 0
    while index < len(text):
        if text.startswith("$${", index):
            literal.append("${")
            index += 3
        elif text.startswith("${", index):
            end = text.find("}", index)
            if end < 0:
                raise TemplateSyntaxError(f"unterminated reference {text[index:]!r}")
            if literal:
                parts.append("".join(literal))
                literal = []
            parts.append(_reference(text[index : end + 1]))
            index = end + 1
        else:
            literal.append(text[index])
            index += 1
    if literal:
        parts.append("".join(literal))
    return tuple(parts)


def _reference(source: str) -> Reference:
    body = source[2:-1].strip()
    if match := _ENV.fullmatch(body):
        return Reference(source, "env", match[1], default=match[2])
    if match := _CALL.fullmatch(body):
        return _call(source, match[1], match[2])
    if match := _VAR.fullmatch(body):
        path = tuple(match[2].split(".")[1:])
        return Reference(source, "var", match[1], path, default=match[3])
    raise TemplateSyntaxError(f"cannot read reference {source!r}")


def _call(source: str, name: str, arguments: str) -> Reference:
    if name not in FUNCTIONS:
        close = difflib.get_close_matches(name, FUNCTIONS, n=1)
        hint = f"; did you mean {close[0]}()?" if close else ""
        raise TemplateSyntaxError(f"unknown function {name}(){hint}")
    if arguments.rstrip().endswith(","):
        raise TemplateSyntaxError(f"cannot read the arguments of {source!r}")
    args: list[Any] = []
    position = 0
    while position < len(arguments.rstrip()):
        match = _ARG.match(arguments, position)
        if match is None or match.end() == position:
            raise TemplateSyntaxError(f"cannot read the arguments of {source!r}")
        args.append(_argument(match[1]))
        position = match.end()
    try:
        inspect.signature(FUNCTIONS[name]).bind(*args)
    except TypeError as exc:
        raise TemplateSyntaxError(f"{source}: {name}() {_arity(name)}") from exc
    return Reference(source, "call", name, args=tuple(args))


def _arity(name: str) -> str:
    count = len(inspect.signature(FUNCTIONS[name]).parameters)
    return f"takes {count} argument{'s' if count != 1 else ''}" if count else "takes no arguments"


def _argument(token: str) -> Any:
    if token[0] in "'\"":
        return token[1:-1]
    if re.fullmatch(r"[-+]?\d+", token):
        return int(token)
    if re.fullmatch(r"[-+]?\d+\.\d+", token):
        return float(token)
    return _Name(token)


def is_reference(value: Any) -> bool:
    """True when `value` is a string made of exactly one reference (it keeps its value's type)."""
    if not isinstance(value, str) or "${" not in value:
        return False
    try:
        parts = parse(value)
    except TemplateSyntaxError:
        return False
    return len(parts) == 1 and isinstance(parts[0], Reference)


def references(value: Any) -> Iterator[Reference]:
    """Every reference in `value`, through mappings (keys too) and lists.

    Raises:
        TemplateSyntaxError: for a malformed reference.
    """
    if isinstance(value, str):
        yield from (part for part in parse(value) if isinstance(part, Reference))
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from references(key)
            yield from references(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from references(item)


def variables_used(reference: Reference) -> list[str]:
    """The variable names a reference needs (none for env, the named arguments of a call)."""
    if reference.kind == "var":
        return [] if reference.default is not None else [reference.name]
    return [arg.name for arg in reference.args if isinstance(arg, _Name)]


def render(value: Any, variables: Mapping[str, Any], location: Location | None = None) -> Any:
    """Render every template in `value` (strings, and mappings and lists recursively).

    Raises:
        ScenarioError: at `location`, for an unknown variable, an unset environment variable
            without a default, or a malformed reference.
    """
    try:
        return _render(value, variables)
    except (TemplateSyntaxError, LookupError) as exc:
        raise ScenarioError(exc.args[0] if exc.args else str(exc), location) from exc


def _render(value: Any, variables: Mapping[str, Any]) -> Any:
    if isinstance(value, str):
        return _render_text(value, variables)
    if isinstance(value, Mapping):
        return {str(_render(k, variables)): _render(v, variables) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_render(item, variables) for item in value]
    return value


def _render_text(text: str, variables: Mapping[str, Any]) -> Any:
    if "$" not in text:
        return text
    parts = parse(text)
    if len(parts) == 1 and isinstance(parts[0], Reference):
        return _evaluate(parts[0], variables)
    return "".join(
        part if isinstance(part, str) else _as_text(_evaluate(part, variables)) for part in parts
    )


def _evaluate(reference: Reference, variables: Mapping[str, Any]) -> Any:
    if reference.kind == "env":
        return _environment(reference)
    if reference.kind == "call":
        args = [_lookup(a.name, variables) if isinstance(a, _Name) else a for a in reference.args]
        return FUNCTIONS[reference.name](*args)
    if reference.name not in variables and reference.default is not None:
        return reference.default
    value = _lookup(reference.name, variables)
    for key in reference.path:
        value = _step_into(reference, value, key)
    return value


#: Told every value a ``${env.NAME}`` reads from the environment (not its default): the CLI
#: marks them secret (`runner.report.redaction`). None: nobody is told.
on_env_value: Callable[[str], None] | None = None


def _environment(reference: Reference) -> str:
    value = os.environ.get(reference.name, reference.default)
    if value is None:
        raise LookupError(
            f"environment variable {reference.name} is not set "
            f"(give a default: ${{env.{reference.name}:-value}})"
        )
    if on_env_value is not None and reference.name in os.environ:
        on_env_value(value)
    return value


def _lookup(name: str, variables: Mapping[str, Any]) -> Any:
    if name in variables:
        return variables[name]
    close = difflib.get_close_matches(name, [str(k) for k in variables], n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise LookupError(f"unknown variable {name!r}{hint}")


def _step_into(reference: Reference, value: Any, key: str) -> Any:
    if isinstance(value, Mapping) and key in value:
        return value[key]
    if (
        isinstance(value, list)
        and key.lstrip("-").isdigit()
        and -len(value) <= int(key) < len(value)
    ):
        return value[int(key)]
    raise LookupError(f"{reference.source}: {_as_text(value)[:60]!r} has no item {key!r}")


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)


def substitute(value: Any, bindings: Mapping[str, Any]) -> Any:
    """Replace the references to `bindings` only, keeping every other reference (and escape).

    Used when a library block's steps are expanded: the block's parameters are replaced by the
    caller's `with` values, which may themselves be templates rendered later.
    """
    if isinstance(value, str):
        return _substitute_text(value, bindings)
    if isinstance(value, Mapping):
        return {
            _substitute_text(str(k), bindings): substitute(v, bindings) for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [substitute(item, bindings) for item in value]
    return value


def _substitute_text(text: str, bindings: Mapping[str, Any]) -> Any:
    if "${" not in text:
        return text
    parts = parse(text)
    if len(parts) == 1 and isinstance(parts[0], Reference) and _bound(parts[0], bindings):
        return _bind(parts[0], bindings)
    return "".join(_resubstitute(part, bindings) for part in parts)


def _resubstitute(part: str | Reference, bindings: Mapping[str, Any]) -> str:
    if isinstance(part, str):
        return part.replace("${", "$${")
    if _bound(part, bindings):
        return _as_text(_bind(part, bindings))  # the caller's text: its templates stay live
    return part.source


def _bound(reference: Reference, bindings: Mapping[str, Any]) -> bool:
    return reference.kind == "var" and reference.name in bindings


def _plain_variable(value: Any) -> bool:
    if not is_reference(value):
        return False
    reference = parse(value)[0]
    return isinstance(reference, Reference) and reference.kind == "var" and not reference.default


def _bind(reference: Reference, bindings: Mapping[str, Any]) -> Any:
    value = bindings[reference.name]
    if reference.path and _plain_variable(value):
        # `${user.name}` with user bound to `${me}` becomes `${me.name}`.
        return value[:-1] + "".join("." + key for key in reference.path) + "}"
    return _evaluate(reference, bindings)
