"""HTTP CONNECT proxies: an explicit proxy, exclusionList, 'system' and 'no-proxy'.

The proxy is a real one, proxy.py, run as a subprocess on 127.0.0.1 with a port of its choosing.
Its access log tells which tunnels it opened.
"""

from __future__ import annotations

import os
import signal
import socket
import ssl
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import trustme
from websockets.sync.server import Server

from runner.client import BusinessError, ConnectOptions, ProxyOptions, create_websocket
from tests.integration.client.recorder import Recorder, free_port, outcome, wait_until
from tests.support import echo, timeout, url_of, websockets_server


@dataclass(frozen=True)
class Proxy:
    """A running proxy.py and where it logs."""

    port: int
    log: Path

    def tunnels(self) -> str:
        """The access log so far (one `CONNECT host:port` line per tunnel)."""
        return self.log.read_text() if self.log.exists() else ""


def _accepts(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.2)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Stop proxy.py and its acceptor processes (its own session, so its own process group)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if process.poll() is not None:
            return
        os.killpg(process.pid, sig)
        try:
            process.wait(timeout(2))
        except subprocess.TimeoutExpired:
            continue


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    folder = tmp_path_factory.mktemp("proxy")
    port_file, log = folder / "port", folder / "access.log"
    command = [sys.executable, "-m", "proxy", "--hostname", "127.0.0.1", "--port", "0"]
    command += ["--port-file", str(port_file), "--num-acceptors", "1", "--num-workers", "1"]
    command += ["--log-level", "INFO", "--log-file", str(log)]
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        assert wait_until(lambda: port_file.exists() and port_file.read_text().strip() != "")
        port = int(port_file.read_text().split()[0])
        assert wait_until(lambda: _accepts(port)), "proxy.py does not accept connections"
        yield Proxy(port, log)
    finally:
        _stop(process)


@pytest.fixture
def no_proxy_environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("http_proxy", "https_proxy", "no_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    return monkeypatch


def exchange(url: str, options: Any) -> Any:
    """Connect, echo one message, close; return the connect error (None when it opened)."""
    ws = create_websocket()
    recorder = Recorder(ws)
    error, _ = outcome(ws.connect(url, options), None)
    if error is None:
        ws.send("through")
        assert recorder.messages(1) == ["through"]
        ws.close()
        assert recorder.closed().was_clean
    else:
        assert recorder.names() == ["error"]
    assert ws.wait_closed(timeout())
    return error


def target(server: Server) -> str:
    host, port = server.socket.getsockname()[:2]
    return f"CONNECT {host}:{port}"


def test_connect_through_an_explicit_proxy(
    proxy: Proxy, echo_server: Server, no_proxy_environment: pytest.MonkeyPatch
) -> None:
    options = {"proxy": {"host": "127.0.0.1", "port": proxy.port}}
    assert exchange(url_of(echo_server), options) is None
    assert wait_until(lambda: target(echo_server) in proxy.tunnels())


def test_connect_through_a_typed_proxy(
    proxy: Proxy, echo_server: Server, no_proxy_environment: pytest.MonkeyPatch
) -> None:
    options = ConnectOptions(proxy=ProxyOptions("127.0.0.1", proxy.port))
    assert exchange(url_of(echo_server, "/typed"), options) is None
    assert wait_until(lambda: target(echo_server) in proxy.tunnels())


def test_an_explicit_proxy_that_is_down_fails_with_200(
    echo_server: Server, no_proxy_environment: pytest.MonkeyPatch
) -> None:
    error = exchange(url_of(echo_server), {"proxy": {"host": "127.0.0.1", "port": free_port()}})
    assert isinstance(error, BusinessError)
    assert (error.code, error.data) == (200, "0")


def test_exclusion_list_sends_a_host_direct(
    echo_server: Server, no_proxy_environment: pytest.MonkeyPatch
) -> None:
    dead = {"host": "127.0.0.1", "port": free_port(), "exclusionList": ["127.0.0.1"]}
    assert exchange(url_of(echo_server), {"proxy": dead}) is None


def test_exclusion_list_of_other_hosts_still_uses_the_proxy(
    proxy: Proxy, echo_server: Server, no_proxy_environment: pytest.MonkeyPatch
) -> None:
    options = {"proxy": {"host": "127.0.0.1", "port": proxy.port, "exclusionList": ["x.test"]}}
    assert exchange(url_of(echo_server), options) is None
    assert wait_until(lambda: target(echo_server) in proxy.tunnels())


@pytest.mark.parametrize("options", [{"proxy": "system"}, {}, None])
def test_system_follows_http_proxy_in_the_environment(
    options: Any, proxy: Proxy, echo_server: Server, no_proxy_environment: pytest.MonkeyPatch
) -> None:
    no_proxy_environment.setenv("http_proxy", f"http://127.0.0.1:{proxy.port}")
    assert exchange(url_of(echo_server), options) is None
    assert wait_until(lambda: target(echo_server) in proxy.tunnels())


def test_system_with_a_dead_http_proxy_fails(
    echo_server: Server, no_proxy_environment: pytest.MonkeyPatch
) -> None:
    no_proxy_environment.setenv("http_proxy", f"http://127.0.0.1:{free_port()}")
    error = exchange(url_of(echo_server), {"proxy": "system"})
    assert isinstance(error, BusinessError) and error.code == 200


def test_system_respects_no_proxy_in_the_environment(
    echo_server: Server, no_proxy_environment: pytest.MonkeyPatch
) -> None:
    no_proxy_environment.setenv("http_proxy", f"http://127.0.0.1:{free_port()}")
    no_proxy_environment.setenv("no_proxy", "127.0.0.1")
    assert exchange(url_of(echo_server), {"proxy": "system"}) is None


def test_no_proxy_ignores_the_environment(
    echo_server: Server, no_proxy_environment: pytest.MonkeyPatch
) -> None:
    no_proxy_environment.setenv("http_proxy", f"http://127.0.0.1:{free_port()}")
    assert exchange(url_of(echo_server), {"proxy": "no-proxy"}) is None


def test_an_explicit_proxy_ignores_no_proxy_in_the_environment(
    proxy: Proxy, echo_server: Server, no_proxy_environment: pytest.MonkeyPatch
) -> None:
    no_proxy_environment.setenv("no_proxy", "127.0.0.1")
    options = {"proxy": {"host": "127.0.0.1", "port": proxy.port}}
    assert exchange(url_of(echo_server, "/explicit"), options) is None
    assert wait_until(lambda: target(echo_server) in proxy.tunnels())


def test_an_explicit_proxy_ignores_http_proxy_in_the_environment(
    proxy: Proxy, echo_server: Server, no_proxy_environment: pytest.MonkeyPatch
) -> None:
    no_proxy_environment.setenv("http_proxy", f"http://127.0.0.1:{free_port()}")
    options = {"proxy": {"host": "127.0.0.1", "port": proxy.port}}
    assert exchange(url_of(echo_server), options) is None


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[Server, str]]:
    ca = trustme.CA()
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    with websockets_server(echo, ssl=context) as server:
        yield server, str(tmp_path / "ca.pem")


def test_wss_through_an_explicit_proxy(
    proxy: Proxy, tls_server: tuple[Server, str], no_proxy_environment: pytest.MonkeyPatch
) -> None:
    server, ca_path = tls_server
    url = url_of(server).replace("ws://", "wss://", 1)
    options = {"caPath": ca_path, "proxy": {"host": "127.0.0.1", "port": proxy.port}}
    assert exchange(url, options) is None
    assert wait_until(lambda: target(server) in proxy.tunnels())


def test_wss_with_system_follows_https_proxy(
    proxy: Proxy, tls_server: tuple[Server, str], no_proxy_environment: pytest.MonkeyPatch
) -> None:
    server, ca_path = tls_server
    no_proxy_environment.setenv("https_proxy", f"http://127.0.0.1:{proxy.port}")
    no_proxy_environment.setenv("http_proxy", f"http://127.0.0.1:{free_port()}")  # not for wss
    url = url_of(server).replace("ws://", "wss://", 1)
    assert exchange(url, {"caPath": ca_path, "proxy": "system"}) is None
    assert wait_until(lambda: target(server) in proxy.tunnels())
