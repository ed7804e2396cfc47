"""Loading a suite: find the files, validate everything, and hand back runnable scenarios.

Nothing connects here. Every error of every file is collected and raised at once as
`ScenarioErrors`, sorted by file, line and column.
"""

from __future__ import annotations

import gc
import os
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from runner.errors import Location, ScenarioError, ScenarioErrors
from runner.scenario.canonical import canonical_imports
from runner.scenario.checks import check_references, check_variables, resolve_connections
from runner.scenario.diagnostics import describe, did_you_mean, translate
from runner.scenario.files import SUITE_FILE_NAME, ScenarioFile, Service, SuiteConfig
from runner.scenario.libraries import (
    Expander,
    Libraries,
    Origin,
    Placed,
    attach_locations,
    canonical_body,
    check_file_references,
    path_problem,
    resolve_path,
)
from runner.scenario.matchers import file_context
from runner.scenario.rendering import dependencies, variable_order
from runner.scenario.replies import ReplyRule
from runner.scenario.source import Document, ValuePath, read_document
from runner.scenario.steps import ExpectCloseStep, ExpectStep, IgnoreRule, RunStep, regex_groups
from runner.scenario.templates import TemplateSyntaxError, references, variables_used

__all__ = [
    "ROOT_MARKERS",
    "Scenario",
    "Suite",
    "SuiteFile",
    "available_variables",
    "load_suite",
    "validate_paths",
]

PathLike = str | os.PathLike[str]

#: The suite file is looked up from a scenario's folder upwards, up to the first folder holding
#: one of these (a repository's or project's root), or up to ``/``.
ROOT_MARKERS = (".git", "pyproject.toml", "wsrun.toml")

_STEPS: ValuePath = ("steps",)


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
    suite: Path | None = None  # the path of its suite file (the nearest one), if any


@dataclass
class SuiteFile:
    """A suite file: shared variables, and services (their `cwd` made relative to here).

    `vars` are the file's own with the command line's ``--var`` values over them: what the
    services' templates see (with what earlier services provide).
    """

    path: Path
    vars: dict[str, Any]
    services: list[Service]


@dataclass
class Suite:
    """Everything a run needs: the scenarios (parametrize expanded) and their suite files.

    Each scenario names its own suite file (`Scenario.suite`, the nearest one above it); a run
    may span several. `suite_file` is the first of them (None when there is none).
    """

    scenarios: list[Scenario]
    suite_files: list[SuiteFile] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)

    @property
    def suite_file(self) -> SuiteFile | None:
        return self.suite_files[0] if self.suite_files else None

    def suite_of(self, scenario: Scenario) -> SuiteFile | None:
        """The suite file of `scenario` (None when it has none)."""
        return next((s for s in self.suite_files if s.path == scenario.suite), None)


def load_suite(
    paths: Sequence[PathLike],
    cli_vars: Mapping[str, str] | None = None,
    allow_outside: Sequence[PathLike] = (),
) -> Suite:
    """Load and validate scenario files and folders (every *.yaml / *.yml, recursively, sorted).

    Each scenario's suite file (`wsrun-suite.yaml`) is the nearest one: in its folder, or in the
    nearest folder above, up to the first folder holding one of `ROOT_MARKERS` (or ``/``).
    Library files (with a top-level `blocks:`) are validated but are not scenarios. Imports and
    `json_schema` and TLS files must be inside the suite's root (the folder of the suite file, or
    of the scenario when it has none) or inside one of `allow_outside`.

    Raises:
        ScenarioErrors: every error found, sorted by file, line and column.
    """
    loader = _SuiteLoader(dict(cli_vars or {}), allow_outside)
    with _no_cyclic_gc():
        suite = loader.load([str(p) for p in paths])
    if loader.errors:
        raise ScenarioErrors(_sorted(loader.errors))
    return suite


def validate_paths(
    paths: Sequence[PathLike],
    cli_vars: Mapping[str, str] | None = None,
    allow_outside: Sequence[PathLike] = (),
) -> list[ScenarioError]:
    """Every error in the given files and folders (empty when all are valid); no network."""
    try:
        load_suite(paths, cli_vars, allow_outside)
    except ScenarioErrors as exc:
        return exc.errors
    return []


@contextmanager
def _no_cyclic_gc() -> Iterator[None]:
    """Python's cyclic garbage collector paused while a suite loads.

    Loading allocates millions of objects that all live on (nodes, values, models), and the
    collector's full passes walk all of them again and again: with it, 100,000 steps took
    twice as long. Loading makes few cycles; a later full collection frees them.

    At the end, what the load allocated is moved to the oldest generation (`gc.freeze` then
    `gc.unfreeze`: two list splices), so that the collector does not walk it all at once as
    its youngest generation (a tenth of a second for 100,000 steps) as soon as it runs again.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.unfreeze()
        if enabled:
            gc.enable()


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
    """The YAML files under `folder` (suite files included), hidden folders left out, sorted."""
    found = [f for f in folder.rglob("*") if _is_yaml(f)]
    visible = [f for f in found if not any(p.startswith(".") for p in f.relative_to(folder).parts)]
    return sorted(visible)


def _find_suite_file(folder: Path) -> Path | None:
    """The nearest suite file at or above `folder`, up to a folder with a `ROOT_MARKERS` entry."""
    current = folder.resolve()
    while True:
        candidate = current / SUITE_FILE_NAME
        if candidate.is_file():
            return candidate
        if any((current / marker).exists() for marker in ROOT_MARKERS):
            return None
        if current.parent == current:
            return None
        current = current.parent


class _SuiteLoader:
    def __init__(self, cli_vars: dict[str, str], allow_outside: Sequence[PathLike]) -> None:
        self.cli_vars = cli_vars
        self.errors: list[ScenarioError] = []
        self.files: list[Path] = []
        self.allowed = [p for p in (self._allowed(a) for a in allow_outside) if p is not None]
        self.libraries = Libraries(self.errors, self.files, self.allowed)
        self.suites: dict[Path, SuiteFile | None] = {}  # resolved path → the loaded file
        self.provided: dict[Path, set[str]] = {}  # resolved path → what its services provide
        self.suite_file: SuiteFile | None = None  # of the file being loaded
        self.suite_provided: set[str] = set()
        self.suite_path: Path | None = None
        self.root = Path.cwd()

    def _allowed(self, path: PathLike) -> Path | None:
        resolved = resolve_path(Path(path))
        if isinstance(resolved, str):
            self.errors.append(ScenarioError(f"--allow-outside {path}: {resolved}"))
            return None
        return resolved

    def load(self, paths: list[str]) -> Suite:
        found = self._discover(paths)
        scenarios: list[Scenario] = []
        for file, suite in found:
            scenarios.extend(self._file(file, suite))
        suite_files = [s for s in self.suites.values() if s is not None]
        return Suite(scenarios, suite_files, list(dict.fromkeys(self.files)))

    def _discover(self, paths: list[str]) -> list[tuple[Path, Path | None]]:
        """The scenario and library files, each with its suite file's resolved path."""
        files: list[Path] = []
        for shown in paths:
            path = Path(shown)
            try:
                is_dir, is_file = path.is_dir(), path.is_file()
            except (OSError, ValueError) as exc:
                self.errors.append(ScenarioError(f"{shown}: {path_problem(exc)}"))
                continue
            if is_dir:
                found = _folder_files(path)
                self._suite(_find_suite_file(path))  # checked even with no scenario in it
            elif is_file:
                found = [path]
            else:
                self.errors.append(ScenarioError(f"{shown}: no such file or folder"))
                continue
            for file in found:
                if file.name == SUITE_FILE_NAME:
                    self._suite(file.resolve())
                else:
                    files.append(file)
        unique = list(dict.fromkeys(files))
        return [(file, self._suite(_find_suite_file(file.parent))) for file in unique]

    def _suite(self, resolved: Path | None) -> Path | None:
        """Load the suite file at `resolved` once; return `resolved`."""
        if resolved is not None and resolved not in self.suites:
            self.provided[resolved] = set()
            self.suites[resolved] = self._suite_file(Path(_shown(resolved)), resolved)
        return resolved

    def _read(self, path: Path) -> Document | None:
        try:
            document = read_document(path)
        except ScenarioErrors as exc:
            self.errors.extend(exc.errors)
            return None
        self.errors.extend(document.problems)
        return document

    def _suite_file(self, path: Path, resolved: Path) -> SuiteFile | None:
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
            self.provided[resolved].update(service.provides)
        self._check_suite_templates(document, config, self.provided[resolved])
        return SuiteFile(path, {**config.vars, **self.cli_vars}, config.services)

    def _check_suite_templates(
        self, document: Document, config: SuiteConfig, provided: set[str]
    ) -> None:
        known = set(config.vars) | set(self.cli_vars) | provided
        _check_values(document, ("vars",), config.vars, known, self.errors)
        self._check_cycles(document, config.vars)
        suite_vars = {k: v for k, v in config.vars.items() if k not in self.cli_vars}
        earlier: set[str] = set(self.cli_vars)  # --var values, then what services provide
        for index, service in enumerate(config.services):
            scope = earlier | available_variables(suite_vars, earlier)
            _check_service(document, index, service, scope, self.errors)
            groups = set(regex_groups(service.ready.log))
            if service.ready.port is not None:
                groups.add("port")  # the service runner captures the port it waited for
            where: ValuePath = ("services", index, "provides")
            _check_values(document, where, service.provides, scope | groups, self.errors)
            earlier |= set(service.provides)

    def _file(self, path: Path, suite: Path | None) -> list[Scenario]:
        self.suite_file = self.suites.get(suite) if suite is not None else None
        self.suite_provided = self.provided.get(suite, set()) if suite is not None else set()
        self.suite_path = Path(_shown(suite)) if suite is not None else None
        self.root = suite.parent if suite is not None else path.resolve().parent
        self.files.append(path)
        document = self._read(path)
        if document is None:
            return []
        if isinstance(document.value, dict) and "blocks" in document.value:
            resolved = path.resolve()
            if resolved not in self.libraries.loaded:
                self.libraries.loaded[resolved] = self.libraries.load(
                    str(path), resolved, root=self.root
                )
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
        check_file_references(document, self.root, self.allowed, self.errors)
        if "steps" in raw:  # made one by one as they are validated (see canonical_body)
            data["steps"] = canonical_body(document, ("steps",), self.errors, lazily=True)
        try:
            model = ScenarioFile.model_validate(data, context=file_context(document.file))
        except ValidationError as exc:
            _drain(data.get("steps"))
            self.errors.extend(translate(exc, document, (), ScenarioFile))
            return None
        _drain(data.get("steps"))
        attach_locations(model.steps, document, _STEPS)
        return model

    def _scenarios(self, document: Document, model: ScenarioFile) -> list[Scenario]:
        namespaces = self.libraries.imports(document, model.imports, self.root)
        origins = [Origin(document, _STEPS, i) for i in range(len(model.steps))]
        placed = Expander(self.errors).expand(model.steps, origins, namespaces)
        resolve_connections(placed, self.errors)
        _default_timeouts(placed, model.timeout)
        checked: set[frozenset[str]] = set()
        if not model.parametrize:
            return [self._scenario(document, model, placed, None, None, 0, checked)]
        ids = _row_ids(model.parametrize)
        return [
            self._scenario(document, model, placed, row, ids[i], i, checked)
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
        checked: set[frozenset[str]],
    ) -> Scenario:
        """One scenario of the file (one per parametrize row). What depends only on the names
        known (the file's vars, the steps) is checked once per set of names, not once per row:
        the same steps checked for each of 50,000 rows were most of their loading."""
        suite_vars = self.suite_file.vars if self.suite_file else {}
        variables = {**suite_vars, **model.vars, **(row or {}), **self.cli_vars}
        known = set(variables) | self.suite_provided
        names = frozenset(known)
        if names not in checked:
            checked.add(names)
            _check_values(document, ("vars",), model.vars, known, self.errors)
            check_variables(placed, known, self.errors)
        if row is not None:
            _check_values(document, ("parametrize", index), row, known, self.errors)
        self._check_cycles(document, variables)
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
            suite=self.suite_path,
        )

    def _check_cycles(self, document: Document, variables: dict[str, Any]) -> None:
        try:
            variable_order(variables)
        except (ValueError, TemplateSyntaxError) as exc:
            self.errors.append(document.error(str(exc), document.location(("vars",))))


def available_variables(suite_vars: Mapping[str, Any], known: set[str]) -> set[str]:
    """The names of `suite_vars` that can be rendered when only `known` names have values.

    A suite variable may refer to what a service provides; a service's templates can use it only
    once that service has started (services start in order).
    """
    needs: dict[str, set[str]] = {}
    for name, value in suite_vars.items():
        try:
            needs[name] = dependencies(value)
        except TemplateSyntaxError:
            continue  # reported where the variable is checked
    ready: set[str] = set()
    while True:
        more = {n for n, d in needs.items() if n not in ready and d - {n} <= ready | known}
        if not more:
            return ready
        ready |= more


def _check_service(
    document: Document,
    index: int,
    service: Service,
    scope: set[str],
    errors: list[ScenarioError],
) -> None:
    """Check the templates a service starts with (command, env, ready port and url) at once.

    `scope` holds what they may use: the variables renderable with what the services before
    this one provide, and the ``--var`` values.
    """
    base: ValuePath = ("services", index)
    command = service.command
    shell = isinstance(command, str)
    values: list[tuple[ValuePath, Any]] = (
        [((*base, "command"), command)]
        if isinstance(command, str)
        else [((*base, "command", i), arg) for i, arg in enumerate(command)]
    )
    values += [((*base, "env", name), value) for name, value in service.env.items()]
    values += [((*base, "ready", key), getattr(service.ready, key)) for key in ("port", "url")]
    for path, value in values:
        location = document.location(path)
        try:
            found = list(references(value))
        except TemplateSyntaxError as exc:
            errors.append(document.error(str(exc), location))
            continue
        for reference in found:
            for name in variables_used(reference):
                if name not in scope:
                    hint = did_you_mean(name, scope) or _service_hint(name, shell)
                    message = f"unknown variable {name!r} in service {service.name!r}"
                    errors.append(document.error(message, location, hint=hint))


def _service_hint(name: str, shell: bool) -> str:
    if shell:
        return (
            f"for the shell's own variable write $${{{name}}}, or ${{env.{name}}} for wsrun's "
            f"environment; a service sees what earlier services provide"
        )
    return "services start in order: a service sees the variables that earlier ones provide"


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


def _drain(steps: Any) -> None:
    """Make the canonical forms pydantic left untaken (none, as it takes them all), so that
    their errors are reported as when they were all made before validating."""
    if isinstance(steps, Iterator):
        for _ in steps:
            pass


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
