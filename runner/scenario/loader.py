"""Loading a suite: find the files, validate everything, and hand back runnable scenarios.

Nothing connects here. Every error of every file is collected and raised at once as
`ScenarioErrors`, sorted by file, line and column.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from runner.errors import Location, ScenarioError, ScenarioErrors
from runner.scenario.canonical import canonical_imports
from runner.scenario.checks import check_references, check_variables, resolve_connections
from runner.scenario.diagnostics import describe, translate
from runner.scenario.files import SUITE_FILE_NAME, ScenarioFile, Service, SuiteConfig
from runner.scenario.libraries import (
    Expander,
    Libraries,
    Origin,
    Placed,
    attach_locations,
    canonical_body,
)
from runner.scenario.matchers import file_context
from runner.scenario.rendering import variable_order
from runner.scenario.replies import ReplyRule
from runner.scenario.source import Document, ValuePath, read_document
from runner.scenario.steps import ExpectCloseStep, ExpectStep, IgnoreRule, RunStep, regex_groups
from runner.scenario.templates import TemplateSyntaxError

__all__ = ["Scenario", "Suite", "SuiteFile", "load_suite", "validate_paths"]

PathLike = str | os.PathLike[str]


@dataclass
class Scenario:
    """A scenario ready to run: `use` expanded, connections named, parametrize row applied.

    `variables` are not rendered yet (they may need values that services provide): render them
    with `rendering.render_variables` when the scenario starts, then each step with
    `rendering.render_step` just before it runs.
    """

    name: str
    file: Path
    location: Location
    description: str
    tags: list[str]
    variables: dict[str, Any]
    timeout: float
    ignore: list[IgnoreRule]
    steps: list[RunStep]
    row: dict[str, Any] | None = None
    reply: list[ReplyRule] = field(default_factory=list)
    fail_on_unexpected: bool = False


@dataclass
class SuiteFile:
    """The suite file: shared variables, and services (their `cwd` made relative to here)."""

    path: Path
    vars: dict[str, Any]
    services: list[Service]


@dataclass
class Suite:
    """Everything a run needs: the scenarios (parametrize expanded) and the suite file."""

    scenarios: list[Scenario]
    suite_file: SuiteFile | None
    files: list[Path] = field(default_factory=list)


def load_suite(paths: Sequence[PathLike], cli_vars: Mapping[str, str] | None = None) -> Suite:
    """Load and validate scenario files and folders (every *.yaml / *.yml, recursively, sorted).

    The suite file (`wsrun-suite.yaml`) is the one in a given folder, or next to a given file, or
    in the nearest folder above (up to the repository's root); library files (with a top-level
    `blocks:`) are validated but are not scenarios.

    Raises:
        ScenarioErrors: every error found, sorted by file, line and column.
    """
    loader = _SuiteLoader(dict(cli_vars or {}))
    suite = loader.load([str(p) for p in paths])
    if loader.errors:
        raise ScenarioErrors(_sorted(loader.errors))
    return suite


def validate_paths(
    paths: Sequence[PathLike], cli_vars: Mapping[str, str] | None = None
) -> list[ScenarioError]:
    """Every error in the given files and folders (empty when all are valid); no network."""
    try:
        load_suite(paths, cli_vars)
    except ScenarioErrors as exc:
        return exc.errors
    return []


def _sorted(errors: Iterable[ScenarioError]) -> list[ScenarioError]:
    unique: dict[tuple[str, str], ScenarioError] = {}
    for error in errors:
        unique.setdefault((str(error), error.snippet or ""), error)

    def key(error: ScenarioError) -> tuple[str, int, int]:
        where = error.location
        return (where.file, where.line, where.column) if where else ("", 0, 0)

    return sorted(unique.values(), key=key)


def _shown(path: Path) -> str:
    relative = os.path.relpath(path)
    return str(path) if relative.startswith("..") else relative


def _is_yaml(path: Path) -> bool:
    return path.suffix in (".yaml", ".yml") and path.is_file()


def _folder_files(folder: Path) -> list[Path]:
    found = [f for f in folder.rglob("*") if _is_yaml(f) and f.name != SUITE_FILE_NAME]
    visible = [f for f in found if not any(p.startswith(".") for p in f.relative_to(folder).parts)]
    return sorted(visible)


def _find_suite_file(folder: Path) -> Path | None:
    current = folder.resolve()
    while True:
        candidate = current / SUITE_FILE_NAME
        if candidate.is_file():
            return candidate
        if (current / ".git").exists() or current.parent == current:
            return None
        current = current.parent


class _SuiteLoader:
    def __init__(self, cli_vars: dict[str, str]) -> None:
        self.cli_vars = cli_vars
        self.errors: list[ScenarioError] = []
        self.files: list[Path] = []
        self.libraries = Libraries(self.errors, self.files)
        self.suite_file: SuiteFile | None = None
        self.provided: set[str] = set()

    def load(self, paths: list[str]) -> Suite:
        files, suite_path = self._discover(paths)
        if suite_path is not None:
            self.suite_file = self._suite_file(suite_path)
        scenarios: list[Scenario] = []
        for file in files:
            scenarios.extend(self._file(file))
        return Suite(scenarios, self.suite_file, list(dict.fromkeys(self.files)))

    def _discover(self, paths: list[str]) -> tuple[list[Path], Path | None]:
        files: list[Path] = []
        suites: set[Path] = set()
        for shown in paths:
            path = Path(shown)
            if path.is_dir():
                files.extend(_folder_files(path))
                suite = _find_suite_file(path)
            elif path.is_file():
                if path.name != SUITE_FILE_NAME:
                    files.append(path)
                suite = path if path.name == SUITE_FILE_NAME else _find_suite_file(path.parent)
            else:
                self.errors.append(ScenarioError(f"{shown}: no such file or folder"))
                continue
            if suite is not None:
                suites.add(suite.resolve())
        if len(suites) > 1:
            names = ", ".join(sorted(_shown(s) for s in suites))
            self.errors.append(ScenarioError(f"several suite files: {names}; run them separately"))
        unique = list(dict.fromkeys(files))
        return unique, (Path(_shown(min(suites))) if suites else None)

    def _read(self, path: Path) -> Document | None:
        try:
            document = read_document(path)
        except ScenarioErrors as exc:
            self.errors.extend(exc.errors)
            return None
        self.errors.extend(document.problems)
        return document

    def _suite_file(self, path: Path) -> SuiteFile | None:
        self.files.append(path)
        document = self._read(path)
        if document is None:
            return None
        try:
            config = SuiteConfig.model_validate(document.value or {})
        except ValidationError as exc:
            self.errors.extend(translate(exc, document, (), SuiteConfig))
            return None
        for index, service in enumerate(config.services):
            service.cwd = os.path.normpath(path.parent / service.cwd)
            service.location = document.location(("services", index))
            self.provided.update(service.provides)
        self._check_suite_templates(document, config)
        return SuiteFile(path, config.vars, config.services)

    def _check_suite_templates(self, document: Document, config: SuiteConfig) -> None:
        known = set(config.vars) | set(self.cli_vars) | self.provided
        _check_values(document, ("vars",), config.vars, known, self.errors)
        for index, service in enumerate(config.services):
            groups = set(regex_groups(service.ready.log))
            if service.ready.port is not None:
                groups.add("port")  # the service runner captures the port it waited for
            where: ValuePath = ("services", index, "provides")
            _check_values(document, where, service.provides, known | groups, self.errors)

    def _file(self, path: Path) -> list[Scenario]:
        self.files.append(path)
        document = self._read(path)
        if document is None:
            return []
        if isinstance(document.value, dict) and "blocks" in document.value:
            resolved = path.resolve()
            if resolved not in self.libraries.loaded:
                self.libraries.loaded[resolved] = self.libraries.load(str(path), resolved)
            return []
        model = self._scenario_file(document)
        return [] if model is None else self._scenarios(document, model)

    def _scenario_file(self, document: Document) -> ScenarioFile | None:
        raw = document.value
        if not isinstance(raw, dict):
            self.errors.append(
                document.error(
                    "a scenario file is a mapping",
                    document.location(()),
                    expected="keys such as name and steps",
                    found=describe(raw),
                )
            )
            return None
        data = {**raw, "imports": canonical_imports(raw.get("imports", []))}
        if "steps" in raw:
            data["steps"] = canonical_body(document, ("steps",), self.errors)
        try:
            model = ScenarioFile.model_validate(data, context=file_context(document.file))
        except ValidationError as exc:
            self.errors.extend(translate(exc, document, (), ScenarioFile))
            return None
        attach_locations(model.steps, document, ("steps",))
        return model

    def _scenarios(self, document: Document, model: ScenarioFile) -> list[Scenario]:
        namespaces = self.libraries.imports(document, model.imports)
        origins = [Origin(document, ("steps", i)) for i in range(len(model.steps))]
        placed = Expander(self.errors).expand(model.steps, origins, namespaces)
        resolve_connections(placed, self.errors)
        _default_timeouts(placed, model.timeout)
        if not model.parametrize:
            return [self._scenario(document, model, placed, None, None, 0)]
        ids = _row_ids(model.parametrize)
        return [
            self._scenario(document, model, placed, row, ids[i], i)
            for i, row in enumerate(model.parametrize)
        ]

    def _scenario(
        self,
        document: Document,
        model: ScenarioFile,
        placed: list[Placed],
        row: dict[str, Any] | None,
        row_id: str | None,
        index: int,
    ) -> Scenario:
        suite_vars = self.suite_file.vars if self.suite_file else {}
        variables = {**suite_vars, **model.vars, **(row or {}), **self.cli_vars}
        known = set(variables) | self.provided
        _check_values(document, ("vars",), model.vars, known, self.errors)
        if row is not None:
            _check_values(document, ("parametrize", index), row, known, self.errors)
        self._check_cycles(document, variables)
        check_variables(placed, known, self.errors)
        name = model.name or Path(document.file).stem
        return Scenario(
            name=f"{name}[{row_id}]" if row_id is not None else name,
            file=Path(document.file),
            location=document.location(("name",)) if model.name else Location(document.file, 1, 1),
            description=model.description,
            tags=list(model.tags),
            variables=variables,
            timeout=model.timeout,
            ignore=list(model.ignore),
            steps=[p.step for p in placed],
            row=row,
            reply=list(model.reply),
            fail_on_unexpected=model.fail_on_unexpected,
        )

    def _check_cycles(self, document: Document, variables: dict[str, Any]) -> None:
        try:
            variable_order(variables)
        except (ValueError, TemplateSyntaxError) as exc:
            self.errors.append(document.error(str(exc), document.location(("vars",))))


def _check_values(
    document: Document,
    where: ValuePath,
    values: Mapping[str, Any],
    known: set[str],
    errors: list[ScenarioError],
) -> None:
    """Report unknown variables (and malformed references) in variable values."""
    for name, value in values.items():
        check_references(document, value, document.location((*where, name)), known, errors)


def _default_timeouts(placed: list[Placed], timeout: float) -> None:
    for item in placed:
        step = item.step
        if isinstance(step, ExpectStep | ExpectCloseStep) and step.timeout is None:
            step.timeout = timeout
        if item.body is not None:
            _default_timeouts(item.body, timeout)


def _row_ids(rows: list[dict[str, Any]]) -> list[str]:
    """pytest-like ids: the row's values joined by '-', or the row's index."""
    ids = []
    for index, row in enumerate(rows):
        values = list(row.values())
        simple = values and all(isinstance(v, str | int | float | bool) for v in values)
        ids.append("-".join(_id_part(v) for v in values) if simple else str(index))
    counts = Counter(ids)  # ids.count per row was quadratic: 16,000 rows took 2.5 s
    return [f"{i}-{n}" if counts[i] > 1 else i for n, i in enumerate(ids)]


def _id_part(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
