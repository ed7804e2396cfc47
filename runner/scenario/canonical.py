"""From the way steps are written to the form the models validate.

A step is written as a one-key mapping whose key is its kind, with shorthands:

    - send: hello          →  {kind: send, text: hello}
    - expect: hello        →  {kind: expect, text: hello}
    - connect: ws://x/     →  {kind: connect, url: ws://x/}
    - sleep: 500ms         →  {kind: sleep, duration: 500ms}
    - use: auth.login      →  {kind: use, block: auth.login}
    - close                →  {kind: close}        (also `expect_close`)
    - expect-message: ...  →  {kind: expect, ...}

Mistakes found here (an unknown kind, options beside the kind instead of under it) are reported
with "did you mean"; such a step is replaced by a harmless one so that the rest still validates.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import runner.scenario.steps  # noqa: F401  (defining the step models registers their kinds)
from runner.errors import ScenarioError
from runner.scenario.diagnostics import describe, did_you_mean
from runner.scenario.kinds import StepModel, kind_names, step_model, synonyms
from runner.scenario.source import Document, ValuePath

__all__ = ["canonical_imports", "canonical_items"]

_INTERNAL = ("kind", "location", "bindings")
_INTERNAL_KEYS = frozenset(_INTERNAL)
_PLACEHOLDER: dict[str, Any] = {"kind": "sleep", "duration": 0}


def canonical_items(
    document: Document, path: ValuePath, steps: list[Any], errors: list[ScenarioError]
) -> Iterator[dict[str, Any]]:
    """The canonical forms of `steps` (the list at `path`), each made when it is taken."""
    for index, step in enumerate(steps):
        done = _common(step)
        yield done if done is not None else _step(document, (*path, index), step, errors)


def _common(step: Any) -> dict[str, Any] | None:
    """The canonical form of a step written the common way, worked out in one call: a one-key
    mapping naming a kind, with a scalar for its shorthand or a mapping of options (no internal
    key); None for any other step, which `_canonical` then reads (and reports) as before."""
    if type(step) is not dict or len(step) != 1:
        return None
    for key, body in step.items():
        kind = step_model(key)
        if kind is None:
            return None
        if type(body) is dict:
            if not _INTERNAL_KEYS.isdisjoint(body):
                return None
            return {**body, "kind": kind.kind_name()}
        if kind.shorthand is None or body is None or isinstance(body, list | dict):
            return None
        return {"kind": kind.kind_name(), kind.shorthand: body}
    return None


def _step(
    document: Document, path: ValuePath, step: Any, errors: list[ScenarioError]
) -> dict[str, Any]:
    try:
        return _canonical(document, path, step)
    except ScenarioError as error:
        errors.append(error)
        return dict(_PLACEHOLDER)


def _canonical(document: Document, path: ValuePath, step: Any) -> dict[str, Any]:
    if isinstance(step, str):
        return _bare(document, path, step)
    if not isinstance(step, dict) or not step:
        raise document.error(
            "invalid step",
            document.location(path),
            expected="a mapping such as {send: hello}",
            found=describe(step),
        )
    if len(step) > 1:
        raise _several_keys(document, path, step)
    key, body = next(iter(step.items()))
    kind = _kind(document, (*path, key), key)
    return _body(document, (*path, key), kind, body)


def _bare(document: Document, path: ValuePath, text: str) -> dict[str, Any]:
    kind = _kind(document, path, text, is_key=False)
    if not kind.bare:
        raise document.error(
            f"step {text!r} needs options",
            document.location(path),
            expected=f"{text}: followed by its options",
        )
    return {"kind": kind.kind_name()}


def _kind(document: Document, path: ValuePath, key: str, *, is_key: bool = True) -> type[StepModel]:
    kind = step_model(key)
    if kind is not None:
        return kind
    location = document.key_location(path) if is_key else document.location(path)
    raise document.error(
        f"unknown step kind {key!r}",
        location,
        expected=f"one of {', '.join(kind_names())}",
        hint=did_you_mean(key, [*kind_names(), *synonyms()]),
    )


def _several_keys(document: Document, path: ValuePath, step: dict[str, Any]) -> ScenarioError:
    kinds = [key for key in step if step_model(key) is not None]
    names = ", ".join(step)
    hint = None
    if len(kinds) == 1:
        others = ", ".join(key for key in step if key != kinds[0])
        hint = f"indent {others} under {kinds[0]}:"
    return document.error(
        "a step has exactly one key, its kind",
        document.location(path),
        found=f"the keys {names}",
        hint=hint,
    )


def _body(document: Document, path: ValuePath, kind: type[StepModel], body: Any) -> dict[str, Any]:
    name = kind.kind_name()
    if body is None:
        if kind.bare:
            return {"kind": name}
        raise document.error(f"step {name!r} needs options", document.location(path))
    if isinstance(body, dict):
        for key in _INTERNAL:
            if key in body:
                raise document.error(f"unknown key {key!r}", document.key_location((*path, key)))
        return {**body, "kind": name}
    if kind.shorthand is not None and not isinstance(body, list):
        return {"kind": name, kind.shorthand: body}
    raise document.error(
        f"invalid {name} step",
        document.location(path),
        expected="a mapping of options",
        found=describe(body),
    )


def canonical_imports(value: Any) -> Any:
    """`imports: [lib/a.yaml]` → `[{path: lib/a.yaml}]` (other values returned as they are)."""
    if not isinstance(value, list):
        return value
    return [{"path": item} if isinstance(item, str) else item for item in value]
