"""The steps of a file, each validated by its kind's model alone: `DispatchedStep`.

`Step` is pydantic's tagged union of every kind (tag: ``kind``). Building its validator builds a
schema for every kind of the language, about a third of a one-step ``wsrun validate``. A file's
and a block's steps are instead validated here: a step whose ``kind`` names a kind goes to a
one-choice tagged union of that kind (built at that kind's first step), so its errors carry the
same locations and types as the whole union's (``steps.0.connect.url``). Anything else (no
``kind``, an unknown one, a value that is not a mapping) goes to the whole union, built then,
which says what it says today. The JSON Schema, and `diagnostics.allowed_keys`'s walk through
the annotation, see the union itself: the marker only changes how pydantic validates.
"""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, GetCoreSchemaHandler, GetJsonSchemaHandler, TypeAdapter
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import SchemaValidator
from pydantic_core import core_schema as cs

from runner.scenario.fields import _BUILD_LOCK
from runner.scenario.kinds import StepModel, step_models
from runner.scenario.steps import Step

__all__ = ["DispatchedStep", "built_kinds"]

_TAG = "kind"


class DispatchedStep:
    """`Annotated` marker of a step union: validate each step by its own kind (see the module)."""

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> Any:
        # the handler would build the union; it is built only if a step needs it (`_whole`)
        return cs.with_info_plain_validator_function(_validate)

    def __get_pydantic_json_schema__(
        self, schema: cs.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return handler(_whole().core_schema)


def built_kinds() -> list[str]:
    """The kinds whose validator `DispatchedStep` has built so far (for tests)."""
    return sorted(_BY_KIND)


def _validate(value: Any, info: cs.ValidationInfo) -> Any:
    kind = value.get(_TAG) if isinstance(value, dict) else None
    validator = _kind_validator(kind) if isinstance(kind, str) else None
    if validator is None:
        return _whole().validate_python(value, context=info.context)
    return validator.validate_python(value, context=info.context)


def _kind_validator(kind: str) -> SchemaValidator | None:
    validator = _BY_KIND.get(kind)
    if validator is not None:
        return validator
    model = _models().get(kind)
    if model is None:
        return None
    with _LOCK:
        if kind not in _BY_KIND:
            model.model_rebuild()
            choice = model.__pydantic_core_schema__
            union = cs.tagged_union_schema({kind: choice}, _TAG)
            _BY_KIND[kind] = SchemaValidator(union, cs.CoreConfig(strict=True))
    return _BY_KIND[kind]


def _models() -> dict[str, type[StepModel]]:
    return {model.kind_name(): model for model in step_models()}


def _whole() -> TypeAdapter[Any]:
    global _WHOLE
    with _LOCK:
        if _WHOLE is None:
            _WHOLE = TypeAdapter(Step, config=ConfigDict(strict=True))
    return _WHOLE


#: The models' build lock: every build of the language's validators takes turns (pydantic's
#: rebuild is not thread-safe; see `fields.Model.model_rebuild`).
_LOCK = _BUILD_LOCK
_BY_KIND: dict[str, SchemaValidator] = {}
_WHOLE: TypeAdapter[Any] | None = None
