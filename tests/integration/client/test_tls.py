"""wss with certificates made by trustme: verification, caPath, host names, client certificates."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import trustme
from websockets.sync.server import Server

from runner.client import BusinessError, ClientCert, ConnectOptions, create_websocket
from tests.integration.client.recorder import Recorder, outcome
from tests.support import echo, timeout, url_of, websockets_server


@dataclass(frozen=True)
class Pki:
    """A CA and the PEM files the tests hand to the client."""

    ca: trustme.CA
    ca_path: str
    client_cert_path: str
    client_key_path: str


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    folder = tmp_path_factory.mktemp("pki")
    ca = trustme.CA()
    ca.cert_pem.write_to_path(str(folder / "ca.pem"))
    client = ca.issue_cert("client@example.org", common_name="wsrun test client")
    client.cert_chain_pems[0].write_to_path(str(folder / "client.pem"))
    client.private_key_pem.write_to_path(str(folder / "client.key"))
    return Pki(ca, str(folder / "ca.pem"), str(folder / "client.pem"), str(folder / "client.key"))


def server_context(ca: trustme.CA, *hosts: str, client_ca: trustme.CA | None = None) -> Any:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert(*hosts).configure_cert(context)
    if client_ca is not None:
        context.verify_mode = ssl.CERT_REQUIRED
        client_ca.configure_trust(context)
    return context


@pytest.fixture
def tls_server(pki: Pki) -> Iterator[Server]:
    context = server_context(pki.ca, "127.0.0.1", "localhost")
    with websockets_server(echo, ssl=context) as server:
        yield server


def wss(server: Server) -> str:
    return url_of(server).replace("ws://", "wss://", 1)


def connect(url: str, options: Any) -> tuple[Any, Recorder, Any]:
    """Connect, exchange one message when open, close; return (error, recorder, ws)."""
    ws = create_websocket()
    recorder = Recorder(ws)
    error, _ = outcome(ws.connect(url, options), None)
    if error is None:
        ws.send("over tls")
        assert recorder.messages(1) == ["over tls"]
        ws.close()
        assert recorder.closed().was_clean
    assert ws.wait_closed(timeout())
    return error, recorder, ws


def assert_tls_failure(error: Any, recorder: Recorder) -> None:
    assert isinstance(error, BusinessError)
    assert (error.code, error.data) == (200, "0")
    assert recorder.names() == ["error"]  # a failed handshake: no close event


def test_default_verification_rejects_an_unknown_ca(tls_server: Server) -> None:
    error, recorder, _ = connect(wss(tls_server), None)
    assert_tls_failure(error, recorder)
    assert "certificate" in error.message


def test_ca_path_trusting_the_ca_works(tls_server: Server, pki: Pki) -> None:
    error, recorder, _ = connect(wss(tls_server), {"caPath": pki.ca_path})
    assert error is None
    assert recorder.names()[:2] == ["headerReceive", "open"]


def test_typed_options_work_too(tls_server: Server, pki: Pki) -> None:
    error, _, _ = connect(wss(tls_server), ConnectOptions(ca_path=pki.ca_path))
    assert error is None


def test_certificate_for_another_host_name_fails(pki: Pki) -> None:
    # Stricter than OpenHarmony, which skips the host name check.
    context = server_context(pki.ca, "other.example")
    with websockets_server(echo, ssl=context) as server:
        error, recorder, _ = connect(wss(server), {"caPath": pki.ca_path})
    assert_tls_failure(error, recorder)
    assert "127.0.0.1" in error.message or "mismatch" in error.message


def test_a_ca_path_of_another_ca_fails(tls_server: Server, tmp_path: Path) -> None:
    other = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other))
    error, recorder, _ = connect(wss(tls_server), {"caPath": str(other)})
    assert_tls_failure(error, recorder)


def test_a_ca_path_that_is_not_pem_fails_with_200(tls_server: Server, tmp_path: Path) -> None:
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    error, recorder, _ = connect(wss(tls_server), {"caPath": str(junk)})
    assert_tls_failure(error, recorder)


def test_skip_server_cert_verification_accepts_unknown_ca_and_host(pki: Pki) -> None:
    context = server_context(trustme.CA(), "other.example")
    with websockets_server(echo, ssl=context) as server:
        error, recorder, _ = connect(wss(server), {"skipServerCertVerification": True})
    assert error is None
    assert recorder.opened().status == 101


def test_skip_false_is_the_default(tls_server: Server) -> None:
    error, recorder, _ = connect(wss(tls_server), {"skipServerCertVerification": False})
    assert_tls_failure(error, recorder)


@pytest.fixture
def mutual_tls_server(pki: Pki) -> Iterator[Server]:
    context = server_context(pki.ca, "127.0.0.1", client_ca=pki.ca)
    with websockets_server(echo, ssl=context) as server:
        yield server


def test_server_requiring_a_client_certificate_rejects_a_client_without_one(
    mutual_tls_server: Server, pki: Pki, caplog: pytest.LogCaptureFixture
) -> None:
    error, recorder, _ = connect(wss(mutual_tls_server), {"caPath": pki.ca_path})
    assert_tls_failure(error, recorder)


def test_server_requiring_a_client_certificate_accepts_client_cert(
    mutual_tls_server: Server, pki: Pki
) -> None:
    options = {
        "caPath": pki.ca_path,
        "clientCert": {"certPath": pki.client_cert_path, "keyPath": pki.client_key_path},
    }
    error, recorder, _ = connect(wss(mutual_tls_server), options)
    assert error is None
    assert recorder.names() == ["headerReceive", "open", "message", "dataEnd", "close"]


def test_client_cert_from_another_ca_is_rejected(
    mutual_tls_server: Server, pki: Pki, tmp_path: Path
) -> None:
    stranger = trustme.CA().issue_cert("stranger@example.org")
    stranger.cert_chain_pems[0].write_to_path(str(tmp_path / "c.pem"))
    stranger.private_key_pem.write_to_path(str(tmp_path / "c.key"))
    options = ConnectOptions(
        ca_path=pki.ca_path,
        client_cert=ClientCert(str(tmp_path / "c.pem"), str(tmp_path / "c.key")),
    )
    error, recorder, _ = connect(wss(mutual_tls_server), options)
    assert_tls_failure(error, recorder)


def test_client_cert_with_a_key_that_does_not_match_fails_with_200(
    mutual_tls_server: Server, pki: Pki, tmp_path: Path
) -> None:
    other = pki.ca.issue_cert("other@example.org")
    other.private_key_pem.write_to_path(str(tmp_path / "other.key"))
    options = {
        "caPath": pki.ca_path,
        "clientCert": {"certPath": pki.client_cert_path, "keyPath": str(tmp_path / "other.key")},
    }
    error, recorder, _ = connect(wss(mutual_tls_server), options)
    assert_tls_failure(error, recorder)


def test_tls_link_lost_after_open_is_1006(pki: Pki) -> None:
    def drop(conn: Any) -> None:
        conn.recv()
        conn.socket.close()

    context = server_context(pki.ca, "127.0.0.1")
    with websockets_server(drop, ssl=context) as server:
        ws = create_websocket()
        recorder = Recorder(ws)
        ws.connect(wss(server), {"caPath": pki.ca_path}).result(timeout())
        ws.send("go")
        closed = recorder.closed()
    assert (closed.code, closed.was_clean) == (1006, False)
    assert recorder.names()[-2:] == ["error", "close"]


def test_large_messages_over_tls(tls_server: Server, pki: Pki) -> None:
    ws = create_websocket()
    recorder = Recorder(ws)
    ws.connect(wss(tls_server), {"caPath": pki.ca_path}).result(timeout())
    big = bytes(range(256)) * 2048  # 512 KiB, many TLS records
    for _ in range(3):
        ws.send(big)
    assert recorder.messages(3) == [big, big, big]
    ws.close()
    assert recorder.closed().was_clean


# -- minSupportTlsProtocol (OpenHarmony API 26) ----------------------------------------------


def tls12_server(pki: Pki) -> Any:
    context = server_context(pki.ca, "127.0.0.1")
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    return websockets_server(echo, ssl=context)


@pytest.mark.parametrize("minimum", [None, 0, 1, 2])
def test_min_tls_up_to_the_servers_version_connects(pki: Pki, minimum: int | None) -> None:
    with tls12_server(pki) as server:
        ws = create_websocket()
        options: dict[str, Any] = {"caPath": pki.ca_path}
        if minimum is not None:
            options["minSupportTlsProtocol"] = minimum
        error, value = outcome(ws.connect(wss(server), options), None)
        assert (error, value) == (None, True)
        ws.close()
        assert ws.wait_closed(timeout())


def test_min_tls_above_the_servers_version_fails(pki: Pki) -> None:
    with tls12_server(pki) as server:
        ws = create_websocket()
        recorder = Recorder(ws)
        options = {"caPath": pki.ca_path, "minSupportTlsProtocol": 3}
        error, _ = outcome(ws.connect(wss(server), options), None)
        assert isinstance(error, BusinessError)
        assert (error.code, error.data) == (200, "0")
        assert error.message.startswith("tls error: ")
        assert recorder.names() == ["error"]
