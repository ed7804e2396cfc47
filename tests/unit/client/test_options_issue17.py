"""Options of issue 17: `compression` (RFC 7692), `minSupportTlsProtocol`, `supportOriginPort`."""

from __future__ import annotations

from typing import Any

import pytest

from runner.client import ConnectOptions, DeflateOptions, TlsProtocol
from runner.client.deflate import offer
from runner.client.options import parse_connect_options
from runner.errors import BusinessError


def bad(options: Any) -> str:
    with pytest.raises(BusinessError) as caught:
        parse_connect_options(options)
    assert caught.value.code == 401
    assert caught.value.message.startswith("Parameter error: ")
    return caught.value.message


def test_defaults_offer_nothing_new() -> None:
    options = parse_connect_options({})
    assert options.compression is None and options.deflate is None
    assert options.min_support_tls_protocol is None
    assert options.support_origin_port is False


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("deflate", DeflateOptions()),
        (None, None),
        ({}, DeflateOptions()),
        ({"client_max_window_bits": 9, "server_max_window_bits": 8}, DeflateOptions(9, 8)),
        (
            {"client_no_context_takeover": True, "server_no_context_takeover": True},
            DeflateOptions(None, None, True, True),
        ),
        (DeflateOptions(15, 15), DeflateOptions(15, 15)),
    ],
)
def test_compression_in_the_dict_form(value: Any, expected: DeflateOptions | None) -> None:
    assert parse_connect_options({"compression": value}).deflate == expected


def test_compression_in_the_typed_form() -> None:
    typed = parse_connect_options(ConnectOptions(compression="deflate"))
    assert typed.compression == DeflateOptions()
    assert typed.deflate == DeflateOptions()
    kept = ConnectOptions(compression=DeflateOptions(10))
    assert parse_connect_options(kept) is kept


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("gzip", "compression must be 'deflate' or a mapping, got 'gzip'"),
        (True, "compression must be 'deflate' or a mapping of RFC 7692 parameters, got bool"),
        ({"client_max_window": 9}, "unknown compression parameter 'client_max_window'; known"),
        ({"client_max_window_bits": 8}, "client_max_window_bits must be between 9 and 15, got 8"),
        ({"client_max_window_bits": 16}, "between 9 and 15, got 16"),
        ({"server_max_window_bits": 7}, "server_max_window_bits must be between 8 and 15, got 7"),
        ({"server_max_window_bits": "12"}, "must be a number of bits, got str"),
        ({"server_max_window_bits": True}, "must be a number of bits, got bool"),
        ({"client_no_context_takeover": 1}, "client_no_context_takeover must be a boolean"),
        (DeflateOptions(server_no_context_takeover="yes"), "must be a boolean, got str"),  # type: ignore[arg-type]
    ],
)
def test_bad_compression_is_401(value: Any, says: str) -> None:
    assert says in bad({"compression": value})


def test_bad_compression_in_the_typed_form_is_401() -> None:
    message = bad(ConnectOptions(compression="zstd"))  # type: ignore[arg-type]
    assert "compression must be 'deflate' or a mapping, got 'zstd'" in message


def test_an_extensions_header_conflicts_with_compression() -> None:
    options = {"compression": "deflate", "header": {"sec-websocket-extensions": "x"}}
    assert "header Sec-WebSocket-Extensions conflicts with compression" in bad(options)
    assert parse_connect_options({"header": {"Sec-WebSocket-Extensions": "x"}}).deflate is None


def test_the_offer_text() -> None:
    assert offer(DeflateOptions()) == "permessage-deflate; client_max_window_bits"
    assert offer(DeflateOptions(12, 10, True)) == (
        "permessage-deflate; client_no_context_takeover; server_max_window_bits=10; "
        "client_max_window_bits=12"
    )


@pytest.mark.parametrize("value", [0, 1, 2, 3, TlsProtocol.TLS_V_1_3])
def test_min_support_tls_protocol(value: Any) -> None:
    parsed = parse_connect_options({"minSupportTlsProtocol": value}).min_support_tls_protocol
    assert parsed is TlsProtocol(value)


@pytest.mark.parametrize(
    ("value", "says"),
    [
        (4, "minSupportTlsProtocol must be a TlsProtocol (0 to 3), got 4"),
        (-1, "got -1"),
        ("TLS_V_1_2", "minSupportTlsProtocol must be a TlsProtocol (0 to 3), got str"),
        (True, "got bool"),
        (2.0, "got float"),
    ],
)
def test_bad_min_support_tls_protocol_is_401(value: Any, says: str) -> None:
    assert says in bad({"minSupportTlsProtocol": value})
    assert says.split(", got")[-1] in bad(ConnectOptions(min_support_tls_protocol=value))


def test_support_origin_port() -> None:
    assert parse_connect_options({"supportOriginPort": True}).support_origin_port is True
    assert "supportOriginPort must be a boolean, got int" in bad({"supportOriginPort": 1})
    assert "support_origin_port must be a boolean" in bad(ConnectOptions(support_origin_port="y"))  # type: ignore[arg-type]
