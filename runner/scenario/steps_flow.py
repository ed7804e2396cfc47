"""The flow steps: `repeat`, a block of steps run `count` times or once per item of `for_each`.

Defined on the bases of `steps.py`, which imports this module before it builds the union. The
loop's `steps` are steps of any kind (a `repeat` inside, a `use`...): their type is the union of
every kind registered when this module ends, `steps.py` imports it last for that reason (a test
holds the loop's union to the scenario's).

A loop is not copied out: the executor runs its steps again for each iteration, with the loop
variable (`as`) set, so `count: 1000000` costs no more memory than `count: 1`.
"""

import re
from typing import TYPE_CHECKING, Annotated, Any, Literal, Self, Union

from pydantic import Field, WithJsonSchema, field_validator, model_validator

from runner.scenario.fields import TemplatedInt
from runner.scenario.kinds import StepModel, step_models
from runner.scenario.templates import is_reference

__all__ = ["RepeatStep"]

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
#: The loop's steps in the JSON Schema: steps as written (a one-key mapping, or a bare kind);
#: `schema.py` may point the items at the file's own step schema.
_BODY_SCHEMA = {
    "type": "array",
    "minItems": 1,
    "items": {
        "type": ["object", "string"],
        "description": "a step: a mapping whose only key is its kind",
    },
}


class RepeatStep(StepModel):
    """Run `steps` `count` times, or once per item of `for_each`; `as` names the loop variable."""

    kind: Literal["repeat"] = Field("repeat", description="the step's kind")
    count: TemplatedInt | None = Field(
        None, description="how many times to run the steps (1 or more); `as` counts from 1"
    )
    for_each: list[Any] | str | None = Field(
        None,
        description="the items to run the steps for, in order (or a ${...} reference to a "
        "list); `as` takes each item",
    )
    as_: str | None = Field(
        None,
        alias="as",
        description="the loop variable: the iteration's number (1, 2, ...) with count, the "
        "item with for_each; set only inside the loop",
    )
    steps: Annotated["list[_Step]", WithJsonSchema(_BODY_SCHEMA)] = Field(
        min_length=1, description="the steps of one iteration, in order (any kind)"
    )

    @field_validator("count")
    @classmethod
    def _positive(cls, value: int | str | None) -> int | str | None:
        if isinstance(value, int) and value < 1:
            raise ValueError(f"count: expected 1 or more iterations, found {value}")
        return value

    @field_validator("for_each")
    @classmethod
    def _items(cls, value: list[Any] | str | None) -> list[Any] | str | None:
        if isinstance(value, str) and not is_reference(value):
            raise ValueError(
                f"for_each: expected a list or a ${{...}} reference to one, found {value!r}"
            )
        if isinstance(value, list) and not value:
            raise ValueError("for_each: expected at least one item, found an empty list")
        return value

    @field_validator("as_")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        if value is not None and not _IDENTIFIER.fullmatch(value):
            raise ValueError(f"as: {value!r} is not a variable name (letters, digits, _)")
        return value

    @model_validator(mode="after")
    def _count_or_items(self) -> Self:
        given = [n for n in ("count", "for_each") if getattr(self, n) is not None]
        if len(given) != 1:
            found = " and ".join(given) or "neither"
            raise ValueError(f"repeat: expected exactly one of count, for_each; found {found}")
        return self

    def body(self) -> list[StepModel]:
        """The steps of one iteration."""
        return list(self.steps)

    def written_total(self) -> int | None:
        """The number of iterations when it is written out (None: known at run time)."""
        if isinstance(self.count, int):
            return self.count
        return len(self.for_each) if isinstance(self.for_each, list) else None


if TYPE_CHECKING:
    _Step = StepModel


def complete_loops() -> None:
    """Give `repeat` its steps' type, the union of every kind (this one included: a loop may
    hold a loop; and those defined after this module, http and call): `steps.py` calls it once
    every kind's module is imported. Until then `_Step` is undefined and the model incomplete;
    it is completed where it is first needed (the models are built on first use, `defer_build`),
    by then `_Step` is defined in this module."""
    global _Step
    if not TYPE_CHECKING:
        _Step = Annotated[Union[step_models()], Field(discriminator="kind")]  # noqa: UP007
