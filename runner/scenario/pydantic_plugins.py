"""Pydantic's plugin look-up, without importing `importlib.metadata` when no plugin is installed.

When it builds its first validator, pydantic imports ``pydantic.plugin._loader``, which imports
`importlib.metadata` (and `email`, `zipfile`, `csv` with it), then reads the entry points of every
installed distribution for the group ``pydantic``: about 22 ms of a 200 ms ``wsrun validate``,
for an answer that is almost always "none".

`install` puts a stand-in for that module in `sys.modules` (unless pydantic imported it already).
Its `get_plugins`, first called where pydantic's would be, looks for the word "pydantic" in the
``entry_points.txt`` of every ``*.dist-info`` and ``*.egg-info`` folder on `sys.path` (about
1 ms). Found nowhere, there is no plugin, and the answer is pydantic's own: none. Found anywhere,
or on a `sys.path` entry or an import hook this look does not cover (a zip file, an egg, a
finder of distributions other than the standard one), the real module is imported and answers,
and every later use of the name gets the real module.

Why it is sound: `importlib.metadata` finds distributions only through the finders of
`sys.meta_path` that have ``find_distributions``; the standard one
(`importlib.machinery.PathFinder`) reads exactly those folders of `sys.path`, and pydantic loads
exactly the entry points of group ``pydantic`` that they declare, once per process (it keeps the
answer, as this does). Nothing is written to the environment: child processes (services, ``run``
steps) see the environment that wsrun was given, and ``PYDANTIC_DISABLE_PLUGINS`` keeps its
meaning (it only ever removes plugins).
"""

from __future__ import annotations

import importlib
import importlib.machinery
import os
import sys
import threading
import types
from collections.abc import Iterable
from typing import Any

__all__ = ["LOADER", "install", "plugins_declared"]

#: Pydantic's module that finds its plugins.
LOADER = "pydantic.plugin._loader"
_INFO_SUFFIXES = (".dist-info", ".egg-info")
#: `sys.meta_path` entries known not to find distributions: they leave the answer unchanged.
_STANDARD = (importlib.machinery.PathFinder,)


def install() -> None:
    """Put the stand-in in place of pydantic's plugin loader, unless that is imported already."""
    if LOADER in sys.modules:
        return
    stand_in = types.ModuleType(LOADER, __doc__)
    # anything else pydantic may take from the module comes from the real one
    vars(stand_in).update(get_plugins=_get_plugins, __getattr__=_real_attribute)
    sys.modules[LOADER] = stand_in


def plugins_declared(path: Iterable[str] | None = None) -> bool:
    """Whether a distribution on `path` (default `sys.path`) may declare a pydantic plugin, or
    the look cannot tell (then True: the real loader decides)."""
    if any(_finds_distributions(finder) for finder in sys.meta_path):
        return True
    for entry in sys.path if path is None else path:
        root = entry or "."
        if root.lower().endswith(".egg"):
            return True
        try:
            names = os.listdir(root)
        except OSError:
            if os.path.exists(root):  # a zip file, read by importlib.metadata too
                return True
            continue
        for name in names:
            if name.lower().endswith(_INFO_SUFFIXES) and _mentions_pydantic(root, name):
                return True
    return False


def _finds_distributions(finder: object) -> bool:
    return hasattr(finder, "find_distributions") and finder not in _STANDARD


def _mentions_pydantic(root: str, info: str) -> bool:
    try:
        with open(os.path.join(root, info, "entry_points.txt"), "rb") as file:
            return b"pydantic" in file.read().lower()
    except OSError:  # none: no entry point at all (or a one-file egg-info)
        return False


_lock = threading.Lock()
#: Whether a distribution may declare a plugin (None: not looked yet).
_declared: bool | None = None


def _get_plugins() -> Iterable[Any]:
    """Pydantic's `get_plugins`: none when no distribution declares one, else the real one's."""
    global _declared
    with _lock:
        if _declared is None:
            _declared = plugins_declared()
    if not _declared:
        return ()
    return _real().get_plugins()  # type: ignore[no-any-return]


def _real() -> types.ModuleType:
    """Pydantic's own loader, imported in the stand-in's place (once)."""
    with _lock:
        module = sys.modules.get(LOADER)
        if module is None or getattr(module, "get_plugins", None) is _get_plugins:
            sys.modules.pop(LOADER, None)
            module = importlib.import_module(LOADER)
        return module


def _real_attribute(name: str) -> Any:
    if name.startswith("__"):  # introspection (copy, pickle, doctest) of the stand-in itself
        raise AttributeError(name)
    return getattr(_real(), name)
