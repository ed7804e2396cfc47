"""Protocols by name: the built-in ones, then those plugins register.

A plugin registers its `Protocol` class under the ``wsrun.protocols`` entry point of its
package (the entry point's name is the protocol's name)::

    [project.entry-points."wsrun.protocols"]
    echo-upper = "wsrun_upper:UpperProtocol"

Nothing is imported until a protocol is asked for by name, and then only its module: a scenario
with no `protocol:` imports no protocol module, and reads no package metadata.
"""

from __future__ import annotations

import importlib
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from runner.protocols.base import Protocol

__all__ = [
    "BUILTIN",
    "ENTRY_POINT_GROUP",
    "UnknownProtocol",
    "add_option_schemas",
    "check_options",
    "protocol_class",
    "protocol_names",
]

#: The entry point group plugins register their protocols under.
ENTRY_POINT_GROUP = "wsrun.protocols"

#: The built-in protocols: name -> "module:Class" (imported when first asked for).
BUILTIN: dict[str, str] = {
    "socket.io": "runner.protocols.socketio:SocketIO",
    "graphql-ws": "runner.protocols.graphql_ws:GraphqlWs",
    "mqtt": "runner.protocols.mqtt:Mqtt",
    "stomp": "runner.protocols.stomp:Stomp",
    "json-rpc": "runner.protocols.jsonrpc:JsonRpc",
}

_lock = threading.Lock()
_plugins: dict[str, str] | None = None  # read from the package metadata on first use
_loaded: dict[str, type[Protocol]] = {}


class UnknownProtocol(ValueError):
    """No protocol of that name (the message lists the known names and the closest one)."""


def _plugin_table() -> dict[str, str]:
    global _plugins
    with _lock:
        if _plugins is None:
            from importlib.metadata import entry_points

            found = entry_points(group=ENTRY_POINT_GROUP)
            _plugins = {ep.name: ep.value for ep in found if ep.name not in BUILTIN}
        return _plugins


def protocol_names() -> list[str]:
    """Every protocol's name: the built-in ones, then the plugins' (sorted)."""
    return [*BUILTIN, *sorted(_plugin_table())]


def protocol_class(name: str) -> type[Protocol]:
    """The protocol class called `name`, its module imported now if it was not yet.

    Raises:
        UnknownProtocol: no protocol has that name, or its module or class cannot be loaded
            (the message says which, and lists the known names).
    """
    cached = _loaded.get(name)
    if cached is not None:
        return cached
    target = BUILTIN.get(name) or _plugin_table().get(name)
    if target is None:
        raise UnknownProtocol(_unknown(name))
    cls = _load(name, target)
    _loaded[name] = cls
    return cls


def _unknown(name: str) -> str:
    import difflib

    known = protocol_names()
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.5)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"unknown protocol {name!r} (known: {', '.join(known)}){hint}"


def _load(name: str, target: str) -> type[Protocol]:
    from runner.protocols.base import Protocol

    module_name, _, attribute = target.partition(":")
    try:
        module = importlib.import_module(module_name)
        cls = getattr(module, attribute) if attribute else None
    except Exception as error:  # a plugin's import may fail any way: say which and why
        raise UnknownProtocol(
            f"protocol {name!r} cannot be loaded from {target}: {type(error).__name__}: {error}"
        ) from error
    if not (isinstance(cls, type) and issubclass(cls, Protocol)):
        raise UnknownProtocol(
            f"protocol {name!r}: {target} is not a subclass of runner.protocols.base.Protocol"
        )
    return cls


def add_option_schemas(schema: dict[str, Any]) -> None:
    """Add to the connect step's JSON Schema `schema`: `protocol` names a built-in protocol (or
    any string: a plugin's), and `protocol_options` follows that protocol's `options_model`
    (an ``if``/``then`` per built-in protocol whose module is there)."""
    properties = schema.get("properties", {})
    if "protocol" in properties:
        properties["protocol"] = {
            "anyOf": [{"enum": list(BUILTIN)}, {"type": "string"}, {"type": "null"}],
            "default": None,
            "description": properties["protocol"].get("description", ""),
        }
    branches = []
    for name in BUILTIN:
        try:
            cls = protocol_class(name)
        except UnknownProtocol:
            continue  # its module is not there (yet): no schema for its options
        options = cls.options_model.model_json_schema()
        options.pop("title", None)
        branches.append(
            {
                "if": {
                    "properties": {"protocol": {"const": name, "description": f"{name}"}},
                    "required": ["protocol"],
                },
                "then": {"properties": {"protocol_options": options}},
            }
        )
    if branches:
        schema["allOf"] = branches


def check_options(name: str, options: dict[str, Any], context: Any = None) -> Any:
    """The protocol `name`'s options model instance for `options` (validated with `context`).

    Raises:
        UnknownProtocol: no protocol has that name.
        pydantic.ValidationError: the options are wrong; an unknown key says which keys the
            protocol knows (and the closest).
    """
    from pydantic import ValidationError

    model = protocol_class(name).options_model
    try:
        return model.model_validate(options, context=context)
    except ValidationError as error:
        raise _known_keys(error, name, model) from None


def _known_keys(error: Any, name: str, model: Any) -> Any:
    """`error` with each unknown top-level key's error saying which keys `name` knows."""
    import difflib

    from pydantic import ValidationError

    known = [field.alias or key for key, field in model.model_fields.items()]
    details = []
    for detail in error.errors(include_url=False):
        loc = detail["loc"]
        if detail["type"] == "extra_forbidden" and len(loc) == 1:
            close = difflib.get_close_matches(str(loc[0]), known, n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            listed = ", ".join(known) or "none"
            message = f"{name} has no option {loc[0]!r} (its options: {listed}){hint}"
            detail = {**detail, "type": "value_error", "ctx": {"error": ValueError(message)}}
        details.append(detail)
    return ValidationError.from_exception_data(error.title, details)
