"""`wsrun serve --tls`: wss:// with a throwaway CA; `/tls` names the client certificate."""

from __future__ import annotations

import json
import re
import signal
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.sync.client import connect

from runner.server import TestServer
from runner.server.tls import TLS_FILES, make_server_context
from tests.support import timeout


@pytest.fixture(scope="module")
def tls_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("tls")


@pytest.fixture(scope="module")
def tls_server(tls_dir: Path) -> Iterator[TestServer]:
    with TestServer(ssl_context=make_server_context("127.0.0.1", tls_dir)) as running:
        yield running


def _client_context(tls_dir: Path, *, with_cert: bool) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(tls_dir / "ca.pem"))
    if with_cert:
        context.load_cert_chain(str(tls_dir / "client.pem"), str(tls_dir / "client.key"))
    return context


@pytest.mark.parametrize(("with_cert", "client"), [(True, "wsrun-client"), (False, None)])
def test_tls_endpoint_names_the_client_certificate_and_echoes(
    tls_server: TestServer, tls_dir: Path, with_cert: bool, client: str | None
) -> None:
    assert tls_server.url.startswith("wss://127.0.0.1:")
    context = _client_context(tls_dir, with_cert=with_cert)
    with connect(f"{tls_server.url}/tls", ssl=context, open_timeout=timeout()) as ws:
        assert json.loads(ws.recv(timeout=timeout())) == {"type": "tls", "client": client}
        ws.send("over tls")
        assert ws.recv(timeout=timeout()) == "over tls"


def test_a_client_that_does_not_trust_the_ca_is_refused(tls_server: TestServer) -> None:
    with pytest.raises(ssl.SSLCertVerificationError):
        connect(f"{tls_server.url}/echo", ssl=ssl.create_default_context(), open_timeout=timeout())


def test_serve_tls_writes_its_certificates_and_prints_wss(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "runner", "serve", "--port", "0", "--tls"]
    proc = subprocess.Popen(
        [*command, "--tls-dir", str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        match = re.fullmatch(
            r"wsrun test server listening on (wss://127\.0\.0\.1:\d+), certificates in (.+)\n", line
        )
        assert match and match[2] == str(tmp_path), line
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted(TLS_FILES)
        context = _client_context(tmp_path, with_cert=True)
        with connect(f"{match[1]}/echo", ssl=context, open_timeout=timeout()) as ws:
            ws.send("hi")
            assert ws.recv(timeout=timeout()) == "hi"
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout(5)) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=timeout())
