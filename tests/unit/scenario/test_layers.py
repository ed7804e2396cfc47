"""The language stays a leaf: it knows the errors and itself, not the client, executor or UI."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
MODULES = [*sorted((ROOT / "runner" / "scenario").glob("*.py"))]
MODULES += sorted((ROOT / "runner" / "matching").glob("*.py"))
ALLOWED_RUNNER = ("runner.errors", "runner.scenario", "runner.matching", "runner.rfc6455")
# A protocol's options (connect's protocol_options) are checked when the file loads: the language
# asks the protocol registry, which imports a protocol's module by name when first asked (the
# protocols, in turn, know only the language and the errors: tests/protocols/test_protocol_seam.py).
ALLOWED_RUNNER += ("runner.protocols.registry",)
FORBIDDEN = ("websocket", "websockets", "rich")


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


@pytest.mark.parametrize("path", MODULES, ids=[p.stem for p in MODULES])
def test_dependencies_point_one_way(path: Path) -> None:
    for name in _imports(path):
        if name == "runner" or name.startswith("runner."):
            assert name.startswith(ALLOWED_RUNNER), f"{path.name} imports {name}"
        assert name.split(".")[0] not in FORBIDDEN, f"{path.name} imports {name}"
    if path.parent.name == "matching":
        assert not any(name.startswith("runner.scenario") for name in _imports(path))


@pytest.mark.parametrize("path", MODULES, ids=[p.stem for p in MODULES])
def test_exports_are_honest(path: Path) -> None:
    relative = path.relative_to(ROOT).with_suffix("")
    name = ".".join(relative.parts).removesuffix(".__init__")
    module = importlib.import_module(name)
    exported = getattr(module, "__all__", None)
    assert exported is not None, f"{name} has no __all__"
    assert [n for n in exported if not hasattr(module, n)] == []
    assert list(exported) == sorted(exported, key=lambda n: (not n.isupper(), n))
