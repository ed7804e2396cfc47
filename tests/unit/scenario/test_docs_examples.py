"""Every YAML example of the README's language section loads, validates and fits the schemas.

Blocks fenced ```yaml are scenarios (or the suite file, when they have no `steps`); ```yaml-library
blocks are libraries, written to the path named by their first comment line; ```yaml-invalid
blocks must fail, and when a ```text block follows, with exactly what `wsrun validate` prints
(after the ``$ wsrun validate ...`` line that may open it).
"""

from __future__ import annotations

import re
from io import StringIO
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from rich.console import Console

from runner.errors import ScenarioError
from runner.report.console import print_scenario_errors
from runner.scenario import validate_paths
from runner.scenario.schema import library_json_schema, scenario_json_schema, suite_json_schema

ROOT = Path(__file__).resolve().parents[3]
_FENCE = re.compile(r"^```([\w-]+)\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def printed(errors: list[ScenarioError]) -> str:
    """What `wsrun validate` prints for `errors`, on a plain console (no line ever wraps)."""
    console = Console(file=StringIO(), width=100, color_system=None)
    print_scenario_errors(console, errors)
    return console.file.getvalue()  # type: ignore[attr-defined]


def _documents() -> list[tuple[str, str]]:
    """The README's "Scenario language" section, where the language is documented."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index("\n## Scenario language")
    end = text.find("\n## ", start + 1)
    return [("README.md", text[start : end if end >= 0 else None])]


def _blocks(text: str) -> list[tuple[str, str]]:
    return [(match[1], match[2]) for match in _FENCE.finditer(text)]


def _write_libraries(folder: Path, blocks: list[tuple[str, str]]) -> None:
    for kind, body in blocks:
        if kind == "yaml-library":
            name = body.splitlines()[0].lstrip("# ").strip()
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_text(body, encoding="utf-8")


def _cases() -> list[Any]:
    cases = []
    for source, text in _documents():
        blocks = _blocks(text)
        for index, (kind, body) in enumerate(blocks):
            if kind in ("yaml", "yaml-library", "yaml-invalid"):
                after = blocks[index + 1] if index + 1 < len(blocks) else ("", "")
                expected = after[1] if kind == "yaml-invalid" and after[0] == "text" else None
                if expected is not None and expected.startswith("$ "):  # the command shown
                    expected = expected.split("\n", 1)[1]
                cases.append(pytest.param(kind, body, blocks, expected, id=f"{source}-{index}"))
    return cases


def test_the_documentation_has_examples() -> None:
    kinds = [kind for _, text in _documents() for kind, _ in _blocks(text)]
    assert kinds.count("yaml") >= 6
    assert "yaml-library" in kinds
    assert "yaml-invalid" in kinds


@pytest.mark.parametrize(("kind", "body", "blocks", "expected"), _cases())
def test_example(
    kind: str,
    body: str,
    blocks: list[tuple[str, str]],
    expected: str | None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    _write_libraries(tmp_path, blocks)
    value = yaml.safe_load(body)
    if kind == "yaml-library":
        jsonschema.validate(value, library_json_schema())
        assert validate_paths([Path(body.splitlines()[0].lstrip("# ").strip())]) == []
        return
    is_suite = "steps" not in value
    name = "wsrun-suite.yaml" if is_suite else f"{value.get('name', 'example')}.yaml"
    (tmp_path / name).write_text(body, encoding="utf-8")
    found = validate_paths([Path(name)])
    if kind == "yaml-invalid":
        assert found
        if expected is not None:
            assert printed(found) == expected
        return
    assert found == []
    jsonschema.validate(value, suite_json_schema() if is_suite else scenario_json_schema())
