"""`runner.client.options`: OpenHarmony-style option dicts become typed options, or 401."""

from __future__ import annotations

from typing import Any

import pytest

from runner.client.options import (
    ClientCert,
    CloseOptions,
    ConnectOptions,
    ProxyOptions,
    parse_close_options,
    parse_connect_options,
)
from runner.errors import BusinessError


def bad(parse: Any, options: Any) -> BusinessError:
    with pytest.raises(BusinessError) as caught:
        parse(options)
    assert caught.value.code == 401
    assert caught.value.message.startswith("Parameter error: ")
    return caught.value


# -- connect options -------------------------------------------------------------------------


def test_no_options_are_the_defaults() -> None:
    options = parse_connect_options(None)
    assert options == ConnectOptions()
    assert (options.ping_interval, options.pong_timeout) == (30.0, 30.0)
    assert options.proxy == "system" and options.max_message_size == 64 * 2**20
    assert parse_connect_options({}) == ConnectOptions()


def test_typed_options_pass_through() -> None:
    typed = ConnectOptions(protocol="chat", ping_interval=0)
    assert parse_connect_options(typed) is typed


def test_every_key_maps_to_its_field() -> None:
    options = parse_connect_options(
        {
            "header": {"X-A": "1"},
            "protocol": "chat, superchat",
            "caPath": "/ca.pem",
            "clientCert": {"certPath": "/c.pem", "keyPath": "/k.pem", "keyPassword": "pw"},
            "proxy": {"host": "proxy.test", "port": 3128, "exclusionList": ["a.test"]},
            "skipServerCertVerification": True,
            "pingInterval": 5,
            "pongTimeout": 2.5,
            "timeout": 3,
            "closeTimeout": 1.5,
            "maxMessageSize": 1024,
        }
    )
    assert options == ConnectOptions(
        header={"X-A": "1"},
        protocol="chat, superchat",
        ca_path="/ca.pem",
        client_cert=ClientCert("/c.pem", "/k.pem", "pw"),
        proxy=ProxyOptions("proxy.test", 3128, ("a.test",)),
        skip_server_cert_verification=True,
        ping_interval=5.0,
        pong_timeout=2.5,
        timeout=3.0,
        close_timeout=1.5,
        max_message_size=1024,
    )
    assert isinstance(options.ping_interval, float)


def test_client_cert_password_defaults_to_empty() -> None:
    options = parse_connect_options({"clientCert": {"certPath": "c", "keyPath": "k"}})
    assert options.client_cert == ClientCert("c", "k", "")


@pytest.mark.parametrize("proxy", ["system", "no-proxy", ProxyOptions("h", 1)])
def test_proxy_settings(proxy: Any) -> None:
    assert parse_connect_options({"proxy": proxy}).proxy == proxy


def test_proxy_exclusion_list_defaults_to_empty() -> None:
    options = parse_connect_options({"proxy": {"host": "h", "port": 65535}})
    assert options.proxy == ProxyOptions("h", 65535, ())


@pytest.mark.parametrize(
    ("protocol", "offered"),
    [(None, []), ("", []), ("chat", ["chat"]), (" a , b,,c ", ["a", "b", "c"])],
)
def test_subprotocols_from_the_protocol_string(protocol: str | None, offered: list[str]) -> None:
    assert ConnectOptions(protocol=protocol).subprotocols == offered


@pytest.mark.parametrize("name", ["pingInterval", "pongTimeout"])
@pytest.mark.parametrize("value", [0, 0.5, 30000])
def test_heartbeat_range(name: str, value: float) -> None:
    parse_connect_options({name: value})


BAD_CONNECT_OPTIONS: list[tuple[Any, str]] = [
    ("header", "options must be a mapping"),
    (["header"], "options must be a mapping"),
    ({"headers": {}}, "unknown option 'headers'"),
    ({"ping_interval": 1}, "unknown option 'ping_interval'"),
    ({"header": ["X-A: 1"]}, "header must be"),
    ({"header": {"X-A": 1}}, "header 'X-A'"),
    ({"header": {1: "a"}}, "header 1"),
    ({"header": {"": "a"}}, "not allowed"),
    ({"header": {"X:A": "a"}}, "not allowed"),
    ({"header": {"X-A": "a\nb"}}, "not allowed"),
    ({"protocol": 1}, "protocol must be a string"),
    ({"caPath": None}, "caPath must be a path"),
    ({"clientCert": "c.pem"}, "clientCert must be"),
    ({"clientCert": {"certPath": "c"}}, "needs certPath and keyPath"),
    ({"clientCert": {"certPath": "c", "keyPath": "k", "pw": "x"}}, "unknown keys"),
    ({"clientCert": {"certPath": 1, "keyPath": "k"}}, "clientCert.certPath"),
    ({"clientCert": {"certPath": "c", "keyPath": "k", "keyPassword": 1}}, "keyPassword"),
    ({"proxy": "none"}, "proxy must be"),
    ({"proxy": None}, "proxy must be"),
    ({"proxy": {"port": 1}}, "proxy.host"),
    ({"proxy": {"host": "h"}}, "proxy.port"),
    ({"proxy": {"host": "h", "port": 0}}, "between 1 and 65535"),
    ({"proxy": {"host": "h", "port": 65536}}, "between 1 and 65535"),
    ({"proxy": {"host": "h", "port": True}}, "proxy.port"),
    ({"proxy": {"host": "h", "port": 1, "exclusionList": "a"}}, "exclusionList"),
    ({"skipServerCertVerification": 1}, "skipServerCertVerification must be a boolean"),
    ({"pingInterval": "30"}, "pingInterval must be a number"),
    ({"pingInterval": True}, "pingInterval must be a number"),
    ({"pingInterval": -0.1}, "between 0 and 30000"),
    ({"pingInterval": 30001}, "between 0 and 30000"),
    ({"pongTimeout": float("nan")}, "between 0 and 30000"),
    ({"timeout": 0}, "timeout must be more than 0"),
    ({"timeout": -1}, "timeout must be between"),
    ({"closeTimeout": 0}, "closeTimeout must be more than 0"),
    ({"maxMessageSize": 1.5}, "maxMessageSize must be"),
    ({"maxMessageSize": -1}, "must not be negative"),
    ({"maxMessageSize": False}, "maxMessageSize must be"),
]


@pytest.mark.parametrize(("options", "says"), BAD_CONNECT_OPTIONS)
def test_bad_connect_options_are_401(options: Any, says: str) -> None:
    error = bad(parse_connect_options, options)
    assert says in error.message


def test_unknown_option_lists_the_known_ones() -> None:
    error = bad(parse_connect_options, {"pingintervall": 1})
    assert "pingInterval" in error.message and "maxMessageSize" in error.message


# -- close options ---------------------------------------------------------------------------


def test_close_defaults() -> None:
    assert parse_close_options(None) == CloseOptions(1000, "")
    assert parse_close_options({}) == CloseOptions(1000, "")
    assert parse_close_options({"reason": "r"}) == CloseOptions(1000, "r")


def test_close_options_typed_and_mapping() -> None:
    assert parse_close_options(CloseOptions(4000, "x")) == CloseOptions(4000, "x")
    assert parse_close_options({"code": 3000, "reason": "y"}) == CloseOptions(3000, "y")


def test_close_reason_limit_counts_utf8_bytes() -> None:
    assert parse_close_options({"reason": "é" * 61 + "x"}).reason == "é" * 61 + "x"  # 123
    assert "123 UTF-8 bytes" in bad(parse_close_options, {"reason": "é" * 62}).message  # 124
    assert parse_close_options({"reason": "x" * 123}).reason == "x" * 123
    bad(parse_close_options, {"reason": "x" * 124})
    bad(parse_close_options, CloseOptions(1000, "x" * 124))  # typed options are checked too


@pytest.mark.parametrize("code", [999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 0, -1])
def test_unsendable_close_codes_are_401(code: int) -> None:
    assert "cannot be sent" in bad(parse_close_options, {"code": code}).message
    bad(parse_close_options, CloseOptions(code))


@pytest.mark.parametrize(
    "options",
    [{"code": "1000"}, {"code": 1000.0}, {"code": True}, {"reason": b"x"}, {"c": 1}, 1],
)
def test_bad_close_options_are_401(options: Any) -> None:
    bad(parse_close_options, options)


def test_close_reason_with_a_lone_surrogate_is_401() -> None:
    assert "valid Unicode" in bad(parse_close_options, {"reason": "\udc00"}).message
