"""`runner.errors`: the tree drawn in its docstring is the real class hierarchy."""

from __future__ import annotations

import inspect
import re

import runner.errors

_NODE = re.compile(r"^    (?P<indent>[│├└─ ]*)(?P<name>[A-Z]\w+)\s")


def drawn_parents() -> dict[str, str | None]:
    """Each class of the docstring's drawing, and the class drawn as its parent."""
    parents: dict[str, str | None] = {}
    stack: list[str] = []  # the names on the path to the current node, by depth
    for line in (runner.errors.__doc__ or "").splitlines():
        match = _NODE.match(line)
        if match is None:
            continue
        depth = len(match["indent"]) // 4
        del stack[depth:]
        parents[match["name"]] = stack[-1] if stack else None
        stack.append(match["name"])
    return parents


def test_the_drawing_is_the_class_hierarchy() -> None:
    exceptions = {
        name: cls
        for name, cls in vars(runner.errors).items()
        if inspect.isclass(cls) and issubclass(cls, Exception) and cls.__module__ == "runner.errors"
    }
    real = {
        name: None if cls is runner.errors.WsrunError else cls.__bases__[0].__name__
        for name, cls in exceptions.items()
    }
    assert drawn_parents() == real
