"""Reading a YAML file into plain Python values, remembering where each value came from.

PyYAML speaks YAML 1.1, whose implicit types surprise people (`on` and `no` are booleans, `010` is
the octal number 8, `1:30` is 90, duplicate keys silently keep the last). So wsrun builds the
values itself from libyaml's events (or, for a file with aliases, tags, merge keys or a problem
to report, from the composed nodes), with the rules of YAML 1.2's core schema:

- only `true`/`false` are booleans and only `null`/`~`/nothing is null; `yes`, `on`, `n`... are
  strings;
- integers are decimal, `0x..` or `0o..`; a decimal with a leading zero (`010`) is an error,
  because YAML 1.1 would read it as octal and the reader cannot tell which was meant;
- mapping keys are strings, exactly as written (`on:` is the key "on", `1.10:` is "1.10");
- duplicate keys are errors; `<<` merges mappings (explicit keys win);
- tags other than `!!str` (and plain mappings and lists) are errors: nothing constructs objects.

Every value's path (a tuple of keys and list indices) maps to its `Location`, and every mapping
key's path to the key's own location, so that later errors can point at the exact spot.
"""

from __future__ import annotations

import math
import re
from array import array
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeAlias

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from runner.errors import Location, ScenarioError, ScenarioErrors

__all__ = [
    "MAX_ALIAS_VALUES",
    "MAX_DEPTH",
    "MAX_INT_DIGITS",
    "Document",
    "PathKey",
    "ValuePath",
    "pack_position",
    "parse_document",
    "read_document",
    "snippet",
]

PathKey: TypeAlias = str | int
ValuePath: TypeAlias = tuple[PathKey, ...]

_PLAIN = "tag:wsrun:plain"
_STR = "tag:yaml.org,2002:str"
_SEQ = "tag:yaml.org,2002:seq"
_MAP = "tag:yaml.org,2002:map"
_MERGE = "tag:yaml.org,2002:merge"
#: More values than this built again through aliases (beyond each node's first build) come
#: from aliases that expand without end ("billion laughs"). The file's own values do not count:
#: a file of 100,000 steps holds some 250,000 values and no alias.
MAX_ALIAS_VALUES = 200_000
#: The deepest nesting of mappings and lists in a file (deeper would exhaust Python's stack in
#: every recursive walk of the values: models, templates, matching).
MAX_DEPTH = 64
#: The most digits an integer may be written with (Python reads and prints at most 4,300).
MAX_INT_DIGITS = 1000


def _resolve(_self: Any, kind: type[Node], _value: str, implicit: tuple[bool, bool]) -> str:
    """The tag of a node written without one: "plain" for an unquoted scalar (wsrun resolves
    it), str for a quoted one, seq or map. What PyYAML's resolver gives with the implicit
    resolvers below, without its loop over them for each of a file's nodes."""
    if kind is ScalarNode:
        return _PLAIN if implicit[0] else _STR
    return _SEQ if kind is SequenceNode else _MAP


class _Loader(yaml.SafeLoader):
    """A safe loader whose only implicit type is "plain": wsrun resolves plain scalars itself."""

    yaml_implicit_resolvers = {None: [(_PLAIN, re.compile(r".*", re.DOTALL))]}  # noqa: RUF012
    yaml_path_resolvers: dict[Any, Any] = {}  # noqa: RUF012
    resolve = _resolve


class _FastLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """The same, on libyaml's parser when PyYAML has it: about ten times faster, same nodes and
    marks. Its syntax error messages say less, so a file it refuses is read again by `_Loader`.
    """

    yaml_implicit_resolvers = _Loader.yaml_implicit_resolvers
    yaml_path_resolvers = _Loader.yaml_path_resolvers
    resolve = _resolve


def _compose(text: str) -> Node | None:
    _check_depth(text)
    try:
        return yaml.compose(text, Loader=_FastLoader)
    except yaml.YAMLError:
        return yaml.compose(text, Loader=_Loader)  # raises with the more helpful message


class _TooDeep(Exception):
    """Collections nested deeper than `MAX_DEPTH`, from the mark of the first one too deep."""

    def __init__(self, mark: Any) -> None:
        super().__init__(mark)
        self.mark: yaml.Mark | None = mark


_OPEN = (yaml.SequenceStartEvent, yaml.MappingStartEvent)
_CLOSE = (yaml.SequenceEndEvent, yaml.MappingEndEvent)


def _check_depth(text: str) -> None:
    """Raise `_TooDeep` before composing: composing is recursive (libyaml's composer crashes the
    interpreter at about 100,000 levels), the parser's events are not. A YAML error is left
    for composing to report.

    libyaml may refuse a deep flow collection before its events reach `MAX_DEPTH` (newer
    releases cap the flow level while scanning ahead for a simple key); the events are then
    read again by PyYAML's own parser, which has no such cap, so that the fallback compose
    never sees a file nested deeper than `MAX_DEPTH`.
    """
    for loader in (_FastLoader, _Loader):
        depth = 0
        try:
            for event in yaml.parse(text, Loader=loader):
                if isinstance(event, _OPEN):
                    depth += 1
                    if depth > MAX_DEPTH + 1:  # the builder reports MAX_DEPTH + 1 with its path
                        raise _TooDeep(event.start_mark)
                elif isinstance(event, _CLOSE):
                    depth -= 1
        except yaml.YAMLError:
            continue
        return


_COLUMN_BITS = 32  # the columns of a position: its low bits (a line may be long)
_COLUMN_MASK = (1 << _COLUMN_BITS) - 1


def pack_position(line: int, column: int) -> int:
    """A position (line and column counted from 1) as `Document.values` and `keys` hold it."""
    return (line << _COLUMN_BITS) | column


#: Mapping keys that `Document.has_key_named` can be asked about (noted while reading): the
#: keys under which a file names other files (`libraries.check_file_references`).
NOTED_KEYS = frozenset({"json_schema", "tls"})
#: A mapping with more entries than this gets an index of its keys when a location in it is
#: first asked for (a smaller one is searched).
_INDEXED = 8


@dataclass
class Document:
    """One YAML file as plain values, with the location of every value and key.

    Attributes:
        file: the path as shown to the user.
        text: the file's text (for snippets).
        value: the document's value (None for an empty file).
        plain: path of a value → its text, for unquoted scalars read as something else than a
            string (so that a hint can say `write "1.10"`).
        problems: errors found while building the values (duplicate keys, YAML 1.1 traps); the
            values are usable, and later errors at `problem_paths` are left out.

    Where each value and key starts (its line and column counted from 1, packed in one int:
    `pack_position`) is kept one of two ways. A file read through nodes keeps two tables, path
    → position (`values`, `keys`). A file built from events (`_build_from_events`, the usual
    way) keeps no path at all: the positions of each mapping's and list's entries are a run
    of one array of ints (`_positions`), and a location is looked up by walking `value` along
    the path. A list's run holds, for each item, its position and where the item's own run
    starts (-1 for a scalar); a mapping's, for each entry, its key's position, its value's,
    and where the value's run starts. With the tables (a tuple, an int and a dict entry for
    each value and each key) reading a file of 20,000 steps kept 0.91 KiB a step; with the
    array 0.46. `values` and `keys` then build the tables when asked for (tests compare them
    with the node path's).
    """

    file: str
    text: str
    value: Any = None
    plain: dict[ValuePath, str] = field(default_factory=dict)
    problems: list[ScenarioError] = field(default_factory=list)
    problem_paths: set[ValuePath] = field(default_factory=set)
    _values: dict[ValuePath, int] = field(default_factory=dict, repr=False)
    _keys: dict[ValuePath, int] = field(default_factory=dict, repr=False)
    #: Built from events (the runs of `_positions` hold the positions), not read through
    #: nodes (the tables hold them).
    _compact: bool = field(default=False, repr=False)
    _positions: array[int] = field(default_factory=lambda: array("q"), repr=False)
    _root: int | None = field(default=None, repr=False)  # the position of `value`
    _root_run: int = field(default=-1, repr=False)  # where the run of `value` starts
    _noted: set[str] = field(default_factory=set, repr=False)  # the NOTED_KEYS it has
    _indexes: dict[int, dict[str, int]] = field(default_factory=dict, repr=False)

    @property
    def values(self) -> dict[ValuePath, int]:
        """Path of a value → where the value starts (`pack_position`)."""
        if not self._compact:
            return self._values
        return self._tables()[0]

    @property
    def keys(self) -> dict[ValuePath, int]:
        """Path of a mapping entry → where its key starts (`pack_position`)."""
        if not self._compact:
            return self._keys
        return self._tables()[1]

    def has_key_named(self, names: frozenset[str]) -> bool:
        """Whether a mapping anywhere in the file has a key among `names` (in `NOTED_KEYS`)."""
        if not self._compact:
            return any(path[-1] in names for path in self._keys)
        return not self._noted.isdisjoint(names)

    def location(self, path: ValuePath) -> Location:
        """The location of the value at `path`, or of its nearest known ancestor."""
        if self._compact:
            found = self._find(path)[0]
        else:
            values = self._values
            found = values.get(path)  # most paths asked for are known (each step's)
            end = len(path)
            while found is None and end > 0:
                end -= 1
                found = values.get(path[:end])
        if found is None:
            return Location(self.file, 1, 1)
        return Location(self.file, found >> _COLUMN_BITS, found & _COLUMN_MASK)

    def key_location(self, path: ValuePath) -> Location:
        """The location of the key of the entry at `path` (or of the value when unknown)."""
        found = self._find(path)[1] if self._compact else self._keys.get(path)
        if found is None:
            return self.location(path)
        return Location(self.file, found >> _COLUMN_BITS, found & _COLUMN_MASK)

    def item_locations(self, path: ValuePath, count: int) -> list[Location]:
        """The locations of the first `count` items of the list at `path`: what `location`
        gives for each of ``(*path, 0)``, ``(*path, 1)``... (one walk for them all)."""
        if self._compact:
            items, run, _, _, whole = self._walk(path)
            if whole and run >= 0 and type(items) is list and count <= len(items):
                file, bits, mask = self.file, _COLUMN_BITS, _COLUMN_MASK
                runs = self._positions[run : run + 2 * count : 2]
                return [Location(file, p >> bits, p & mask) for p in runs]
        return [self.location((*path, index)) for index in range(count)]

    def error(self, message: str, location: Location, **fields: str | None) -> ScenarioError:
        """A ScenarioError at `location` of this document, with the offending line shown."""
        return ScenarioError(message, location, snippet=snippet(self.text, location), **fields)

    def _find(self, path: ValuePath) -> tuple[int | None, int | None]:
        """Built from events: the position of the value at `path` (or of its nearest ancestor
        in `value`), and of its key when `path` ends at a mapping's entry."""
        _, _, found, key, whole = self._walk(path)
        return found, key if whole else None

    def _walk(self, path: ValuePath) -> tuple[Any, int, int | None, int | None, bool]:
        """Built from events: from `value` along `path`, as far as the file has it: the value
        reached, where its run starts, its position, its key's (a mapping's entry), and
        whether it is at the whole `path`."""
        flat = self._positions
        value, run, found, key = self.value, self._root_run, self._root, None
        for part in path:
            if run < 0:  # a scalar as read (or nothing): nothing below it
                return value, run, found, None, False
            kind = type(value)
            if kind is list:  # an index as the tables took it (True is 1 there)
                if not isinstance(part, int) or not 0 <= part < len(value):
                    return value, run, found, None, False
                at = run + 2 * part
                found, key, run = flat[at], None, flat[at + 1]
            elif kind is dict:
                if not isinstance(part, str) or part not in value:
                    return value, run, found, None, False
                at = run + 3 * self._index(value, part)
                key, found, run = flat[at], flat[at + 1], flat[at + 2]
            else:
                return value, run, found, None, False
            value = value[part]
        return value, run, found, key, True

    def _index(self, mapping: dict[str, Any], key: str) -> int:
        if len(mapping) <= _INDEXED:
            for index, each in enumerate(mapping):
                if each == key:
                    return index
        indexes = self._indexes.get(id(mapping))
        if indexes is None:
            indexes = self._indexes[id(mapping)] = {k: i for i, k in enumerate(mapping)}
        return indexes[key]

    def _tables(self) -> tuple[dict[ValuePath, int], dict[ValuePath, int]]:
        """Built from events: the path → position tables, made from the runs."""
        flat = self._positions
        values: dict[ValuePath, int] = {}
        keys: dict[ValuePath, int] = {}
        if self._root is None:
            return values, keys
        values[()] = self._root
        pending: list[tuple[ValuePath, Any, int]] = [((), self.value, self._root_run)]
        while pending:
            path, value, run = pending.pop()
            if run < 0:
                continue
            if type(value) is list:
                for index, item in enumerate(value):
                    at = run + 2 * index
                    values[(*path, index)] = flat[at]
                    pending.append(((*path, index), item, flat[at + 1]))
            elif type(value) is dict:
                for index, (name, item) in enumerate(value.items()):
                    at = run + 3 * index
                    keys[(*path, name)] = flat[at]
                    values[(*path, name)] = flat[at + 1]
                    pending.append(((*path, name), item, flat[at + 2]))
        return values, keys


def read_document(path: str | Path) -> Document:
    """Read and build a YAML file (see `parse_document`)."""
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ScenarioErrors(
            [ScenarioError(f"cannot read file: {reason.lower()}", Location(file, 1, 1))]
        ) from exc
    return parse_document(text, file)


def parse_document(text: str, file: str) -> Document:
    """Build the values of one YAML document held in `text`; `file` names it in locations.

    Raises:
        ScenarioErrors: when the text is not YAML. Other problems are in `Document.problems`.
    """
    document = Document(file, text)
    if _build_from_events(document):
        return document
    document = Document(file, text)  # read again through nodes: it has what the events leave
    try:
        node = _compose(text)
    except yaml.MarkedYAMLError as exc:
        raise ScenarioErrors([_syntax_error(document, exc)]) from exc
    except _TooDeep as exc:
        where = _mark_location(file, exc.mark)
        message = f"nested too deeply (the limit is {MAX_DEPTH} levels)"
        raise ScenarioErrors([document.error(message, where)]) from None
    except yaml.YAMLError as exc:
        raise ScenarioErrors([ScenarioError(f"invalid YAML: {exc}", Location(file, 1, 1))]) from exc
    builder = _Builder(document)
    document.value = builder.build(node, ()) if node is not None else None
    return document


_EVENTS: Any = getattr(yaml, "CSafeLoader", None)  # libyaml's parser (None: PyYAML without it)
_NO_KEY: Any = object()  # a mapping's frame waiting for its next key


def _build_from_events(document: Document) -> bool:
    """Build `document`'s values and locations in one pass over libyaml's events, without a node
    tree (which took twice the memory of the values) and without a separate depth check.

    Only plain files are built so: at the first thing that needs more than the events (an
    alias, a tag, a merge key, a duplicate key, a YAML 1.1 trap, a key that is not
    a scalar, nesting deeper than `MAX_DEPTH`, a second document, a YAML error) this gives up
    and returns False, and the file is read again through nodes (`_compose`, `_Builder`),
    which reports the problem. Both ways build the same values and locations (a test compares
    them on every example).
    """
    if _EVENTS is None:
        return False
    plain, noted, noted_keys = document.plain, document._noted, NOTED_KEYS
    flat = document._positions
    extend = flat.fromlist
    get_event = _EVENTS(document.text).get_event
    scalar, mapping, sequence = yaml.ScalarEvent, yaml.MappingStartEvent, yaml.SequenceStartEvent
    ends = (yaml.MappingEndEvent, yaml.SequenceEndEvent)
    resolve, no_key, limit, bits = resolve_plain, _NO_KEY, MAX_DEPTH, _COLUMN_BITS
    # The collection being built: its value, its path, whether a list, the key whose value
    # comes next, and its run so far (see `Document`: a list's item's position and its run's
    # start, a mapping's key's and value's positions and the value's run's start); the
    # enclosing collections' on `stack`. A run is put in `flat` at its collection's end, and
    # where it starts in the enclosing run (in place of its -1).
    container: Any = None
    here: ValuePath = ()
    in_list = False
    key: Any = no_key
    positions: list[int] = []
    stack: list[tuple[Any, ValuePath, bool, Any, list[int]]] = []
    root: Any = None
    root_position: int | None = None
    root_run = -1
    documents = 0
    try:
        while True:
            event: Any = get_event()
            kind = type(event)
            if kind is scalar:
                if event.tag is not None:
                    return False
                value = written = event.value  # resolved below, once known to be no key
            elif kind is mapping or kind is sequence:
                if event.tag is not None:
                    return False
                value = {} if kind is mapping else []
            elif kind in ends:
                run = len(flat)
                extend(positions)
                container, here, in_list, key, positions = stack.pop()
                if container is None:
                    root_run = run
                else:
                    positions[-1] = run
                continue
            elif kind is yaml.StreamEndEvent or event is None:
                break
            elif kind is yaml.DocumentStartEvent:
                documents += 1
                if documents > 1:
                    return False
                continue
            elif kind is yaml.AliasEvent:
                return False
            else:  # the stream's start, a document's end
                continue
            mark = event.start_mark
            position = ((mark.line + 1) << bits) | (mark.column + 1)
            if key is no_key and not in_list and container is not None:  # a key
                if kind is not scalar or written in container:
                    return False
                if written == "<<" and event.implicit[0]:
                    return False
                if written in noted_keys:
                    noted.add(written)
                key = written
                positions.append(position)
                continue
            if kind is scalar and event.implicit[0]:  # a plain scalar: YAML 1.2's types
                try:
                    value = resolve(written)
                except _Trap:
                    return False
            if in_list:
                step: PathKey = len(container)
                container.append(value)
            elif container is None:
                step = ""
                root, root_position = value, position
            else:
                step = key
                container[key] = value
                key = no_key
            if container is not None:
                if len(here) >= limit:
                    return False
                positions.append(position)
                positions.append(-1)  # its run's start, when a collection (set at its end)
            if kind is scalar:
                if value is not written and type(value) is not str:
                    plain[(*here, step) if container is not None else ()] = written
            else:
                stack.append((container, here, in_list, key, positions))
                if container is not None:
                    here = (*here, step)
                container, in_list, key, positions = value, kind is sequence, no_key, []
    except yaml.YAMLError:
        return False
    document.value = root
    document._root = root_position
    document._root_run = root_run
    document._compact = True
    return True


def snippet(text: str, location: Location) -> str:
    """The line at `location`, numbered, with a caret under the column."""
    lines = _lines(text)
    if not 1 <= location.line <= len(lines):
        return ""
    number = str(location.line)
    gutter = " " * len(number)
    line, column = _window(lines[location.line - 1], location.column - 1)
    caret = " " * column + "^"
    return f"{number} | {line}\n{gutter} | {caret}"


@lru_cache(maxsize=8)
def _lines(text: str) -> list[str]:
    """The lines of a file's text, split once for all its errors' snippets."""
    return text.splitlines()


#: The longest line a snippet shows; a longer one is cut around the column, with "...".
_SNIPPET_WIDTH = 120


def _window(line: str, column: int) -> tuple[str, int]:
    """`line` cut to `_SNIPPET_WIDTH` characters around `column`, and the column in the cut."""
    if len(line) <= _SNIPPET_WIDTH:
        return line, column
    start = max(0, min(column - _SNIPPET_WIDTH // 3, len(line) - _SNIPPET_WIDTH))
    end = start + _SNIPPET_WIDTH
    head = "..." if start > 0 else ""
    tail = "..." if end < len(line) else ""
    return head + line[start:end] + tail, column - start + len(head)


def _mark_location(file: str, mark: yaml.Mark | None) -> Location:
    if mark is None:
        return Location(file, 1, 1)
    return Location(file, mark.line + 1, mark.column + 1)


def _syntax_error(document: Document, exc: yaml.MarkedYAMLError) -> ScenarioError:
    location = _mark_location(document.file, exc.problem_mark or exc.context_mark)
    problem = exc.problem or exc.context or "invalid YAML"
    context = f" ({exc.context})" if exc.context and exc.problem else ""
    mark = exc.context_mark
    if context and mark is not None and mark.line + 1 != location.line:
        context = f" ({exc.context} at line {mark.line + 1})"
    return document.error(f"invalid YAML: {problem}{context}", location)


class _Trap(ValueError):
    """A plain scalar whose meaning differs between YAML 1.1 and YAML 1.2."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.hint = hint


_NULLS = {"", "~", "null", "Null", "NULL"}
_BOOLS = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_INT = re.compile(r"[-+]?[0-9]+")
_HEX = re.compile(r"0x[0-9a-fA-F]+")
_OCT = re.compile(r"0o[0-7]+")
_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
_NUMBER_STARTS = frozenset("0123456789+-.")  # how every number and special float starts
_SPECIAL_FLOATS = {
    ".inf": math.inf,
    ".Inf": math.inf,
    ".INF": math.inf,
    "+.inf": math.inf,
    "+.Inf": math.inf,
    "+.INF": math.inf,
    "-.inf": -math.inf,
    "-.Inf": -math.inf,
    "-.INF": -math.inf,
    ".nan": math.nan,
    ".NaN": math.nan,
    ".NAN": math.nan,
}


def resolve_plain(text: str) -> Any:
    """The value of a plain (unquoted) scalar under YAML 1.2's core schema."""
    if text in _NULLS:
        return None
    if text in _BOOLS:
        return _BOOLS[text]
    if text[0] not in _NUMBER_STARTS:  # a word: no number, and no need to try each pattern
        return text
    if _INT.fullmatch(text):
        return _decimal(text)
    if _HEX.fullmatch(text):
        return int(_digits(text[2:], text), 16)
    if _OCT.fullmatch(text):
        return int(_digits(text[2:], text), 8)
    if _FLOAT.fullmatch(text):
        return float(text)
    return _SPECIAL_FLOATS.get(text, text)


def _digits(digits: str, text: str) -> str:
    if len(digits) > MAX_INT_DIGITS:
        raise _Trap(
            f"integer too large: {len(digits):,} digits (the limit is {MAX_INT_DIGITS:,})",
            f'write "{text[:10]}..." in quotes for a string',
        )
    return digits


def _decimal(text: str) -> int:
    digits = _digits(text.lstrip("+-"), text)
    if len(digits) > 1 and digits.startswith("0"):
        raise _Trap(
            f"ambiguous number {text}",
            f"YAML 1.1 reads it as octal; write {int(digits)}, 0o{digits.lstrip('0') or '0'}, "
            f'or "{text}" for a string',
        )
    return int(text)


class _Builder:
    """Builds values from nodes, collecting every error instead of stopping at the first."""

    def __init__(self, document: Document) -> None:
        self.document = document
        self.errors = document.problems
        self.active: set[int] = set()
        self.first: dict[int, ValuePath] = {}  # id of a node → the path it was first built at
        self.again: dict[int, list[ValuePath]] = {}  # id of a node → where aliases built it again
        self.expanded = 0  # values built again through aliases
        self.exhausted = False  # more than MAX_ALIAS_VALUES: reported once, nothing more built

    def build(self, node: Node, path: ValuePath) -> Any:
        mark = node.start_mark
        self.document.values[path] = pack_position(mark.line + 1, mark.column + 1)
        key = id(node)  # nodes live as long as the builder: ids are not reused
        if key not in self.first:
            self.first[key] = path
        else:
            self.again.setdefault(key, []).append(path)
            self.expanded += 1
            if self.exhausted:
                self.document.problem_paths.add(path)
                return None
            if self.expanded > MAX_ALIAS_VALUES:
                self.exhausted = True
                message = (
                    f"aliases expand without end: more than {MAX_ALIAS_VALUES:,} values "
                    f"built again through aliases"
                )
                return self._fail(node, message, None)
        if len(path) > MAX_DEPTH:
            return self._fail(node, f"nested too deeply (the limit is {MAX_DEPTH} levels)", None)
        if id(node) in self.active:
            return self._fail(node, "recursive alias: a value cannot contain itself", None)
        self.active.add(id(node))
        try:
            return self._build(node, path)
        finally:
            self.active.discard(id(node))

    def _build(self, node: Node, path: ValuePath) -> Any:
        if isinstance(node, ScalarNode):
            return self._scalar(node, path)
        if isinstance(node, SequenceNode) and node.tag == _SEQ:
            return [self.build(item, (*path, index)) for index, item in enumerate(node.value)]
        if isinstance(node, MappingNode) and node.tag == _MAP:
            return self._mapping(node, path)
        return self._fail(node, f"unsupported tag {_short(node.tag)}", "plain YAML values")

    def _scalar(self, node: ScalarNode, path: ValuePath) -> Any:
        if node.tag == _STR:
            return node.value
        if node.tag != _PLAIN:
            return self._fail(node, f"unsupported tag {_short(node.tag)}", "plain YAML values")
        try:
            value = resolve_plain(node.value)
        except _Trap as trap:
            location = _mark_location(self.document.file, node.start_mark)
            self.errors.append(self.document.error(str(trap), location, hint=trap.hint))
            self.document.problem_paths.add(path)
            return node.value
        if not isinstance(value, str):
            self.document.plain[path] = node.value
        return value

    def _mapping(self, node: MappingNode, path: ValuePath) -> dict[str, Any]:
        result: dict[str, Any] = {}
        merged: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if _is_merge(key_node):
                self._merge(value_node, path, merged)
                continue
            key = self._key(key_node)
            if key is None:
                continue
            if key in result:
                self._duplicate(key_node, key, path)
                continue
            mark = key_node.start_mark
            self.document.keys[(*path, key)] = pack_position(mark.line + 1, mark.column + 1)
            result[key] = self.build(value_node, (*path, key))
        return {**merged, **result}

    def _key(self, node: Node) -> str | None:
        if isinstance(node, ScalarNode) and node.tag in (_PLAIN, _STR):
            return str(node.value)
        self._fail(node, "a mapping key must be a plain string", "a string key")
        return None

    def _duplicate(self, node: Node, key: str, path: ValuePath) -> None:
        first_line = self.document.keys[(*path, key)] >> _COLUMN_BITS
        where = _mark_location(self.document.file, node.start_mark)
        message = f"duplicate key {key!r} (first defined at line {first_line})"
        hint = "YAML keeps only the last value; remove or rename one of them"
        self.errors.append(self.document.error(message, where, hint=hint))

    def _merge(self, node: Node, path: ValuePath, merged: dict[str, Any]) -> None:
        sources = node.value if isinstance(node, SequenceNode) else [node]
        for source in sources:
            if not isinstance(source, MappingNode):
                self._fail(source, "a merge key (<<) takes a mapping or a list of mappings", None)
                continue
            for key, value in self._mapping(source, path).items():
                merged.setdefault(key, value)

    def _fail(self, node: Node, message: str, expected: str | None) -> None:
        location = _mark_location(self.document.file, node.start_mark)
        key = id(node)  # every path the node was built at so far (aliases build it again)
        if key in self.first:
            self.document.problem_paths.add(self.first[key])
            self.document.problem_paths.update(self.again.get(key, ()))
        self.errors.append(self.document.error(message, location, expected=expected))


def _is_merge(node: Node) -> bool:
    return isinstance(node, ScalarNode) and (
        (node.tag == _PLAIN and node.value == "<<") or node.tag == _MERGE
    )


def _short(tag: str) -> str:
    return tag.replace("tag:yaml.org,2002:", "!!")
