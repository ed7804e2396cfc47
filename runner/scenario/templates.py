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

Limits: a rendered value is at most `MAX_RENDERED` characters (a mapping or list counted as its
JSON text), so that variables that double each other or ``${random_string(1000000000)}`` are a
clear error, not a MemoryError; a number argument is an integer of at most 18 digits (or a
decimal number).
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
    "MAX_RENDERED",
    "Reference",
    "TemplateLimitError",
    "TemplateSyntaxError",
    "is_reference",
    "least_size",
    "parse",
    "references",
    "render",
    "rendered_size",
    "substitute",
]


#: The most characters a rendered value may have (a mapping or list: its JSON text), 16 MiB.
MAX_RENDERED = 16 * 1024 * 1024
#: The most digits of an integer argument of a function (``random_int(1, 100)``).
_MAX_ARG_DIGITS = 18


class TemplateSyntaxError(ValueError):
    """A `${...}` that cannot be parsed."""


class TemplateLimitError(ValueError):
    """A rendered value beyond `MAX_RENDERED`, or a function given arguments it cannot take."""


def _integer(value: Any) -> int | None:
    """`value` as an integer argument: an int, or a string of at most 18 digits (a ``--var``)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    text = value.strip() if isinstance(value, str) else ""
    if re.fullmatch(r"[-+]?[0-9]{1,18}", text):
        return int(text)
    return None


def _integers(name: str, args: tuple[Any, ...]) -> list[int]:
    """The arguments of a call to `name` as integers; raises TemplateLimitError for a bad one."""
    numbers = [_integer(arg) for arg in args]
    if None in numbers:
        shown = " and ".join(repr(arg) for arg in args)
        raise TemplateLimitError(f"{name}() takes integers, not {shown}")
    found = [n for n in numbers if n is not None]
    if name == "random_string" and found[0] > MAX_RENDERED:
        raise TemplateLimitError(
            f"random_string({found[0]}): longer than the limit of {MAX_RENDERED:,} characters"
        )
    if name == "random_int" and found[0] > found[1]:
        raise TemplateLimitError(
            f"random_int({found[0]}, {found[1]}): the low end is above the high end"
        )
    return found


def _random_string(length: int) -> str:
    (count,) = _integers("random_string", (length,))
    alphabet = string.ascii_letters + string.digits
    return "".join(random.choices(alphabet, k=max(count, 0)))  # test data, not secrets


def _random_int(low: int, high: int) -> int:
    first, last = _integers("random_int", (low, high))
    return random.randint(first, last)  # test data, not secrets


#: The functions a template may call; none of them reads or changes anything but the clock.
FUNCTIONS: dict[str, Callable[..., Any]] = {
    "uuid": lambda: str(uuid.uuid4()),
    "now_ms": lambda: time.time_ns() // 1_000_000,
    "now_s": lambda: time.time(),
    "now_iso": lambda: datetime.now(UTC).isoformat(timespec="milliseconds"),
    "random_int": _random_int,
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
        start = text.find("${", index)
        if start < 0:
            literal.append(text[index:])
            break
        if start > index and text[start - 1] == "$":  # $${ writes ${
            literal.append(text[index : start - 1] + "${")
            index = start + 2
            continue
        literal.append(text[index:start])
        end = text.find("}", start)
        if end < 0:
            raise TemplateSyntaxError(f"unterminated reference {text[start:]!r}")
        if "".join(literal):
            parts.append("".join(literal))
        literal = []
        parts.append(_reference(text[start : end + 1]))
        index = end + 1
    if "".join(literal):
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
    if name in ("random_string", "random_int") and not any(isinstance(a, _Name) for a in args):
        try:  # constant arguments: checked at load time
            _integers(name, tuple(args))
        except TemplateLimitError as exc:
            raise TemplateSyntaxError(str(exc)) from None
    return Reference(source, "call", name, args=tuple(args))


def _arity(name: str) -> str:
    count = len(inspect.signature(FUNCTIONS[name]).parameters)
    return f"takes {count} argument{'s' if count != 1 else ''}" if count else "takes no arguments"


def _argument(token: str) -> Any:
    if token[0] in "'\"":
        return token[1:-1]
    if re.fullmatch(r"[-+]?\d+", token):
        if len(token.lstrip("+-")) > _MAX_ARG_DIGITS:
            raise TemplateSyntaxError(
                f"integer argument too large: {len(token):,} digits (the limit is "
                f"{_MAX_ARG_DIGITS})"
            )
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
        rendered = _render(value, variables)
        _check_size(rendered)
    except (TemplateSyntaxError, TemplateLimitError, LookupError) as exc:
        raise ScenarioError(exc.args[0] if exc.args else str(exc), location) from exc
    return rendered


def rendered_size(value: Any, limit: int = MAX_RENDERED) -> int:
    """The characters of `value` as rendered text (a mapping or list: about its JSON text),
    counted up to a little beyond `limit`: shared parts count each time they appear, but each
    is visited once, so that variables that double each other cost no time to measure."""
    return _size(value, {}, limit)


def _size(value: Any, seen: dict[int, int], limit: int) -> int:
    if isinstance(value, str):
        return len(value)
    if not isinstance(value, Mapping | list | tuple):
        return 8 if isinstance(value, int | float) and abs(value) < 2**53 else len(_as_text(value))
    known = seen.get(id(value))
    if known is not None:
        return known
    seen[id(value)] = limit + 1  # a container inside itself would never end
    total = 2
    items = value.items() if isinstance(value, Mapping) else ((None, v) for v in value)
    for key, item in items:
        total += 2 + (len(str(key)) + 3 if key is not None else 0) + _size(item, seen, limit)
        if total > limit:
            break
    seen[id(value)] = total
    return total


def least_size(value: Any, sizes: Mapping[str, int]) -> int:
    """The fewest characters `value` can render to, when the variables named in `sizes` render to
    that many (others, the environment and calls count as nothing but ``random_string(n)``);
    raises TemplateSyntaxError for a malformed reference."""
    if isinstance(value, str):
        total = 0
        for part in parse(value) if "${" in value else (value,):
            total += len(part) if isinstance(part, str) else _least_reference(part, sizes)
        return total
    if isinstance(value, Mapping):
        return 2 + sum(least_size(k, sizes) + 3 + least_size(v, sizes) for k, v in value.items())
    if isinstance(value, list | tuple):
        return 2 + sum(least_size(item, sizes) + 1 for item in value)
    return 1


def _least_reference(reference: Reference, sizes: Mapping[str, int]) -> int:
    if reference.kind == "var" and not reference.path:
        default = len(reference.default) if reference.default is not None else 0
        return sizes.get(reference.name, default)
    if reference.kind == "call" and reference.name == "random_string":
        return max(_integer(reference.args[0]) or 0, 0)
    return 0


def _check_size(value: Any) -> None:
    size = rendered_size(value)
    if size > MAX_RENDERED:
        raise TemplateLimitError(
            f"the rendered value is over the limit of {MAX_RENDERED:,} characters"
        )


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
    values = [part if isinstance(part, str) else _evaluate(part, variables) for part in parts]
    seen: dict[int, int] = {}
    total = 0
    for value in values:  # measured before joining: a joined text over the limit never exists
        total += _size(value, seen, MAX_RENDERED)
        if total > MAX_RENDERED:
            raise TemplateLimitError(
                f"{text[:60]!r} renders to more than the limit of {MAX_RENDERED:,} characters"
            )
    return "".join(_as_text(value) for value in values)


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
