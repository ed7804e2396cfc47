"""Checks made once the steps are expanded: connection names, and variables in scope.

Connections: a `connect` without `conn` opens "default"; any other step without `conn` uses the
scenario's first connection; a step naming a connection that no earlier step opened is an error.

Variables: every `${name}` in a step must be known at that point: suite, scenario, row and CLI
variables, those provided by services, and those saved by earlier `expect` steps (`save` keys and
the named groups of `regex`). A reference with a default (`${name:-x}`) is always fine.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from runner.errors import Location, ScenarioError
from runner.scenario.call_checks import check_calls
from runner.scenario.diagnostics import did_you_mean, document_path
from runner.scenario.libraries import Placed
from runner.scenario.source import Document
from runner.scenario.steps import (
    DEFAULT_CONN,
    ConnectionStep,
    ConnectStep,
)
from runner.scenario.steps_flow import RepeatStep
from runner.scenario.templates import TemplateSyntaxError, references, variables_used

__all__ = ["check_references", "check_variables", "field_location", "resolve_connections"]

_NOT_TEMPLATED = {"kind", "conn"}


def field_location(placed: Placed, field: Sequence[str | int]) -> Location:
    """The location of a field (a path inside the step) in the step's file."""
    origin = placed.origin
    path, _ = document_path(origin.document.value, origin.path, (placed.step.kind, *field))
    return origin.document.location(path)


def resolve_connections(steps: Sequence[Placed], errors: list[ScenarioError]) -> None:
    """Give every step its connection's name (see the module's docstring); then check each
    `call` against its connection's protocol (`call_checks`)."""
    _resolve(steps, [], errors)
    check_calls(steps, errors)


def _resolve(steps: Sequence[Placed], opened: list[str], errors: list[ScenarioError]) -> None:
    for placed in steps:
        step = placed.step
        if placed.body is not None:  # a loop: its steps in order (a connect there opens one)
            _resolve(placed.body, opened, errors)
        if not isinstance(step, ConnectionStep):
            continue
        name = _connection(step, placed, opened, errors)
        if name is not None:
            step.conn = name


def _connection(
    step: ConnectionStep, placed: Placed, opened: list[str], errors: list[ScenarioError]
) -> str | None:
    document = placed.origin.document
    where = field_location(placed, ("conn",)) if step.conn else step.location
    if step.conn is not None and "${" in step.conn:
        errors.append(
            document.error("a connection name cannot be a template", where, found=repr(step.conn))
        )
        return None
    if isinstance(step, ConnectStep):
        name = step.conn or DEFAULT_CONN
        if name not in opened:
            opened.append(name)
        return name
    if step.conn is None:
        if not opened:
            errors.append(
                document.error(
                    f"{step.kind} before any connect", where, hint="add a connect step first"
                )
            )
        return opened[0] if opened else None
    if step.conn not in opened:
        errors.append(
            document.error(
                f"unknown connection {step.conn!r}",
                where,
                expected=f"one of {', '.join(opened)}" if opened else "a connect step first",
                hint=did_you_mean(step.conn, opened),
            )
        )
        return None
    return step.conn


def check_variables(steps: Sequence[Placed], known: set[str], errors: list[ScenarioError]) -> None:
    """Report every reference to a variable that is not known where it is used (a loop's
    variable is known inside the loop only; what its steps save is known after it too)."""
    _check_scope(steps, set(known), errors)


def _check_scope(steps: Sequence[Placed], scope: set[str], errors: list[ScenarioError]) -> None:
    for placed in steps:
        if placed.body is not None and isinstance(placed.step, RepeatStep):
            _check_loop(placed, placed.step, scope, errors)
            continue
        texts = _written_scalars(placed.step)
        if texts is not None:  # most steps: nothing dumped, no path built
            for key, text in texts:  # most steps: none
                if key not in _NOT_TEMPLATED:
                    _check_text(placed, (key,), text, scope, errors)
            scope.update(placed.step.saved_variables())
            continue
        data = placed.step.model_dump(by_alias=True, exclude_unset=True, warnings=False)
        if not _templated(data):
            scope.update(placed.step.saved_variables())
            continue
        for field, text in _strings(data, ()):
            if field and field[0] in _NOT_TEMPLATED:
                continue
            _check_text(placed, field, text, scope, errors)
        scope.update(placed.step.saved_variables())


def _check_loop(
    placed: Placed, loop: RepeatStep, scope: set[str], errors: list[ScenarioError]
) -> None:
    head = placed.step.model_dump(include={"count", "for_each"}, exclude_unset=True, warnings=False)
    for field, text in _strings(head, ()):
        _check_text(placed, field, text, scope, errors)
    assert placed.body is not None
    inner = scope | ({loop.as_} if loop.as_ else set())
    _check_scope(placed.body, inner, errors)
    scope.update(inner - {loop.as_})  # what the loop saved stays; its variable does not


def _check_text(
    placed: Placed,
    field: tuple[str | int, ...],
    text: str,
    scope: set[str],
    errors: list[ScenarioError],
) -> None:
    if "${" not in text:  # no reference, nothing to check (and no location to look up)
        return
    try:  # the location is looked up only for a problem (most references are fine)
        if all(n in scope for r in references(text) for n in variables_used(r)):
            return
    except TemplateSyntaxError:
        pass
    location = field_location(placed, field)
    check_references(placed.origin.document, text, location, scope, errors)


def check_references(
    document: Document,
    value: Any,
    location: Location,
    scope: set[str],
    errors: list[ScenarioError],
) -> None:
    """Report malformed references, and variables not in `scope`, of a templated value."""
    try:
        found = list(references(value))
    except TemplateSyntaxError as exc:
        errors.append(document.error(str(exc), location))
        return
    for reference in found:
        for name in variables_used(reference):
            if name not in scope:
                hint = did_you_mean(name, scope)
                errors.append(document.error(f"unknown variable {name!r}", location, hint=hint))


_SCALARS = frozenset({str, int, float, bool, type(None)})


def _written_scalars(step: Any) -> Sequence[tuple[str, str]] | None:
    """The strings holding ``${`` among the fields written in `step`, each with its key in the
    step's dump (its alias), in the dump's order, when every field written holds a plain scalar:
    they are then the only strings of the dump (`_strings`) that can name a variable, and the
    dump need not be made (2 to 3 µs a step). None when a field written holds anything else (a
    list, a mapping, a model), or one holding ``${`` is left out of the dump: the dump decides."""
    values, written = step.__dict__, step.model_fields_set
    templated = False
    for name in written:
        value = values.get(name, values)  # `values` itself: not a scalar, so "no"
        kind = type(value)
        if kind not in _SCALARS:
            return None
        if kind is str and "${" in value:
            templated = True
    if not templated:
        return ()
    found = []
    for name, info in type(step).model_fields.items():  # the dump's order
        if name not in written:
            continue
        if info.exclude:
            return None
        value = values[name]
        if type(value) is str and "${" in value:
            found.append((info.serialization_alias or info.alias or name, value))
    return found


def _templated(value: Any) -> bool:
    """Whether a string in `value` (keys included) may hold ``${``: its repr does when one
    does (repr escapes neither ``$`` nor ``{``); a false yes only costs the full walk."""
    return "${" in repr(value)


def _strings(
    value: Any, path: tuple[str | int, ...]
) -> Iterator[tuple[tuple[str | int, ...], str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield (*path, key), str(key)
            yield from _strings(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, (*path, index))
