"""The step models: one per kind, joined in the tagged union `Step` (tag: `kind`).

In a file a step is a one-key mapping whose key is its kind (`- send: {text: hi}`); the loader
turns that into ``{"kind": "send", "text": "hi"}`` before validation (see `canonical.py`).
Each model declares how it may be written (see `kinds.py`); the union, the canonical tables and
the schemas follow from the models defined here.
"""

import re
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal, Self, Union

from pydantic import (
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationInfo,
    field_serializer,
    field_validator,
    model_validator,
)

from runner.matching import check_expected, compile_jsonpath, has_template
from runner.rfc6455 import close_code_problem, close_reason_problem
from runner.scenario.fields import Model, TemplatedBool, TemplatedDuration, TemplatedInt
from runner.scenario.kinds import NOWHERE, StepModel, step_models
from runner.scenario.matchers import (
    BinaryData,
    ByteSave,
    IgnoreRule,
    MatcherFields,
    matcher_names,
    regex_groups,
)
from runner.scenario.outgoing import Outgoing
from runner.scenario.replies import ExpectBody, Keepalive, OpaqueRules, ReplyRule, unwrap_rules

__all__ = [
    "DEFAULT_CONN",
    "NOWHERE",
    "BinaryData",
    "CloseStep",
    "Compression",
    "ConnectStep",
    "ConnectionStep",
    "ExpectCloseStep",
    "ExpectNoneStep",
    "ExpectStep",
    "IgnoreRule",
    "MatcherFields",
    "ProxyServer",
    "RunStep",
    "SendStep",
    "SleepStep",
    "Step",
    "TlsOptions",
    "UseStep",
    "matcher_names",
    "regex_groups",
]

#: The name of the connection a `connect` step without `conn` opens.
DEFAULT_CONN = "default"
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class ConnectionStep(StepModel):
    """Base of the steps that act on one connection."""

    conn: str | None = Field(
        None,
        description=f"the connection's name; omitted: {DEFAULT_CONN!r} for connect, the "
        "scenario's first connection for other steps",
    )

    def conn_named(self) -> str | None:
        """The connection the step names, if it names one."""
        return self.conn


class TlsOptions(Model):
    """TLS settings of a `wss` connection."""

    verify: TemplatedBool = Field(True, description="verify the server's certificate and host name")
    ca: str | None = Field(None, description="a PEM file of CA certificates to trust")
    cert: str | None = Field(None, description="a PEM client certificate (with key)")
    key: str | None = Field(None, description="the PEM private key of `cert`")
    password: str | None = Field(None, description="the password of `key`")
    min_version: Literal["1.0", "1.1", "1.2", "1.3"] | None = Field(
        None,
        description="the lowest TLS version accepted (minSupportTlsProtocol); never below "
        "Python's default (1.2), so only 1.3 changes anything",
    )

    @model_validator(mode="after")
    def _cert_and_key(self) -> Self:
        if (self.cert is None) != (self.key is None):
            raise ValueError("expected cert and key together")
        return self


class Compression(Model):
    """permessage-deflate (RFC 7692) offered with these parameters."""

    client_max_window_bits: int | None = Field(
        None, ge=9, le=15, description="the largest window the client compresses with (9-15)"
    )
    server_max_window_bits: int | None = Field(
        None, ge=8, le=15, description="the largest window the server may compress with (8-15)"
    )
    client_no_context_takeover: bool = Field(
        False, description="the client compresses every message afresh"
    )
    server_no_context_takeover: bool = Field(
        False, description="ask the server to compress every message afresh"
    )


def _compression_form(value: Any) -> str:
    return "name" if isinstance(value, str) else "parameters"


#: `compression: deflate`, or its parameters (one branch is validated, so one error is shown).
_CompressionSetting = Annotated[
    Annotated[Literal["deflate"], Tag("name")] | Annotated[Compression, Tag("parameters")],
    Discriminator(_compression_form),
]


class ProxyServer(Model):
    """An HTTP CONNECT proxy."""

    host: str = Field(description="the proxy's host name or address")
    port: TemplatedInt = Field(description="the proxy's port")
    exclude: list[str] = Field(
        default_factory=list, description="hosts reached directly, not through the proxy"
    )


#: How a request reaches its server (`connect` and `http` alike).
Proxy = Annotated[
    Literal["system", "no-proxy"] | ProxyServer,
    Field(
        description='"system" (the http_proxy/https_proxy/no_proxy environment), "no-proxy", '
        "or a proxy {host, port, exclude}"
    ),
]


def _protocol_schemas(schema: dict[str, Any]) -> None:
    from runner.protocols.registry import add_option_schemas

    add_option_schemas(schema)


class ConnectStep(ConnectionStep):
    """Open a WebSocket connection (RFC 6455 section 4: the opening handshake)."""

    shorthand = "url"
    shorthand_schema: ClassVar[dict[str, Any]] = {"type": "string", "description": "the URL"}
    kind: Literal["connect"] = Field("connect", description="the step's kind")
    url: str = Field(description="a ws:// or wss:// URL")
    headers: dict[str, str] = Field(
        default_factory=dict, description="extra HTTP headers of the upgrade request"
    )
    subprotocols: list[str] = Field(
        default_factory=list, description="subprotocols offered (Sec-WebSocket-Protocol), in order"
    )
    timeout: TemplatedDuration | None = Field(
        None, description="how long connecting may take (default: the client's, 10s)"
    )
    tls: TlsOptions | None = Field(None, description="TLS settings for wss:// URLs")
    proxy: Proxy = "system"
    follow_redirects: TemplatedBool = Field(
        False,
        description="follow a 301/302/303/307/308 answer to the upgrade (never from wss:// to "
        "ws://; no Authorization or Cookie to another origin); off: a redirect fails the step",
    )
    expect_status: TemplatedInt | None = Field(
        None,
        description="the handshake's expected HTTP status; other than 101, the server must "
        "reject the handshake with this status (e.g. 401)",
    )
    compression: _CompressionSetting | None = Field(
        None,
        description='offer permessage-deflate (RFC 7692): "deflate", or {client_max_window_bits, '
        "server_max_window_bits, client_no_context_takeover, server_no_context_takeover}",
    )
    expect_extensions: list[str] | None = Field(
        None,
        description="the extensions the server must have agreed to, e.g. [permessage-deflate]; "
        "[] for none",
    )
    expect_headers: dict[str, Any] = Field(
        default_factory=dict,
        description="response headers the handshake must have: name (any case) → value, "
        "compared like `json` (placeholders such as {{any}}, {{regex:^nginx}})",
    )
    expect_subprotocol: str | None = Field(
        None, description="the subprotocol the server must choose (Sec-WebSocket-Protocol)"
    )
    expect_body: ExpectBody | None = Field(
        None, description="what the body of the refused handshake must be (with expect_status)"
    )
    save: dict[str, str] = Field(
        default_factory=dict,
        description="variables to save from the response headers: name → header name (any case)",
    )
    keepalive: Keepalive | None = Field(
        None, description="WebSocket pings (RFC 6455 5.5.2): {interval, timeout}"
    )
    reply: list[ReplyRule] = Field(
        default_factory=list,
        description="auto-replies on this connection, tried before the scenario's",
    )
    protocol: str | None = Field(
        None,
        description="the protocol spoken on the connection: socket.io, graphql-ws, mqtt, stomp, "
        "json-rpc, or one a plugin registers (wsrun.protocols entry point)",
    )
    protocol_options: dict[str, Any] = Field(
        default_factory=dict, description="the protocol's options (see each protocol's)"
    )

    model_config = ConfigDict(json_schema_extra=_protocol_schemas)

    def saved_variables(self) -> set[str]:
        """The variables `save` takes from the response headers."""
        return set(self.save)

    @field_validator("protocol")
    @classmethod
    def _known_protocol(cls, value: str | None) -> str | None:
        if value is not None:
            from runner.protocols.registry import protocol_class

            protocol_class(value)  # UnknownProtocol is a ValueError: located at the name
        return value

    @field_validator("protocol_options")
    @classmethod
    def _protocol_options(cls, value: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        name = info.data.get("protocol")
        if name is None:
            if value and "protocol" in info.data:
                raise ValueError("protocol_options needs protocol: the protocol they are for")
            return value
        from runner.protocols.registry import check_options

        check_options(name, value, info.context)
        return value

    @field_validator("reply", mode="before")
    @classmethod
    def _unwrap(cls, value: object) -> object:
        return unwrap_rules(value)

    @field_serializer("reply")
    def _opaque(self, rules: list[ReplyRule]) -> object:
        return OpaqueRules(rules)  # rendered per reply, not with the step

    @field_validator("expect_headers")
    @classmethod
    def _header_values(cls, value: dict[str, Any]) -> dict[str, Any]:
        for expected in value.values():
            check_expected(expected)
        return value

    @field_validator("save")
    @classmethod
    def _header_saves(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            if not _IDENTIFIER.fullmatch(name):
                raise ValueError(f"save: {name!r} is not a variable name (letters, digits, _)")
        return value

    @model_validator(mode="after")
    def _refusal_checks(self) -> Self:
        refused = self.expect_status not in (None, 101)
        if self.expect_body is not None and not refused:
            raise ValueError("expect_body needs expect_status: the status of a refusal (not 101)")
        if self.expect_subprotocol is not None and refused:
            raise ValueError("expect_subprotocol cannot go with a refusal (expect_status)")
        return self

    @field_validator("url")
    @classmethod
    def _websocket_url(cls, value: str) -> str:
        scheme = value.split("://", 1)[0].lower() if "://" in value else ""
        if not value.startswith("${") and scheme not in ("ws", "wss"):
            raise ValueError(f"expected a ws:// or wss:// URL, found {value!r}")
        return value


class SendStep(Outgoing, ConnectionStep):
    """Send one message: exactly one of text, json, binary."""

    shorthand = "text"
    shorthand_schema: ClassVar[dict[str, Any]] = {
        "type": "string",
        "description": "a text message",
    }
    kind: Literal["send"] = Field("send", description="the step's kind")


class ExpectStep(ConnectionStep, MatcherFields):
    """Wait for a message that matches (others stay for later steps)."""

    shorthand = "text"
    shorthand_schema: ClassVar[dict[str, Any]] = {
        "type": "string",
        "description": "a text message equal to this",
    }
    synonyms = ("expect-message",)
    waits = True
    kind: Literal["expect"] = Field("expect", description="the step's kind")
    timeout: TemplatedDuration | None = Field(
        None, description="how long to wait (default: the scenario's timeout)"
    )
    next: bool = Field(
        False, description="the oldest waiting message itself must match, not any later one"
    )
    ignore: list[IgnoreRule] = Field(
        default_factory=list, description="messages to drop as noise while waiting"
    )
    count: TemplatedInt = Field(
        1,
        description="how many messages must each match, taken in arrival order (saves come "
        "from the last)",
    )
    optional: bool = Field(
        False, description="the step passes either way; the log says whether a message matched"
    )
    correlate: str | None = Field(
        None,
        description="a JSONPath (e.g. $.id): the match must hold there the value the last JSON "
        "message sent on the connection holds there",
    )
    max_latency: TemplatedDuration | None = Field(
        None, description="the match must come within this of the last send on the connection"
    )
    save: dict[str, str | ByteSave] = Field(
        default_factory=dict,
        description="variables to save from the matched message: name → JSONPath (starting "
        "with $), the name of a named group of `regex`, or {bytes: [first, last]} of a binary "
        "message",
    )

    def saved_variables(self) -> set[str]:
        """The `save` names and the named groups of `regex`."""
        return {*self.save, *regex_groups(self.regex)}

    @field_validator("count")
    @classmethod
    def _at_least_one(cls, value: int | str) -> int | str:
        if isinstance(value, int) and value < 1:
            raise ValueError(f"expected a count of 1 or more, found {value}")
        return value

    @field_validator("correlate")
    @classmethod
    def _correlate_path(cls, value: str | None) -> str | None:
        if value is not None and not (value.startswith("$") and compile_jsonpath(value)):
            raise ValueError(f"expected a JSONPath starting with $, found {value!r}")
        return value

    @model_validator(mode="after")
    def _matchers_and_saves(self) -> Self:
        self._require_matcher()
        for name, source in self.save.items():
            _check_save(name, source, self.regex)
        return self


class ExpectNoneStep(ConnectionStep, MatcherFields):
    """Fail as soon as a matching message is waiting or arrives within `for` (others stay)."""

    waits = True
    kind: Literal["expect_none"] = Field("expect_none", description="the step's kind")
    for_: TemplatedDuration = Field(
        alias="for",
        description="how long no matching message may arrive: 250ms, 1s, ...; the connection "
        "must stay open that long",
    )

    @model_validator(mode="after")
    def _a_matcher(self) -> Self:
        self._require_matcher()
        return self


def _check_save(name: str, source: str | ByteSave, regex: str | None) -> None:
    if not _IDENTIFIER.fullmatch(name):
        raise ValueError(f"save: {name!r} is not a variable name (letters, digits, _)")
    if isinstance(source, ByteSave):
        return  # its model checks the range; the message's length is known at run time
    if source.startswith("$"):
        _check_jsonpath(source)
    elif regex is None or (not has_template(regex) and source not in regex_groups(regex)):
        groups = ", ".join(regex_groups(regex)) or "none"
        raise ValueError(
            f"save {name}: {source!r} is neither a JSONPath ($...) nor a named group of regex "
            f"(groups: {groups})"
        )


def _check_jsonpath(query: str) -> None:
    if not has_template(query):
        compile_jsonpath(query)


class CloseStep(ConnectionStep):
    """Start the closing handshake (RFC 6455 section 7.1.2)."""

    bare = True
    kind: Literal["close"] = Field("close", description="the step's kind")
    code: TemplatedInt = Field(1000, description="the close code (RFC 6455 section 7.4)")
    reason: str = Field("", description="the close reason (at most 123 bytes of UTF-8)")

    @field_validator("code")
    @classmethod
    def _sendable(cls, value: int | str) -> int | str:
        if isinstance(value, int) and (problem := close_code_problem(value)):
            raise ValueError(problem)
        return value

    @field_validator("reason")
    @classmethod
    def _short(cls, value: str) -> str:
        if not has_template(value) and (problem := close_reason_problem(value)):
            raise ValueError(problem)
        return value


class ExpectCloseStep(ConnectionStep):
    """Wait until the connection is closed, and check its code and reason."""

    bare = True
    waits = True
    kind: Literal["expect_close"] = Field("expect_close", description="the step's kind")
    code: TemplatedInt | None = Field(None, description="the expected close code")
    reason: str | None = Field(None, description="the expected close reason")
    timeout: TemplatedDuration | None = Field(
        None, description="how long to wait (default: the scenario's timeout)"
    )


class SleepStep(StepModel):
    """Wait for a while (messages received meanwhile are kept)."""

    shorthand = "duration"
    shorthand_schema: ClassVar[dict[str, Any]] = {"$ref": "#/$defs/Duration"}
    waits = True
    kind: Literal["sleep"] = Field("sleep", description="the step's kind")
    duration: TemplatedDuration = Field(description="how long to sleep: 250ms, 2s, 1m, ...")


class UseStep(StepModel):
    """Run the steps of a block from an imported library."""

    shorthand = "block"
    shorthand_schema: ClassVar[dict[str, Any]] = {
        "type": "string",
        "description": "the block's name",
    }
    runs = False  # the loader expands it
    kind: Literal["use"] = Field("use", description="the step's kind")
    block: str = Field(
        description="the block: namespace.name (the namespace is the library's "
        "file stem or its import alias)"
    )
    with_: dict[str, Any] = Field(
        default_factory=dict, alias="with", description="values of the block's parameters"
    )


# The kinds defined in other modules, on the bases above; they register as they are defined,
# so they are imported here, before the union is built (runner.scenario imports this module
# first, whoever imports them).
from runner.scenario import steps_expect as _steps_expect  # noqa: E402, F401
from runner.scenario import steps_flow as _steps_flow  # noqa: E402
from runner.scenario import steps_http as _steps_http  # noqa: E402, F401

# isort: split
from runner.scenario import steps_call as _steps_call  # noqa: E402, F401  (after http)

_steps_flow.complete_loops()  # a loop may hold every kind, those defined after it too

if TYPE_CHECKING:
    #: A step as written in a file (a `use` is expanded by the loader).
    Step = StepModel
    #: A step as the executor runs it (`use` expanded).
    RunStep = StepModel
else:
    Step = Annotated[Union[step_models()], Field(discriminator="kind")]  # noqa: UP007
    RunStep = Union[tuple(model for model in step_models() if model.runs)]  # noqa: UP007
