"""Libraries of step blocks: importing them, and expanding `use` steps into the blocks' steps.

A scenario (or a library) imports libraries by path, relative to itself. Each import gives a
namespace: the library file's stem, or the import's `as`. `use: {block: auth.login}` runs the
block `login` of the namespace `auth`; inside a library, its own blocks are also reachable by
their bare names. Expansion replaces the block's parameters with the caller's `with` values (which
may themselves be templates, rendered when the step runs) and keeps each step's location in the
library, so that errors there name the library's lines.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from pydantic import ConfigDict, TypeAdapter, ValidationError

from runner.errors import Location, ScenarioError, ScenarioErrors
from runner.scenario.canonical import canonical_imports, canonical_items
from runner.scenario.diagnostics import did_you_mean, translate, value_at
from runner.scenario.files import Block, ImportSpec, LibraryFile
from runner.scenario.matchers import file_context
from runner.scenario.source import NOTED_KEYS, Document, ValuePath, read_document
from runner.scenario.step_dispatch import DispatchedStep
from runner.scenario.steps import RunStep, Step, UseStep
from runner.scenario.steps_flow import RepeatStep
from runner.scenario.templates import substitute

__all__ = [
    "Expander",
    "Libraries",
    "Library",
    "Origin",
    "Placed",
    "attach_locations",
    "canonical_body",
    "check_file_references",
    "inside",
    "path_problem",
    "resolve_path",
]

#: A `use`'s expanded step, validated by its kind's model alone (`step_dispatch`).
_STEP: TypeAdapter[Any] = TypeAdapter(
    Annotated[Step, DispatchedStep()], config=ConfigDict(defer_build=True)
)


class Origin:
    """Where a step is written: its document and its path there.

    One of each step while loading: an item of a list (``Origin(document, path, index)``)
    keeps the list's path, shared by its items, and its index, and makes its own path when
    asked for (a tuple for each of a file's steps took 56 bytes a step at the load's peak).
    """

    __slots__ = ("_index", "_path", "document")

    def __init__(self, document: Document, path: ValuePath, index: int | None = None) -> None:
        self.document = document
        self._path = path
        self._index = index

    @property
    def path(self) -> ValuePath:
        index = self._index
        return self._path if index is None else (*self._path, index)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Origin):
            return NotImplemented
        return self.document == other.document and self.path == other.path

    # unhashable, as the dataclass it was (its Document is not hashable either)
    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Origin(document={self.document!r}, path={self.path!r})"


@dataclass(slots=True)
class Placed:
    """A step with its origin; a loop's own steps are placed too, in `body`."""

    step: RunStep
    origin: Origin
    body: list[Placed] | None = None


def _written_key(document: Document, path: ValuePath) -> str:
    """The key a step is written under (its kind or a synonym)."""
    raw = document.value
    for part in path:
        raw = raw[part]
    return str(next(iter(raw))) if isinstance(raw, dict) and raw else ""


def canonical_body(
    document: Document, path: ValuePath, errors: list[ScenarioError], *, lazily: bool = False
) -> Any:
    """The steps at `path` in canonical form (`canonical_items`; errors appended; a value that
    is not a list returned as it is), and the steps inside loops canonical too, at any depth.

    `lazily`: a non-empty list's forms come as an iterator that makes each when it is taken,
    so that validating them (pydantic takes an iterator for a list) holds one at a time, not
    all of a file's (about 0.19 KiB a step). The caller drains it before reporting errors."""
    steps = value_at(document.value, path)
    if not isinstance(steps, list):
        return steps
    forms = _forms(document, path, steps, errors)
    return forms if lazily and steps else list(forms)


def _forms(
    document: Document, path: ValuePath, steps: list[Any], errors: list[ScenarioError]
) -> Iterator[dict[str, Any]]:
    for index, step in enumerate(canonical_items(document, path, steps, errors)):
        if step.get("kind") == "repeat" and isinstance(step.get("steps"), list):
            inner = (*path, index, _written_key(document, (*path, index)), "steps")
            step["steps"] = canonical_body(document, inner, errors)
        yield step


@dataclass
class Library:
    """A loaded, valid library and the namespaces of its own imports."""

    document: Document
    model: LibraryFile
    namespaces: dict[str, Library | None] = field(default_factory=dict)

    def name(self) -> str:
        return Path(self.document.file).stem


def attach_locations(steps: Sequence[Any], document: Document, path: ValuePath) -> None:
    """Set each validated step's `location` to where it is written.

    Set past pydantic's `__setattr__`, so that `location` (never dumped: `exclude=True`) does
    not join the step's `model_fields_set`: a fifth name there made each `expect` step's set
    grow its table (512 bytes more a step)."""
    locations = document.item_locations(path, len(steps))
    for index, step in enumerate(steps):
        object.__setattr__(step, "location", locations[index])
        if isinstance(step, RepeatStep):
            key = _written_key(document, (*path, index))
            attach_locations(step.steps, document, (*path, index, key, "steps"))


def path_problem(exc: BaseException) -> str:
    """What is wrong with a path that `Path.resolve` or `stat` refused, in a few words."""
    if isinstance(exc, RuntimeError):
        return "a loop of symbolic links"
    if isinstance(exc, ValueError):
        return "the path holds a NUL character" if "null" in str(exc) else str(exc)
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return str(exc)


def resolve_path(path: Path) -> Path | str:
    """`path` made absolute with its links resolved, or what is wrong with it (a loop of
    symbolic links, a NUL character, a name too long)."""
    try:
        resolved = path.resolve()
        resolved.is_file()  # a name too long is refused here
    except (OSError, RuntimeError, ValueError) as exc:
        return path_problem(exc)
    return resolved


def inside(resolved: Path, root: Path, allowed: Sequence[Path]) -> bool:
    """Whether `resolved` is in `root` or in one of the `allowed` folders (or is one of them)."""
    return any(resolved == r or resolved.is_relative_to(r) for r in (root, *allowed))


def _outside_hint(root: Path) -> str:
    return f"files a scenario reads must be inside {root}; allow more with --allow-outside PATH"


# Subtrees that hold payloads or values, never file references of wsrun's own.
_PAYLOAD_KEYS = frozenset({"vars", "parametrize", "with", "params", "json", "send", "text", "data"})
_TLS_FILES = ("ca", "cert", "key")


def check_file_references(
    document: Document, root: Path, allowed: Sequence[Path], errors: list[ScenarioError]
) -> None:
    """Refuse `json_schema` and TLS files outside `root` and `allowed`, before anything reads
    them; a refused `json_schema` path is replaced by an empty schema, so that it is not read.

    A `json_schema` path and a TLS path (`ca`, `cert`, `key`) are relative to the file that
    writes them; a TLS path is made absolute here, so that the connection reads that file. A
    path with a template is known only at run time (say a folder a service provides) and is
    not checked.
    """
    if not document.has_key_named(NOTED_KEYS):
        return  # every key as built (quoted, escaped, merged, through aliases): none to check
    base = Path(document.file).resolve().parent
    for path, mapping in _mappings(document.value):
        schema = mapping.get("json_schema")
        written = isinstance(schema, str) and "${" not in schema
        where: ValuePath = (*path, "json_schema")
        if written and _refused(document, where, base / str(schema), root, allowed, errors):
            mapping["json_schema"] = {}
        tls = mapping.get("tls")
        if isinstance(tls, dict):
            for key in _TLS_FILES:
                value = tls.get(key)
                if isinstance(value, str) and value and "${" not in value:
                    where = (*path, "tls", key)
                    if not _refused(document, where, base / value, root, allowed, errors):
                        tls[key] = os.path.normpath(base / value)


def _refused(
    document: Document,
    where: ValuePath,
    path: Path,
    root: Path,
    allowed: Sequence[Path],
    errors: list[ScenarioError],
) -> bool:
    resolved = resolve_path(path)
    location = document.location(where)
    if isinstance(resolved, str):
        errors.append(document.error(f"cannot use the file {str(path)!r}: {resolved}", location))
        return True
    if inside(resolved, root, allowed):
        return False
    message = f"the file {resolved} is outside the suite's root"
    errors.append(document.error(message, location, hint=_outside_hint(root)))
    return True


def _mappings(value: Any) -> Iterator[tuple[ValuePath, dict[Any, Any]]]:
    """Every mapping in `value` with its path, payloads left out (iterative: any depth)."""
    stack: list[tuple[ValuePath, Any]] = [((), value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, dict):
            yield path, item
            stack.extend(((*path, k), v) for k, v in item.items() if k not in _PAYLOAD_KEYS)
        elif isinstance(item, list):
            stack.extend(((*path, i), v) for i, v in enumerate(item))


_LIBRARY_LINE = re.compile(rb"^blocks\s*:", re.MULTILINE)


def _may_be_library(path: Path) -> bool:
    """Whether a file that is not valid YAML looks like a library (whose lines may be shown)."""
    if path.suffix not in (".yaml", ".yml"):
        return False
    try:
        with path.open("rb") as file:
            head = file.read(1 << 20)
    except OSError:
        return False
    return _LIBRARY_LINE.search(head) is not None


class Libraries:
    """Loads each library once (per run), reporting missing files, bad content and cycles.

    With a `root` (the suite's), an import must resolve inside it or inside one of `allowed`.
    """

    def __init__(
        self,
        errors: list[ScenarioError],
        files: list[Path] | None = None,
        allowed: Sequence[Path] = (),
    ) -> None:
        self.errors = errors
        self.files = files if files is not None else []
        self.allowed = list(allowed)
        self.loaded: dict[Path, Library | None] = {}
        self.loading: dict[Path, str] = {}  # resolved → shown, in import order

    def imports(
        self, document: Document, specs: Sequence[ImportSpec], root: Path | None = None
    ) -> dict[str, Library | None]:
        """The namespaces of a file's imports (None, and errors, for the imports that fail)."""
        namespaces: dict[str, Library | None] = {}
        for index, spec in enumerate(specs):
            where = document.location(("imports", index))
            shown = os.path.normpath(Path(document.file).parent / spec.path)
            library = self._import(shown, where, document, root)
            namespace = spec.as_ or Path(spec.path).stem
            if namespace in namespaces:
                self.errors.append(
                    document.error(
                        f"two imports use the namespace {namespace!r}",
                        where,
                        hint="give one of them another name with `as:`",
                    )
                )
                continue
            namespaces[namespace] = library
        return namespaces

    def _import(
        self, shown: str, where: Location, document: Document, root: Path | None
    ) -> Library | None:
        resolved = resolve_path(Path(shown))
        if isinstance(resolved, str):
            self.errors.append(document.error(f"cannot import {shown!r}: {resolved}", where))
            return None
        if root is not None and not inside(resolved, root, self.allowed):
            message = f"import {shown} is outside the suite's root"
            self.errors.append(document.error(message, where, hint=_outside_hint(root)))
            return None
        if resolved in self.loading:
            chain = list(self.loading)
            names = " → ".join(self.loading[p] for p in chain[chain.index(resolved) :])
            names += f" → {shown}"
            self.errors.append(document.error(f"import cycle: {names}", where))
            return None
        if resolved not in self.loaded:
            self.loaded[resolved] = self.load(shown, resolved, document, where, root)
        return self.loaded[resolved]

    def load(
        self,
        shown: str,
        resolved: Path,
        importer: Document | None = None,
        where: Location | None = None,
        root: Path | None = None,
    ) -> Library | None:
        """Read and validate a library file (and its imports, inside `root`).

        Of an imported file that is not a library, no line is shown (it may be any file).
        """
        if not resolved.is_file():
            self._fail(importer, where, f"library not found: {shown}")
            return None
        self.files.append(Path(shown))
        try:
            document = read_document(shown)
        except ScenarioErrors as exc:
            if importer is None or _may_be_library(resolved):
                self.errors.extend(exc.errors)
            else:
                self._fail(importer, where, f"{shown} is not a library: {_not_yaml(exc)}")
            return None
        if not isinstance(document.value, dict) or "blocks" not in document.value:
            self._fail(importer, where, f"{shown} is not a library (it has no blocks:)")
            return None
        self.errors.extend(document.problems)
        if root is not None:
            check_file_references(document, root, self.allowed, self.errors)
        model = self._validate(document)
        if model is None:
            return None
        self.loading[resolved] = shown
        try:
            namespaces = self.imports(document, model.imports, root)
        finally:
            del self.loading[resolved]
        return Library(document, model, namespaces)

    def _fail(self, importer: Document | None, where: Location | None, message: str) -> None:
        if importer is None or where is None:
            self.errors.append(ScenarioError(message))
        else:
            self.errors.append(importer.error(message, where))

    def _validate(self, document: Document) -> LibraryFile | None:
        raw = dict(document.value)
        raw["imports"] = canonical_imports(raw.get("imports", []))
        if isinstance(raw["blocks"], dict):
            raw["blocks"] = {
                name: _canonical_block(document, name, block, self.errors)
                for name, block in raw["blocks"].items()
            }
        try:
            model = LibraryFile.model_validate(raw, context=file_context(document.file))
        except ValidationError as exc:
            self.errors.extend(translate(exc, document, (), LibraryFile))
            return None
        for name, block in model.blocks.items():
            attach_locations(block.steps, document, ("blocks", name, "steps"))
        return model


def _not_yaml(exc: ScenarioErrors) -> str:
    """Where a file is not valid YAML, without its content (neither its lines nor YAML's words)."""
    first = exc.errors[0].location if exc.errors else None
    where = f" at line {first.line}, column {first.column}" if first is not None else ""
    return f"it is not valid YAML{where} (its content is not shown)"


def _canonical_block(document: Document, name: str, block: Any, errors: list[ScenarioError]) -> Any:
    if not isinstance(block, dict) or "steps" not in block:
        return block
    return {**block, "steps": canonical_body(document, ("blocks", name, "steps"), errors)}


class Expander:
    """Expands `use` steps, depth first, into the steps of their blocks."""

    def __init__(self, errors: list[ScenarioError]) -> None:
        self.errors = errors

    def expand(
        self,
        steps: Sequence[Any],
        origins: Sequence[Origin],
        namespaces: dict[str, Library | None],
        own: Library | None = None,
        stack: tuple[str, ...] = (),
    ) -> list[Placed]:
        """The steps with every `use` replaced by its block's (expanded) steps."""
        placed: list[Placed] = []
        for step, origin in zip(steps, origins, strict=True):
            if isinstance(step, UseStep):
                placed.extend(self._use(step, origin, namespaces, own, stack))
            elif isinstance(step, RepeatStep):
                placed.append(self._loop(step, origin, namespaces, own, stack))
            else:
                placed.append(Placed(step, origin))
        return placed

    def _loop(
        self,
        step: RepeatStep,
        origin: Origin,
        namespaces: dict[str, Library | None],
        own: Library | None,
        stack: tuple[str, ...],
    ) -> Placed:
        """A loop with the `use` steps of its body expanded (the loop itself is kept)."""
        path = (*origin.path, _written_key(origin.document, origin.path), "steps")
        origins = [Origin(origin.document, path, i) for i in range(len(step.steps))]
        body = self.expand(step.steps, origins, namespaces, own, stack)
        return _with_body(step, origin, body)

    def _use(
        self,
        step: UseStep,
        origin: Origin,
        namespaces: dict[str, Library | None],
        own: Library | None,
        stack: tuple[str, ...],
    ) -> list[Placed]:
        found = self._find(step, origin, namespaces, own)
        if found is None:
            return []
        library, name, block = found
        key = f"{library.document.file}:{name}"
        if key in stack:
            cycle = " → ".join(s.split(":")[-1] for s in (*stack, key))
            self.errors.append(origin.document.error(f"use cycle: {cycle}", step.location))
            return []
        bindings = self._bindings(step, origin, block)
        if bindings is None:
            return []
        path: ValuePath = ("blocks", name, "steps")
        origins = [Origin(library.document, path, i) for i in range(len(block.steps))]
        inner = self.expand(block.steps, origins, library.namespaces, library, (*stack, key))
        return [p for p in (self._bind(p, bindings) for p in inner) if p is not None]

    def _find(
        self,
        step: UseStep,
        origin: Origin,
        namespaces: dict[str, Library | None],
        own: Library | None,
    ) -> tuple[Library, str, Block] | None:
        if namespaces.get(step.block.split(".", 1)[0], False) is None:
            return None  # its library failed to load, and said why
        choices: dict[str, tuple[Library, str, Block]] = {}
        for namespace, library in namespaces.items():
            if library is None:
                continue
            for name, block in library.model.blocks.items():
                choices[f"{namespace}.{name}"] = (library, name, block)
        if own is not None:
            choices.update({name: (own, name, b) for name, b in own.model.blocks.items()})
        if step.block in choices:
            return choices[step.block]
        self.errors.append(
            origin.document.error(
                f"unknown block {step.block!r}",
                step.location,
                expected=f"one of {', '.join(sorted(choices))}" if choices else "an imported block",
                hint=did_you_mean(step.block, choices) or _import_hint(step.block, namespaces),
            )
        )
        return None

    def _bindings(self, step: UseStep, origin: Origin, block: Block) -> dict[str, Any] | None:
        ok = True
        for name in step.with_:
            if name not in block.params:
                self.errors.append(
                    origin.document.error(
                        f"block {step.block} has no parameter {name!r}",
                        origin.document.key_location((*_use_path(origin), "with", name)),
                        expected=f"one of {', '.join(block.params)}"
                        if block.params
                        else "no values",
                        hint=did_you_mean(name, block.params),
                    )
                )
                ok = False
        for name, default in block.params.items():
            if default is None and name not in step.with_:
                self.errors.append(
                    origin.document.error(
                        f"block {step.block} needs a value for its parameter {name!r}",
                        step.location,
                        hint=f"add with: {{{name}: ...}}",
                    )
                )
                ok = False
        return {**block.params, **step.with_} if ok else None

    def _bind(self, placed: Placed, bindings: dict[str, Any]) -> Placed | None:
        if placed.body is not None:
            return self._bind_loop(placed, bindings)
        data = placed.step.model_dump(by_alias=True, exclude_unset=True, warnings=False)
        data["kind"] = placed.step.kind
        try:
            step = _STEP.validate_python(substitute(data, bindings))
        except ValidationError as exc:
            self.errors.extend(translate(exc, placed.origin.document, placed.origin.path, Step))
            return None
        step.location = placed.step.location
        inner = placed.step.bindings
        step.bindings = substitute(inner, bindings) if inner else dict(bindings)
        return Placed(step, placed.origin)

    def _bind_loop(self, placed: Placed, bindings: dict[str, Any]) -> Placed | None:
        """A loop of a block: its own fields and each of its steps bound to the `with` values."""
        assert placed.body is not None
        body = [self._bind(p, bindings) for p in placed.body]
        if any(p is None for p in body):
            return None
        head = placed.step.model_dump(
            by_alias=True, exclude_unset=True, exclude={"steps"}, warnings=False
        )
        head = substitute({**head, "kind": placed.step.kind}, bindings)
        try:
            step = RepeatStep.model_validate({**head, "steps": [p.step for p in body if p]})
        except ValidationError as exc:
            self.errors.extend(translate(exc, placed.origin.document, placed.origin.path, Step))
            return None
        step.location = placed.step.location
        return Placed(step, placed.origin, [p for p in body if p is not None])


def _with_body(step: RepeatStep, origin: Origin, body: list[Placed]) -> Placed:
    """The loop holding the expanded steps of `body` (a `use` inside became its block's steps)."""
    if [p.step for p in body] != step.steps:
        expanded = step.model_copy(update={"steps": [p.step for p in body]})
        expanded.location = step.location
        step = expanded
    return Placed(step, origin, body)


def _use_path(origin: Origin) -> ValuePath:
    raw = origin.document.value
    for part in origin.path:
        raw = raw[part]
    key = next(iter(raw)) if isinstance(raw, dict) and raw else "use"
    return (*origin.path, key)


def _import_hint(block: str, namespaces: dict[str, Library | None]) -> str | None:
    namespace = block.split(".", 1)[0]
    if "." in block and namespace not in namespaces:
        return f"import the library of {namespace!r} with imports: [...]"
    return None
