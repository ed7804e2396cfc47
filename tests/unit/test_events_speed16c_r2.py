"""Issue 15: the events a send/expect pair makes by the thousand are built with plain attribute
stores on a builder subclass (then given their class), not one slot ``__set__`` call a field:
the same frozen, equal, picklable instances of their own class."""

from __future__ import annotations

import dataclasses
import dis
import pickle
from collections.abc import Callable
from typing import Any

import pytest

from runner.events import (
    FrameReceived,
    FrameSent,
    Status,
    StepEnded,
    StepStarted,
    TranscriptEntry,
    _step_ended,
)
from runner.executor.inbox import Message
from runner.executor.step_registry import Outcome


def _calls(function: Callable[..., Any]) -> int:
    """The calls in the bytecode of `function` (a ``CALL`` each, and no other way to call)."""
    names = [op.opname for op in dis.get_instructions(function)]
    assert not {"CALL_FUNCTION_EX", "CALL_FUNCTION_KW"} & set(names)
    return names.count("CALL") + names.count("CALL_FUNCTION")


HOT = (TranscriptEntry, StepStarted, StepEnded, FrameSent, FrameReceived, Message, Outcome)


@pytest.mark.parametrize("cls", HOT, ids=lambda cls: cls.__name__)
def test_a_hot_event_init_makes_one_call_whatever_its_fields(cls: type) -> None:
    # one call (object's `__class__` setter), where each field's slot `__set__` was one
    assert len(dataclasses.fields(cls)) >= 3
    assert _calls(cls.__init__) == 1


def test_the_positional_step_ended_makes_one_call() -> None:
    assert _calls(_step_ended) == 1  # `object.__new__` (was one more for each of 13 fields)


def _values(cls: type) -> dict[str, Any]:
    return {f.name: f"v{n}" for n, f in enumerate(dataclasses.fields(cls))}


@pytest.mark.parametrize("cls", HOT, ids=lambda cls: cls.__name__)
def test_a_hot_event_is_a_frozen_instance_of_its_own_class(cls: type) -> None:
    values = _values(cls)
    made = cls(**values)
    assert made.__class__ is cls and type(made) is cls
    assert {name: getattr(made, name) for name in values} == values
    name = next(iter(values))
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(made, name, "other")
    with pytest.raises(dataclasses.FrozenInstanceError):
        delattr(made, name)
    assert getattr(made, name) == "v0"
    again = pickle.loads(pickle.dumps(made))  # events cross processes with --processes
    assert again == made and type(again) is cls and hash(again) == hash(made)
    assert dataclasses.replace(made, **{name: "w"}) != made
    assert repr(made).startswith(f"{cls.__name__}(")


def test_defaults_hold_and_a_positional_step_ended_is_frozen() -> None:
    assert Outcome() == Outcome(None, None, None, None)
    assert Message(1.0, "x") == Message(at=1.0, data="x", frame=None, reply_to=None)
    ended = StepEnded(
        at=0.0,
        scenario=0,
        index=1,
        kind="send",
        location="a:1:2",
        status=Status.PASSED,
        duration=0.1,
    )
    assert ended.summary == "" and ended.latency is None
    made = _step_ended(
        0.0, 0, 1, "send", "a:1:2", Status.PASSED, 0.1, None, None, None, None, None, ""
    )
    assert made == ended and type(made) is StepEnded
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.index = 2  # type: ignore[misc]


def _subclasses(cls: type) -> list[type]:
    found = []
    for sub in cls.__subclasses__():
        if not sub.__name__.endswith("Builder"):  # the builder itself: one a hot class
            found += [sub, *_subclasses(sub)]
    return found


def test_every_subclass_of_a_hot_event_makes_its_own_instances() -> None:
    """The quick ``__init__`` gives the instance its hot class at its end: a subclass that
    inherited it would come out an instance of its base. Every subclass in the packages that
    run scenarios (each module imported; not `runner.load`, whose Locust patches this process
    with gevent) must have an ``__init__`` of its own, as a dataclass has."""
    import importlib
    import pkgutil

    for package in ("executor", "report", "protocols", "recording", "client"):
        found = importlib.import_module(f"runner.{package}")
        for module in pkgutil.walk_packages(found.__path__, f"runner.{package}."):
            importlib.import_module(module.name)
    subclasses = [sub for cls in HOT for sub in _subclasses(cls)]
    assert subclasses, "flow.Enter(Outcome) at least"
    for sub in subclasses:
        assert "__init__" in vars(sub), f"{sub.__qualname__} inherits its base's quick __init__"
        assert type(sub.__new__(sub)) is sub
