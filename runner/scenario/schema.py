"""JSON Schemas of the files, generated from the models, for editors and `wsrun schema`.

The models validate steps in their canonical form (``{kind: send, text: hi}``); the schemas
describe them as they are written (``{send: hi}``, ``{send: {text: hi}}``, ``close``), so the
step part is rewritten here from what each step model declares (`kinds.py`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from runner.scenario.files import LibraryFile, ScenarioFile, SuiteConfig
from runner.scenario.kinds import StepModel, step_models, synonyms

__all__ = [
    "SCHEMA_FILES",
    "library_json_schema",
    "scenario_json_schema",
    "suite_json_schema",
    "write_schemas",
]

_DRAFT = "https://json-schema.org/draft/2020-12/schema"


def scenario_json_schema() -> dict[str, Any]:
    """The JSON Schema of a scenario file."""
    return _file_schema(ScenarioFile, "wsrun scenario", ("properties", "steps"))


def library_json_schema() -> dict[str, Any]:
    """The JSON Schema of a library file (blocks of steps)."""
    return _file_schema(LibraryFile, "wsrun library", ("$defs", "Block", "properties", "steps"))


def suite_json_schema() -> dict[str, Any]:
    """The JSON Schema of the suite file, `wsrun-suite.yaml`."""
    schema = SuiteConfig.model_json_schema()
    return {"$schema": _DRAFT, "title": "wsrun suite", **_without_title(schema)}


#: The files `write_schemas` writes, and the function that makes each.
SCHEMA_FILES = {
    "scenario.schema.json": scenario_json_schema,
    "library.schema.json": library_json_schema,
    "suite.schema.json": suite_json_schema,
}


def write_schemas(directory: str | os.PathLike[str]) -> list[Path]:
    """Write every schema into `directory` (created if needed); returns the files written."""
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, make in SCHEMA_FILES.items():
        path = folder / name
        path.write_text(schema_text(make()), encoding="utf-8")
        written.append(path)
    return written


def schema_text(schema: dict[str, Any]) -> str:
    """A schema as the committed files hold it."""
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def _without_title(schema: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in schema.items() if key != "title"}


def _file_schema(model: type[BaseModel], title: str, steps_at: tuple[str, ...]) -> dict[str, Any]:
    schema = model.model_json_schema()
    defs = schema.setdefault("$defs", {})
    for step_model in step_models():
        _drop_kind(defs[step_model.__name__])
    defs["Duration"] = {
        "anyOf": [
            {"type": "number", "minimum": 0},
            {"type": "string", "pattern": r"^\s*(\d+(\.\d*)?|\.\d+)\s*(ms|s|m|h)?\s*$"},
        ],
        "description": "250ms, 2s, 1m, 1h, or a number of seconds",
    }
    steps = schema
    for key in steps_at:
        steps = steps[key]
    defs["WrittenStep"] = _written_step()
    steps["items"] = {"$ref": "#/$defs/WrittenStep"}
    for step_model in step_models():  # steps inside steps (a loop's) are written steps too
        _point_nested_steps(defs[step_model.__name__])
    imports = schema["properties"]["imports"]
    imports["items"] = {
        "anyOf": [{"type": "string", "description": "the library's path"}, imports["items"]]
    }
    return {"$schema": _DRAFT, "title": title, **_without_title(schema)}


def _drop_kind(definition: dict[str, Any]) -> None:
    definition["properties"].pop("kind", None)
    if "kind" in definition.get("required", []):
        definition["required"].remove("kind")


def _point_nested_steps(definition: dict[str, Any]) -> None:
    for prop in definition.get("properties", {}).values():
        items = prop.get("items")
        if isinstance(items, dict) and items.get("type") == ["object", "string"]:
            prop["items"] = {"$ref": "#/$defs/WrittenStep"}


def _written_step() -> dict[str, Any]:
    models = {model.kind_name(): model for model in step_models()}
    keys = {kind: kind for kind in models} | synonyms()
    alternatives: list[dict[str, Any]] = [
        {
            "type": "object",
            "properties": {key: _body(models[kind])},
            "required": [key],
            "additionalProperties": False,
        }
        for key, kind in keys.items()
    ]
    bare = [kind for kind, model in models.items() if model.bare]
    alternatives.append({"enum": bare, "description": f"{', or '.join(bare)}, as is"})
    return {"anyOf": alternatives, "description": "a step: a mapping whose only key is its kind"}


def _body(model: type[StepModel]) -> dict[str, Any]:
    options: list[dict[str, Any]] = [{"$ref": f"#/$defs/{model.__name__}"}]
    if model.shorthand_schema is not None:
        options.append(model.shorthand_schema)
    if model.bare:
        options.append({"type": "null"})
    body = options[0] if len(options) == 1 else {"anyOf": options}
    return {**body, "description": model.__doc__ or model.kind_name()}
