"""Options and results of the client core, typed, and their parsing from OpenHarmony-style dicts.

`connect` accepts the original's `WebSocketRequestOptions` keys (camelCase) or a `ConnectOptions`.
Unlike the original, an unknown key or a value of the wrong type is a 401: a typo must not be
silently ignored.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, Literal, TypeAlias

from runner.errors import BusinessError, ErrorCode
from runner.rfc6455 import close_code_problem, close_reason_problem

__all__ = [
    "ClientCert",
    "CloseOptions",
    "CloseResult",
    "ConnectOptions",
    "DeflateOptions",
    "OpenResult",
    "ProxyOptions",
    "ProxySetting",
    "TlsProtocol",
    "parse_close_options",
    "parse_connect_options",
]

#: The largest ping interval and pong timeout the original accepts, in seconds.
MAX_HEARTBEAT_SECONDS = 30000


@dataclass(frozen=True)
class ClientCert:
    """A client certificate for `wss` (PEM files), like OpenHarmony's `ClientCert`."""

    cert_path: str
    key_path: str
    key_password: str = ""


@dataclass(frozen=True)
class ProxyOptions:
    """An HTTP CONNECT proxy; hosts in `exclusion_list` are reached directly."""

    host: str
    port: int
    exclusion_list: tuple[str, ...] = ()


class TlsProtocol(IntEnum):
    """OpenHarmony's `webSocket.TlsProtocol` (API 26): the lowest TLS version to accept."""

    TLS_V_1_0 = 0
    TLS_V_1_1 = 1
    TLS_V_1_2 = 2
    TLS_V_1_3 = 3


@dataclass(frozen=True)
class DeflateOptions:
    """The permessage-deflate offer (RFC 7692 §7.1), an extension beyond OpenHarmony.

    Attributes:
        client_max_window_bits: the largest window this client compresses with (9-15); None
            offers the parameter without a value, letting the server choose (§7.1.2.2).
        server_max_window_bits: the largest window the server may compress with (8-15); None
            leaves it to the server.
        client_no_context_takeover: compress every message afresh (§7.1.1.2).
        server_no_context_takeover: ask the server to do the same (§7.1.1.1).
    """

    client_max_window_bits: int | None = None
    server_max_window_bits: int | None = None
    client_no_context_takeover: bool = False
    server_no_context_takeover: bool = False


#: "system" reads the http_proxy/https_proxy/no_proxy environment; "no-proxy" connects directly.
ProxySetting: TypeAlias = Literal["system", "no-proxy"] | ProxyOptions


@dataclass(frozen=True)
class ConnectOptions:
    """Everything `connect` can be told; the defaults are those of the README.

    Attributes:
        header: extra HTTP headers of the upgrade request.
        protocol: the `Sec-WebSocket-Protocol` offer, one name or a comma-separated list.
        ca_path: a PEM file of CA certificates to trust instead of the system's.
        client_cert: a client certificate for mutual TLS.
        proxy: "system", "no-proxy" or an explicit HTTP CONNECT proxy.
        skip_server_cert_verification: accept any server certificate and host name.
        ping_interval: seconds between keepalive pings; 0 disables them.
        pong_timeout: seconds a ping may wait for its pong before the link counts as lost; 0 waits
            forever.
        timeout: seconds that connecting, the handshake, or any single socket operation may take.
        close_timeout: seconds the closing handshake may wait for the peer.
        max_message_size: the largest message accepted, in bytes (larger fails with 1009); 0 means
            no limit. With compression, it bounds the inflated size.
        compression: offer permessage-deflate (RFC 7692) with these parameters; None (the
            default, like OpenHarmony) offers no extension. "deflate" is `DeflateOptions()`.
        min_support_tls_protocol: the lowest TLS version accepted for wss (OpenHarmony API 26);
            None keeps Python's default (TLS 1.2 on current OpenSSL), which 1.0 and 1.1 do not
            lower.
        support_origin_port: whether the `Origin` header keeps the URL's port (OpenHarmony API
            26); by default it is the scheme and host only.
        follow_redirects: follow a 301, 302, 303, 307 or 308 answer to the upgrade request (an
            extension beyond OpenHarmony; off by default, when a redirect fails the connect).
            Never from wss:// to ws://, at most `MAX_REDIRECTS` times; `Authorization`,
            `Cookie` and `Host` are not sent to another origin.
    """

    header: Mapping[str, str] = field(default_factory=dict)
    protocol: str | None = None
    ca_path: str | None = None
    client_cert: ClientCert | None = None
    proxy: ProxySetting = "system"
    skip_server_cert_verification: bool = False
    ping_interval: float = 30.0
    pong_timeout: float = 30.0
    timeout: float = 10.0
    close_timeout: float = 5.0
    max_message_size: int = 64 * 1024 * 1024
    compression: DeflateOptions | Literal["deflate"] | None = None
    min_support_tls_protocol: TlsProtocol | None = None
    support_origin_port: bool = False
    follow_redirects: bool = False

    @property
    def deflate(self) -> DeflateOptions | None:
        """The permessage-deflate offer, or None when compression is off."""
        if self.compression == "deflate":
            return DeflateOptions()
        return self.compression

    @property
    def subprotocols(self) -> list[str]:
        """The offered subprotocols, in order."""
        if not self.protocol:
            return []
        return [name.strip() for name in self.protocol.split(",") if name.strip()]


@dataclass(frozen=True)
class CloseOptions:
    """The status of a closing handshake this endpoint starts (RFC 6455 §7.4)."""

    code: int = 1000
    reason: str = ""


@dataclass(frozen=True)
class OpenResult:
    """The payload of `open` and `openInfo`: the handshake's status line, the negotiated
    subprotocol, the response headers, and the negotiated extensions (beyond OpenHarmony).

    `extensions` names the extensions in use (`("permessage-deflate",)` or empty); `compression`
    holds the parameters both sides agreed on, after RFC 7692 §7.1's rules. `url` is the URL
    that accepted the handshake and `redirected_from` the URLs that redirected to it, in order
    (with `follow_redirects`; beyond OpenHarmony).
    """

    status: int
    message: str
    protocol: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    extensions: tuple[str, ...] = ()
    compression: DeflateOptions | None = None
    url: str = ""
    redirected_from: tuple[str, ...] = ()


@dataclass(frozen=True)
class CloseResult:
    """The payload of `close`.

    `code` is the status of the first Close frame received (RFC 6455 §7.1.5), 1005 when it had
    none, 1006 when the connection ended without one, or the code this endpoint failed the
    connection with (1002, 1007, 1009). `was_clean` is True when the closing handshake completed.
    """

    code: int
    reason: str
    was_clean: bool


def _bad(message: str) -> BusinessError:
    return BusinessError(ErrorCode.PARAMETER, f"Parameter error: {message}")


def _expect_type(name: str, value: Any, kind: type | tuple[type, ...], what: str) -> Any:
    if not isinstance(value, kind) or (isinstance(value, bool) and bool not in _as_tuple(kind)):
        raise _bad(f"{name} must be {what}, got {type(value).__name__}")
    return value


def _as_tuple(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def _seconds(name: str, value: Any, upper: float = math.inf) -> float:
    number = float(_expect_type(name, value, (int, float), "a number of seconds"))
    if not 0 <= number <= upper:
        raise _bad(f"{name} must be between 0 and {upper:g}, got {number:g}")
    return number


def _positive_seconds(name: str, value: Any) -> float:
    number = _seconds(name, value)
    if number == 0:
        raise _bad(f"{name} must be more than 0")
    return number


def _header(value: Any) -> dict[str, str]:
    _expect_type("header", value, Mapping, "a mapping of names to strings")
    for name, item in value.items():
        if not isinstance(name, str) or not isinstance(item, str):
            raise _bad(f"header {name!r} must map a string to a string")
        if not name or any(c in name for c in ":\r\n") or any(c in item for c in "\r\n"):
            raise _bad(f"header {name!r} has a character not allowed in a header")
    return dict(value)


def _client_cert(value: Any) -> ClientCert:
    if isinstance(value, ClientCert):
        return value
    _expect_type("clientCert", value, Mapping, "a mapping with certPath and keyPath")
    unknown = set(value) - {"certPath", "keyPath", "keyPassword"}
    if unknown:
        raise _bad(f"clientCert has unknown keys {sorted(unknown)}")
    if "certPath" not in value or "keyPath" not in value:
        raise _bad("clientCert needs certPath and keyPath")
    return ClientCert(
        cert_path=_expect_type("clientCert.certPath", value["certPath"], str, "a path"),
        key_path=_expect_type("clientCert.keyPath", value["keyPath"], str, "a path"),
        key_password=_expect_type(
            "clientCert.keyPassword", value.get("keyPassword", ""), str, "a string"
        ),
    )


def _proxy(value: Any) -> ProxySetting:
    if value in ("system", "no-proxy") or isinstance(value, ProxyOptions):
        return value  # type: ignore[no-any-return]
    if isinstance(value, str):
        raise _bad(f"proxy must be 'system', 'no-proxy' or a mapping, got {value!r}")
    _expect_type("proxy", value, Mapping, "'system', 'no-proxy' or {host, port, exclusionList}")
    host = _expect_type("proxy.host", value.get("host"), str, "a host name")
    port = _expect_type("proxy.port", value.get("port"), int, "a port number")
    if not 0 < port < 65536:
        raise _bad(f"proxy.port must be between 1 and 65535, got {port}")
    exclusions = value.get("exclusionList", [])
    _expect_type("proxy.exclusionList", exclusions, (list, tuple), "a list of host names")
    return ProxyOptions(host=host, port=port, exclusion_list=tuple(str(h) for h in exclusions))


#: RFC 7692 §7.1.2: window bits are 8 to 15; zlib cannot compress with 8 (madler/zlib#171).
_WINDOW_BITS = {"client_max_window_bits": 9, "server_max_window_bits": 8}
_DEFLATE_FLAGS = ("client_no_context_takeover", "server_no_context_takeover")


def _compression(value: Any) -> DeflateOptions | None:
    """`compression`: None, "deflate", a `DeflateOptions`, or a mapping of RFC 7692 parameters."""
    if value is None or isinstance(value, DeflateOptions):
        return _checked_deflate(value)
    if isinstance(value, str):
        if value != "deflate":
            raise _bad(f"compression must be 'deflate' or a mapping, got {value!r}")
        return DeflateOptions()
    _expect_type("compression", value, Mapping, "'deflate' or a mapping of RFC 7692 parameters")
    known = (*_WINDOW_BITS, *_DEFLATE_FLAGS)
    unknown = [key for key in value if key not in known]
    if unknown:
        raise _bad(f"unknown compression parameter {unknown[0]!r}; known: {', '.join(known)}")
    return _checked_deflate(DeflateOptions(**value))


def _checked_deflate(options: DeflateOptions | None) -> DeflateOptions | None:
    if options is None:
        return None
    for name, lowest in _WINDOW_BITS.items():
        bits = getattr(options, name)
        if bits is None:
            continue
        _expect_type(f"compression.{name}", bits, int, "a number of bits")
        if not lowest <= bits <= 15:
            raise _bad(f"compression.{name} must be between {lowest} and 15, got {bits}")
    for name in _DEFLATE_FLAGS:
        _expect_type(f"compression.{name}", getattr(options, name), bool, "a boolean")
    return options


def _tls_protocol(value: Any) -> TlsProtocol | None:
    if value is None or isinstance(value, TlsProtocol):
        return value
    _expect_type("minSupportTlsProtocol", value, int, "a TlsProtocol (0 to 3)")
    if value not in set(TlsProtocol):
        raise _bad(f"minSupportTlsProtocol must be a TlsProtocol (0 to 3), got {value}")
    return TlsProtocol(value)


_PARSERS: dict[str, tuple[str, Any]] = {
    "header": ("header", _header),
    "protocol": ("protocol", lambda v: _expect_type("protocol", v, str, "a string")),
    "caPath": ("ca_path", lambda v: _expect_type("caPath", v, str, "a path")),
    "clientCert": ("client_cert", _client_cert),
    "proxy": ("proxy", _proxy),
    "skipServerCertVerification": (
        "skip_server_cert_verification",
        lambda v: _expect_type("skipServerCertVerification", v, bool, "a boolean"),
    ),
    "pingInterval": ("ping_interval", lambda v: _seconds("pingInterval", v, MAX_HEARTBEAT_SECONDS)),
    "pongTimeout": ("pong_timeout", lambda v: _seconds("pongTimeout", v, MAX_HEARTBEAT_SECONDS)),
    "timeout": ("timeout", lambda v: _positive_seconds("timeout", v)),
    "closeTimeout": ("close_timeout", lambda v: _positive_seconds("closeTimeout", v)),
    "maxMessageSize": (
        "max_message_size",
        lambda v: _expect_type("maxMessageSize", v, int, "a number of bytes"),
    ),
    "compression": ("compression", _compression),
    "minSupportTlsProtocol": ("min_support_tls_protocol", _tls_protocol),
    "supportOriginPort": (
        "support_origin_port",
        lambda v: _expect_type("supportOriginPort", v, bool, "a boolean"),
    ),
    "followRedirects": (
        "follow_redirects",
        lambda v: _expect_type("followRedirects", v, bool, "a boolean"),
    ),
}


def parse_connect_options(options: Any) -> ConnectOptions:
    """Turn `connect`'s options argument into `ConnectOptions`; raise `BusinessError` 401 if bad."""
    if options is None:
        return ConnectOptions()
    if isinstance(options, ConnectOptions):
        return _checked_typed(options)
    if not isinstance(options, Mapping):
        raise _bad(f"options must be a mapping or ConnectOptions, got {type(options).__name__}")
    unknown = [key for key in options if key not in _PARSERS]
    if unknown:
        raise _bad(f"unknown option {unknown[0]!r}; known: {', '.join(_PARSERS)}")
    fields = {_PARSERS[key][0]: _PARSERS[key][1](value) for key, value in options.items()}
    if fields.get("max_message_size", 0) < 0:
        raise _bad("maxMessageSize must not be negative")
    return _checked_typed(ConnectOptions(**fields))


def _checked_typed(options: ConnectOptions) -> ConnectOptions:
    """The typed form, with the fields of issue 17 checked as the dict form checks them."""
    compression = _compression(options.compression)
    _tls_protocol(options.min_support_tls_protocol)
    _expect_type("support_origin_port", options.support_origin_port, bool, "a boolean")
    _expect_type("follow_redirects", options.follow_redirects, bool, "a boolean")
    if compression is not None and any(
        name.lower() == "sec-websocket-extensions" for name in options.header
    ):
        raise _bad("header Sec-WebSocket-Extensions conflicts with compression, which sets it")
    if compression is options.compression:
        return options
    return dataclasses.replace(options, compression=compression)


def parse_close_options(options: Any) -> CloseOptions:
    """Turn `close`'s options into `CloseOptions`; raise `BusinessError` 401 if bad."""
    if options is None:
        return CloseOptions()
    if isinstance(options, CloseOptions):
        code, reason = options.code, options.reason
    elif isinstance(options, Mapping):
        unknown = set(options) - {"code", "reason"}
        if unknown:
            raise _bad(f"unknown close option {sorted(unknown)[0]!r}; known: code, reason")
        code = _expect_type("code", options.get("code", 1000), int, "an integer")
        reason = _expect_type("reason", options.get("reason", ""), str, "a string")
    else:
        raise _bad(f"options must be a mapping or CloseOptions, got {type(options).__name__}")
    problem = close_code_problem(code) or close_reason_problem(reason)
    if problem is not None:
        raise _bad(problem)
    return CloseOptions(code=code, reason=reason)
