"""Building blocks of the models: the strict base model, durations, and template-able numbers.

Models are strict: YAML values keep their types (a string is never read as a number or a
boolean). A number or boolean field may instead hold a string that is exactly one reference
(``code: ${close_code}``); it is checked again, with its real type, once rendered (see
`rendering.render_step`).
"""

import math
import re
import threading
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    GetJsonSchemaHandler,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    WithJsonSchema,
    WrapValidator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema as cs

from runner.scenario import pydantic_plugins
from runner.scenario.templates import is_reference

__all__ = [
    "MAX_DURATION",
    "RENDERED",
    "Duration",
    "Model",
    "TemplatedBool",
    "TemplatedDuration",
    "TemplatedInt",
    "parse_duration",
]

pydantic_plugins.install()  # before any model is built: see that module

#: Validation context that marks values as rendered: templates are no longer accepted.
RENDERED = {"rendered": True}

#: The longest duration (a timeout, a sleep): a week. Longer ones are mistakes, and beyond about
#: 10**9 s Python's waits fail (OverflowError).
MAX_DURATION = 7 * 86_400
_DURATION = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*(ms|s|m|h)?\s*")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}
_REFERENCE_SCHEMA: dict[str, Any] = {
    "type": "string",
    "pattern": r"^\$\{[^{}]+\}$",
    "description": "a ${...} reference, rendered when the step runs",
}


class Model(BaseModel):
    """Base of every model of the language: strict types, no unknown keys.

    Each model's validator is built when it is first used (``defer_build``), not when its class is
    defined: a file's model builds the step union once, and a kind that no file uses is never
    built (``wsrun validate`` of a one-step file built every model of the language, each step
    union three times, at import; a test holds it to this).
    """

    model_config = ConfigDict(extra="forbid", strict=True, validate_by_name=False, defer_build=True)

    @classmethod
    def model_rebuild(
        cls,
        *,
        force: bool = False,
        raise_errors: bool = True,
        _parent_namespace_depth: int = 2,
        _types_namespace: Any = None,
    ) -> bool | None:
        """Pydantic's, one build at a time: the scenarios of a run (``-j``) may first use a model
        at once, and pydantic's rebuild is not thread-safe (a second rebuild deletes the first's
        validator, and a third thread would meanwhile use the parent class's). The second waits,
        then finds the model complete."""
        with _BUILD_LOCK:
            return super().model_rebuild(
                force=force,
                raise_errors=raise_errors,
                # one frame more than pydantic counts from: this one
                _parent_namespace_depth=_parent_namespace_depth + 1
                if _parent_namespace_depth
                else 0,
                _types_namespace=_types_namespace,
            )


#: Held while a model is built (see `Model.model_rebuild`).
_BUILD_LOCK = threading.RLock()


def parse_duration(value: Any) -> float:
    """`250ms`, `2s`, `1m`, `1h`, or a number of seconds → float seconds.

    Raises:
        ValueError: for anything else, a negative or infinite number, or more than
            `MAX_DURATION` (a week).
    """
    if isinstance(value, int | float) and not isinstance(value, bool):
        if value < 0 or not math.isfinite(value):
            raise ValueError(f"expected a duration of 0 or more seconds, found {value}")
        return _at_most(float(value), value)
    if isinstance(value, str) and (match := _DURATION.fullmatch(value)):
        return _at_most(float(match[1]) * _UNITS[match[2]], value)
    raise ValueError(
        f"expected a duration such as 250ms, 2s, 1m or a number of seconds, found {value!r}"
    )


def _at_most(seconds: float, written: Any) -> float:
    if seconds > MAX_DURATION:
        raise ValueError(
            f"duration {written} is out of range: at most {MAX_DURATION // 86_400} days"
        )
    return seconds


_DURATION_SCHEMA = {
    "anyOf": [
        {"type": "number", "minimum": 0, "maximum": 7 * 86_400},
        {"type": "string", "pattern": r"^\s*(\d+(\.\d*)?|\.\d+)\s*(ms|s|m|h)?\s*$"},
    ]
}

#: Seconds, written `250ms`, `2s`, `1m`, `1h`, or as a number of seconds.
Duration = Annotated[float, BeforeValidator(parse_duration), WithJsonSchema(_DURATION_SCHEMA)]


def _allow_reference(
    value: Any, handler: ValidatorFunctionWrapHandler, info: ValidationInfo
) -> Any:
    rendered = isinstance(info.context, dict) and info.context.get("rendered")
    if not rendered and is_reference(value):
        return value
    return handler(value)


class _OrReference:
    """Adds "or a ${...} reference" to a field's JSON Schema."""

    def __get_pydantic_json_schema__(
        self, schema: cs.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {"anyOf": [handler(schema), _REFERENCE_SCHEMA]}


_TEMPLATED = (WrapValidator(_allow_reference), _OrReference())
TemplatedInt = Annotated[int, *_TEMPLATED]
TemplatedBool = Annotated[bool, *_TEMPLATED]
TemplatedDuration = Annotated[
    float, BeforeValidator(parse_duration), WithJsonSchema(_DURATION_SCHEMA), *_TEMPLATED
]
