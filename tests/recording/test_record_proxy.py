"""`wsrun record --listen --upstream`: a Python client through the proxy to the built-in server."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
import yaml
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect
from websockets.sync.server import ServerConnection

from runner.cli import main
from runner.server import TestServer
from tests.recording.lines import Wsrun
from tests.support import timeout, url_of, websockets_server


def test_a_proxied_session_is_forwarded_unchanged_and_becomes_scenarios_that_pass(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with TestServer() as server:
        port = server.port
        proxy = Wsrun("record", "--listen", "127.0.0.1:0", "--upstream", server.url,
                      "-o", str(tmp_path / "p.yaml"), "--no-color")  # fmt: skip
        try:
            line = proxy.wait_for("proxy listening on ")
            address = line.split("proxy listening on ")[1].split(",")[0]
            with connect(f"{address}/echo", open_timeout=timeout(5)) as ws:
                ws.send("hello")
                assert ws.recv(timeout(5)) == "hello"
                ws.send(bytes(range(256)))
                assert ws.recv(timeout(5)) == bytes(range(256))  # byte for byte
                ws.close(4000, "client bye")
            proxy.wait_for("wrote ")
            with connect(f"{address}/subprotocol", subprotocols=["chat.v1"]) as ws:  # type: ignore[list-item]
                assert ws.subprotocol == "chat.v1"
                assert ws.recv(timeout(5)) == '{"type":"subprotocol","selected":"chat.v1"}'
            proxy.wait_for("wrote ")
            with (
                connect(f"{address}/close?code=4001&reason=go%20away") as ws,
                pytest.raises(ConnectionClosed) as closed,
            ):
                ws.recv(timeout(5))
            assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (4001, "go away")
            proxy.wait_for("wrote ")
            with pytest.raises(Exception, match="401"):
                connect(f"{address}/auth", open_timeout=timeout(5))  # a refusal is passed on
            proxy.wait_for("wrote ")
        finally:
            assert proxy.stop() == 0, proxy.rest()
    output = "\n".join(proxy.rest())
    assert "echo #1 → hello" in output and "echo #1 ← (binary) 00 01 02" in output
    assert "the server closed (4001 go away)" in output
    files = sorted(tmp_path.glob("p-*.yaml"))
    assert [f.name for f in files] == ["p-1.yaml", "p-2.yaml", "p-3.yaml", "p-4.yaml"]
    echo = yaml.safe_load(files[0].read_text())["steps"]
    assert echo[-1] == {"close": {"conn": "echo", "code": 4000, "reason": "client bye"}}
    closes = yaml.safe_load(files[2].read_text())["steps"]
    assert closes[-1] == {"expect_close": {"conn": "close", "code": 4001}}
    assert yaml.safe_load(files[3].read_text())["steps"][0]["connect"]["expect_status"] == 401
    with TestServer(port=port):  # a fresh server where the recorded one was
        assert main(["run", *map(str, files), "--no-color"]) == 0, capsys.readouterr().out


def test_close_codes_and_binary_reach_upstream_unchanged_and_open_links_are_written_at_stop(
    tmp_path: Path,
) -> None:
    seen: list[object] = []

    def upstream(ws: ServerConnection) -> None:
        seen.append(ws.request.headers.get("X-Custom") if ws.request else None)
        try:
            for message in ws:
                seen.append(message)
                ws.send(b"\x00" + (message if isinstance(message, bytes) else message.encode()))
        except ConnectionClosed:  # a code other than 1000/1001
            pass
        seen.append((ws.close_code, ws.close_reason))

    with websockets_server(upstream) as server:
        proxy = Wsrun("record", "--listen", "127.0.0.1:0", "--upstream", url_of(server, "/svc"),
                      "-o", str(tmp_path / "u.yaml"), "--no-color")  # fmt: skip
        try:
            address = proxy.wait_for("proxy listening on ").split(" on ")[1].split(",")[0]
            with connect(address, additional_headers={"X-Custom": "kept"}) as ws:
                ws.send(b"\xff\xfe\x00")
                assert ws.recv(timeout(5)) == b"\x00\xff\xfe\x00"
                ws.close(4321, "custom reason")
            proxy.wait_for("wrote ")
            with connect(address) as still_open:
                still_open.send("left open")
                assert still_open.recv(timeout(5)) == b"\x00left open"
                proxy.proc.send_signal(signal.SIGINT)  # Ctrl-C: what is open is written too
                proxy.wait_for("wrote ")
        finally:
            assert proxy.stop(wait=timeout(10)) == 130, proxy.rest()
    assert not [line for line in proxy.rest() if "Traceback" in line or "no report" in line]
    assert seen[:3] == ["kept", b"\xff\xfe\x00", (4321, "custom reason")]
    assert sorted(p.name for p in tmp_path.glob("u-*.yaml")) == ["u-1.yaml", "u-2.yaml"]
    assert "left open" in (tmp_path / "u-2.yaml").read_text()
