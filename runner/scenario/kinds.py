"""The registry of step kinds: each step model declares, once, what the language knows of it.

A step model is a subclass of `StepModel` with a ``kind: Literal["name"]`` field; defining the
class registers it. Its class variables say how it may be written and shown:

- `shorthand`: the field a scalar stands for (``- send: hello`` is ``{text: hello}``), and
  `shorthand_schema`, the JSON Schema of that scalar;
- `bare`: whether it may be written alone (``- close``);
- `synonyms`: other keys that name it (``expect-message``);
- `waits`: whether it takes time on purpose (the console shows it at normal verbosity);
- `runs`: False for a kind the loader expands before anything runs (``use``).

The canonical tables of `canonical.py`, the JSON Schemas of `schema.py`, "did you mean" and the
console's view are derived from the registry, and the executor registers one runner per model
that runs (a test holds it to that). Adding a kind is its model here and its runner there.
"""

from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import Field
from pydantic.json_schema import SkipJsonSchema

from runner.errors import Location
from runner.scenario.fields import Model

__all__ = [
    "NOWHERE",
    "StepModel",
    "kind_names",
    "step_model",
    "step_models",
    "synonyms",
]

#: The location of a step built in code rather than read from a file.
NOWHERE = Location("<unknown>", 1, 1)

_REGISTRY: dict[str, "type[StepModel]"] = {}
_SYNONYMS: dict[str, str] = {}  # synonym -> kind, kept with the registry
_NAMES: dict[type[Any], str] = {}  # model -> its kind (`model_fields` costs a microsecond a read)


class StepModel(Model):
    """Base of every step model (see the module's docstring for its class variables)."""

    shorthand: ClassVar[str | None] = None
    shorthand_schema: ClassVar[dict[str, Any] | None] = None
    bare: ClassVar[bool] = False
    synonyms: ClassVar[tuple[str, ...]] = ()
    waits: ClassVar[bool] = False
    runs: ClassVar[bool] = True

    if TYPE_CHECKING:  # each kind's model declares it as a Literal field, the union's tag
        kind: str

    name: str | None = Field(
        None,
        min_length=1,
        description="a label for the step: the name `wsrun load` reports it under "
        "(default: its file:line)",
    )
    location: SkipJsonSchema[Location] = Field(
        NOWHERE, exclude=True, description="where the step is written"
    )
    bindings: SkipJsonSchema[dict[str, Any]] = Field(
        default_factory=dict,
        exclude=True,
        description="the `with` values of the `use` that brought this step, rendered first",
    )

    def saved_variables(self) -> set[str]:
        """The variables the step saves for the steps after it (none by default)."""
        return set()

    def conn_named(self) -> str | None:
        """The connection the step names, if it acts on one and names it."""
        return None

    @classmethod
    def kind_name(cls) -> str:
        """The name of the model's kind (what its `kind` field holds)."""
        name = _NAMES.get(cls)
        return name if name is not None else str(cls.model_fields["kind"].default)

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        field = cls.model_fields.get("kind")
        if field is None:  # a base shared by several kinds
            return
        name = field.default
        if not isinstance(name, str) or name in _REGISTRY:
            raise TypeError(f"step kind {name!r} of {cls.__name__} is declared twice or is no str")
        _check_spelling(cls, name)
        _REGISTRY[name] = cls
        _NAMES[cls] = name
        _SYNONYMS.update(dict.fromkeys(cls.synonyms, name))


def _check_spelling(model: type[StepModel], name: str) -> None:
    if model.shorthand is not None and model.shorthand not in model.model_fields:
        raise TypeError(f"step kind {name!r}: shorthand {model.shorthand!r} is not a field")
    if (model.shorthand is None) != (model.shorthand_schema is None):
        raise TypeError(f"step kind {name!r}: a shorthand needs its schema, and only then")
    taken = set(_REGISTRY) | set(_SYNONYMS)
    clash = [word for word in (name, *model.synonyms) if word in taken]
    if clash:
        raise TypeError(f"step kind {name!r}: {clash[0]!r} already names a kind")


def step_models() -> tuple[type[StepModel], ...]:
    """Every step model, in the order they were defined (the order documentation lists them)."""
    return tuple(_REGISTRY.values())


def kind_names() -> tuple[str, ...]:
    """The names of the kinds, in order."""
    return tuple(_REGISTRY)


def synonyms() -> dict[str, str]:
    """Every synonym and the kind it names."""
    return dict(_SYNONYMS)


def step_model(key: str) -> type[StepModel] | None:
    """The model of the kind that `key` names (a kind or a synonym), None if none does."""
    return _REGISTRY.get(_SYNONYMS.get(key, key))
