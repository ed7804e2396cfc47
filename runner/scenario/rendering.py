"""Rendering at run time: a scenario's variables once, then each step just before it runs.

The loader has checked every reference already; what can still fail here is a value that only
exists at run time (an unset environment variable, a rendered value of the wrong type).
"""

from __future__ import annotations

from collections import ChainMap
from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import ValidationError

from runner.errors import Location, ScenarioError
from runner.scenario.fields import RENDERED
from runner.scenario.files import Service
from runner.scenario.steps import ConnectStep, RunStep
from runner.scenario.templates import (
    MAX_RENDERED,
    TemplateSyntaxError,
    least_size,
    references,
    render,
)

__all__ = [
    "dependencies",
    "render_service",
    "render_step",
    "render_variables",
    "variable_order",
]

StepT = TypeVar("StepT", bound=RunStep)
_STATIC = ("kind", "conn")


def render_step(step: StepT, variables: Mapping[str, Any]) -> StepT:
    """A copy of `step` with every template rendered and every field of its declared type.

    Raises:
        ScenarioError: at the step's location, for an unknown variable or a rendered value of
            the wrong type (say `code: ${c}` where c is "abc").
    """
    data = step.model_dump(by_alias=True, exclude_unset=True, warnings=False)
    static = {key: data.pop(key) for key in _STATIC if key in data}
    rendered = render(data, variables, step.location)
    if isinstance(step, ConnectStep) and isinstance(rendered.get("headers"), dict):
        rendered["headers"] = {k: _header(v) for k, v in rendered["headers"].items()}
    try:
        result = type(step).model_validate({**rendered, **static}, strict=False, context=RENDERED)
    except ValidationError as exc:
        raise _rendered_error(exc, step.location) from exc
    result.location = step.location
    result.bindings = step.bindings
    return result


def _header(value: Any) -> Any:
    return str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value


def _rendered_error(exc: ValidationError, location: Location) -> ScenarioError:
    first = exc.errors(include_url=False)[0]
    where = ".".join(str(part) for part in first["loc"]) or "step"
    message = str(first["msg"]).removeprefix("Value error, ")
    return ScenarioError(
        f"{where}: {message.lower()} once rendered", location, found=repr(first["input"])
    )


def render_service(service: Service, variables: Mapping[str, Any]) -> Service:
    """A copy of `service` with its command, env, ready port and ready url rendered.

    `cwd`, `ready.log` and `provides` stay as written (`provides` is rendered from the captures,
    once the service is ready). Numbers in the command and env become strings.

    Raises:
        ScenarioError: at the service's location, for an unknown variable or a rendered value
            of the wrong type (``ready: {port: ${p}}`` where p is "abc").
    """
    ready = service.ready
    written = {"command": service.command, "env": service.env, "port": ready.port, "url": ready.url}
    rendered = render(written, variables, service.location)
    command = rendered["command"]
    data = {
        **service.model_dump(warnings=False),  # a templated int is still a string here
        "command": command if isinstance(command, str) else [_text(arg) for arg in command],
        "env": {name: _text(value) for name, value in rendered["env"].items()},
        "ready": {
            **ready.model_dump(warnings=False),
            "port": rendered["port"],
            "url": rendered["url"],
        },
    }
    try:
        result = Service.model_validate(data, strict=False, context=RENDERED)
    except ValidationError as exc:
        raise _rendered_error(exc, service.location) from exc
    result.location = service.location
    return result


def _text(value: Any) -> Any:
    """A number as a string (``--port ${port}``); anything else as rendered, for the model."""
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    return str(value) if is_number else value


def dependencies(value: Any) -> set[str]:
    """The variable names the templates in `value` refer to (defaults included)."""
    names: set[str] = set()
    for reference in references(value):
        if reference.kind == "var":
            names.add(reference.name)
        names.update(arg.name for arg in reference.args if hasattr(arg, "name"))
    return names


def variable_order(variables: Mapping[str, Any]) -> list[str]:
    """The variables' names, each after those it refers to.

    Raises:
        ValueError: when variables refer to each other in a cycle (naming them), or one of them
            would render beyond `MAX_RENDERED` characters (a chain that doubles, say).
    """
    names = set(variables)  # once: per variable, 20,000 variables took 17 s
    pending = {name: dependencies(value) & names for name, value in variables.items()}
    order: list[str] = []
    done: set[str] = set()
    sizes: dict[str, int] = {}
    while pending:
        ready = [name for name, needs in pending.items() if not needs - done - {name}]
        if not ready:
            raise ValueError(f"variables refer to each other: {', '.join(sorted(pending))}")
        for name in ready:
            order.append(name)
            done.add(name)
            del pending[name]
            sizes[name] = min(least_size(variables[name], sizes), MAX_RENDERED + 1)
            if sizes[name] > MAX_RENDERED:
                raise ValueError(
                    f"variable {name!r} renders to more than the limit of {MAX_RENDERED:,} "
                    "characters"
                )
    return order


def render_variables(
    variables: Mapping[str, Any],
    provided: Mapping[str, Any] | None = None,
    location: Location | None = None,
) -> dict[str, Any]:
    """Render a scenario's variables (they may refer to each other and to `provided` values).

    Returns `provided` and the rendered variables together (variables win).

    Raises:
        ScenarioError: at `location`, for a cycle, an unknown variable or an unset environment
            variable.
    """
    try:
        order = variable_order(variables)
    except (ValueError, TemplateSyntaxError) as exc:
        raise ScenarioError(str(exc), location) from exc
    done: dict[str, Any] = {}
    scope = ChainMap(done, dict(provided or {}))
    for name in order:
        done[name] = render(variables[name], scope, location)
    return dict(scope)
