"""A master's scenario files, shipped to workers started without FILE (no Locust here).

``wsrun load --worker --master-host H`` needs no copy of the scenarios: on connecting, the
master sends it the files its run loaded (the scenario files, the libraries they import, their
suite file), relative to their common folder, with the ``--var`` values; the worker writes them
into a temporary folder and loads them from there. Files a scenario only names (a
``json_schema``, TLS certificates) are not shipped: they must be where it names them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from runner.scenario import Suite

__all__ = ["pack", "unpack"]

#: Stops the loader's search for a suite file above the unpacked folder (a root marker).
_MARKER = "wsrun.toml"


def pack(suite: Suite, file: str, variables: Mapping[str, str]) -> dict[str, Any]:
    """What a worker needs to load `file` as the master did: a JSON-able mapping."""
    paths = [Path(p).resolve() for p in suite.files]
    paths += [s.path.resolve() for s in suite.suite_files]
    target = Path(file).resolve()
    root = Path(os.path.commonpath([target if target.is_dir() else target.parent, *paths]))
    if root.is_file():
        root = root.parent
    files = {str(p.relative_to(root)): p.read_text(encoding="utf-8") for p in dict.fromkeys(paths)}
    return {"files": files, "file": str(target.relative_to(root)), "vars": dict(variables)}


def unpack(data: Mapping[str, Any], folder: Path) -> tuple[str, dict[str, str]]:
    """Write what `pack` made under `folder`; the path to load, and the variables.

    Raises:
        ValueError: a path would land outside `folder`.
    """
    base = folder.resolve()
    for name, text in data["files"].items():
        path = (base / name).resolve()
        if not path.is_relative_to(base):
            raise ValueError(f"the master sent a file outside the folder: {name!r}")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    marker = base / _MARKER
    if not marker.exists():
        marker.write_text("", encoding="utf-8")
    return str(base / data["file"]), dict(data["vars"])
