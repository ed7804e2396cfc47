"""The JSON Schemas: fresh, described field by field, and in line with the loader."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from runner.scenario.schema import (
    SCHEMA_FILES,
    scenario_json_schema,
    schema_text,
    write_schemas,
)

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize("name", sorted(SCHEMA_FILES))
def test_committed_schemas_are_fresh(name: str) -> None:
    committed = (ROOT / "schemas" / name).read_text(encoding="utf-8")
    hint = "regenerate with runner.scenario.schema.write_schemas('schemas')"
    assert committed == schema_text(SCHEMA_FILES[name]()), hint


def test_write_schemas(tmp_path: Path) -> None:
    written = write_schemas(tmp_path / "out")
    assert sorted(p.name for p in written) == sorted(SCHEMA_FILES)
    assert written[0].read_text(encoding="utf-8").startswith('{\n  "$schema"')


def _properties(node: Any, path: str = "#") -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        for name, value in (node.get("properties") or {}).items():
            yield f"{path}/{name}", value
        for key, value in node.items():
            yield from _properties(value, f"{path}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _properties(value, f"{path}/{index}")


@pytest.mark.parametrize("name", sorted(SCHEMA_FILES))
def test_every_field_has_a_description(name: str) -> None:
    schema = SCHEMA_FILES[name]()
    jsonschema.Draft202012Validator.check_schema(schema)
    missing = [path for path, value in _properties(schema) if "description" not in value]
    assert missing == []


def test_internal_fields_stay_out() -> None:
    text = schema_text(scenario_json_schema())
    for name in ('"kind"', '"location"', '"bindings"', '"json_"', '"with_"'):
        assert name not in text


@pytest.mark.parametrize(
    "document",
    [
        {"steps": [{"send": "hi", "conn": "a"}]},
        {"steps": [{"sned": "hi"}]},
        {"steps": ["send"]},
        {"steps": [{"close": {"code": "x"}}]},
        {"steps": [{"sleep": "5 minutes"}]},
        {"timout": 1, "steps": [{"close": None}]},
    ],
)
def test_the_schema_rejects_what_the_loader_rejects(document: dict[str, Any]) -> None:
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(document, scenario_json_schema())


def test_the_schema_accepts_shorthands_and_references() -> None:
    document = {
        "steps": [
            {"connect": "ws://x/"},
            {"send": "hi"},
            {"expect-message": {"text": "hi", "timeout": "${t}"}},
            {"sleep": "1s"},
            {"close": {"code": "${code}"}},
            "expect_close",
            {"use": "lib.block"},
        ],
        "imports": ["lib.yaml", {"path": "x.yaml", "as": "x"}],
    }
    jsonschema.validate(document, scenario_json_schema())
