"""Start-up (issue 15, helper S of 2026-12-02): the language's models are cheap to define.

Pydantic evaluates the annotations of a model and of every class it inherits from when the model
is defined; an annotation written as a string (what ``from __future__ import annotations`` makes
of every one) is compiled and evaluated each time, once per subclass that inherits it. The
modules that define the language's models therefore write their annotations as objects, and
only the two references to what is defined later as strings: defining the 45 models of a
``wsrun validate`` went from ~26 to ~15 ms of CPU.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

import runner.scenario  # noqa: F401  (every model of the language defined)
from runner.scenario.fields import Model

#: The annotations that name what is defined after them: `MatcherSet` (a set of matchers holds
#: sets of matchers) and `_Step` (a loop holds steps of every kind, defined after it).
FORWARD = {
    ("runner.scenario.matchers", "MatcherFields", "not_"): "MatcherSet | None",
    ("runner.scenario.matchers", "MatcherFields", "any_of"): "list[MatcherSet] | None",
    ("runner.scenario.steps_flow", "RepeatStep", "steps"): "list[_Step]",
}


def _models() -> list[type[BaseModel]]:
    """Every model of the language: `Model` and its subclasses in `runner.scenario`."""
    found, todo = set(), [Model]
    while todo:
        model = todo.pop()
        if model not in found and model.__module__.startswith("runner.scenario"):
            found.add(model)
            todo.extend(model.__subclasses__())
    return sorted(found, key=lambda c: (c.__module__, c.__qualname__))


def _strings(annotation: object) -> list[str]:
    """The parts of `annotation` written as strings (an `Annotated`'s own metadata aside)."""
    if isinstance(annotation, str):
        return [annotation]
    forward = getattr(annotation, "__forward_arg__", None)
    if isinstance(forward, str):
        return [forward]
    origin = getattr(annotation, "__origin__", None)
    if origin is Literal:  # its values, not types
        return []
    if origin is not None and hasattr(annotation, "__metadata__"):  # Annotated[X, ...]
        return _strings(origin)
    return [s for arg in getattr(annotation, "__args__", ()) for s in _strings(arg)]


def test_the_models_annotations_are_objects_but_for_the_forward_references() -> None:
    models = _models()
    assert len(models) >= 40  # the steps, their bases, the matchers, the files
    written_as_strings = {
        (model.__module__, model.__name__, name): " ".join(_strings(annotation))
        for model in models
        for name, annotation in vars(model).get("__annotations__", {}).items()
        if _strings(annotation)
    }
    assert written_as_strings == FORWARD


def test_the_forward_references_are_resolved() -> None:
    from runner.scenario.files import ScenarioFile
    from runner.scenario.matchers import MatcherSet
    from runner.scenario.steps_flow import RepeatStep

    scenario = ScenarioFile.model_validate(
        {
            "steps": [{"kind": "close"}],
            "ignore": [{"not": {"text": "a"}, "any_of": [{"text": "b"}, {"regex": "c"}]}],
        }
    )
    rule = scenario.ignore[0]
    assert isinstance(rule.not_, MatcherSet) and rule.not_.text == "a"
    assert [type(entry) for entry in rule.any_of or []] == [MatcherSet, MatcherSet]
    loop = RepeatStep.model_validate({"kind": "repeat", "count": 2, "steps": [{"kind": "close"}]})
    assert [step.kind_name() for step in loop.steps] == ["close"]
