"""`wsrun import` on hand-made HARs: secrets, --only, sanitized exports, HTTP entries, errors."""

from __future__ import annotations

import json
import os
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml

from runner.cli import main
from runner.server import TestServer
from tests.support import timeout

TOKEN = "s3cr3t-t0ken-value"


def _entry(url: str, messages: list[dict[str, Any]], headers: dict[str, str]) -> dict[str, Any]:
    return {
        "startedDateTime": "2026-12-01T10:00:00.000Z",
        "request": {"method": "GET", "url": url, "cookies": [],
                    "headers": [{"name": k, "value": v} for k, v in headers.items()]},
        "response": {"status": 101, "headers": [], "cookies": [], "content": {"size": 0}},
        "_resourceType": "websocket",
        "_webSocketMessages": messages,
    }  # fmt: skip


def _har(path: Path, *entries: dict[str, Any]) -> Path:
    path.write_text(json.dumps({"log": {"version": "1.2", "entries": list(entries)}}))
    return path


def _message(kind: str, time: float, data: str, opcode: int = 1) -> dict[str, Any]:
    return {"type": kind, "time": time, "opcode": opcode, "data": data}


def test_a_session_with_a_token_writes_no_token_and_passes_with_it_in_the_environment(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with TestServer() as server:
        url = f"{server.url}/auth?access_token={TOKEN}x"
        har = _har(
            tmp_path / "auth.har",
            _entry(url, [
                _message("receive", 1764583200.1, json.dumps({"type": "welcome", "token": TOKEN})),
                _message("send", 1764583200.2, f"my token is {TOKEN}"),
                _message("receive", 1764583200.3, f"my token is {TOKEN}"),
            ], {"Authorization": f"Bearer {TOKEN}", "Cookie": "sid=abc123", "X-User": "bob"}),
        )  # fmt: skip
        out = tmp_path / "auth.yaml"
        assert main(["import", str(har), "-o", str(out), "--no-color"]) == 0
        printed = capsys.readouterr().out
        text = out.read_text()
        assert TOKEN not in text and "abc123" not in text and TOKEN not in printed
        assert "set before running it: ACCESS_TOKEN, AUTH_TOKEN, COOKIE" in printed
        connect = yaml.safe_load(text)["steps"][0]["connect"]
        assert connect["headers"] == {
            "Authorization": "Bearer ${env.AUTH_TOKEN}",
            "Cookie": "${env.COOKIE}",
            "X-User": "bob",
        }
        assert connect["url"].endswith("/auth?access_token=${env.ACCESS_TOKEN}")
        assert "my token is ${env.AUTH_TOKEN}" in text  # a send repeats it: a reference
        for name, value in {
            "AUTH_TOKEN": TOKEN,
            "COOKIE": "sid=abc123",
            "ACCESS_TOKEN": "x",
        }.items():
            monkeypatch.setenv(name, value)
        assert main(["run", str(out), "--no-color"]) == 0, capsys.readouterr().out
        monkeypatch.setenv(
            "AUTH_TOKEN", "another-token"
        )  # the scenario is the token's, not the HAR's
        assert main(["run", str(out), "--no-color"]) == 0, capsys.readouterr().out
    assert os.environ["AUTH_TOKEN"] == "another-token"


def test_only_keeps_the_entries_whose_url_matches(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    har = _har(
        tmp_path / "two.har",
        _entry("ws://h:1/echo", [_message("send", 1.0, "a")], {}),
        _entry("ws://h:1/rpc", [_message("send", 2.0, "b")], {}),
    )
    assert main(["import", str(har), "--only", "*/rpc*", "--no-color"]) == 0
    printed = capsys.readouterr().out
    assert "conn: rpc" in printed and "conn: echo" not in printed
    assert printed.endswith("# wrote stdout: 1 connection, 2 steps\n")
    (tmp_path / "stdout.yaml").write_text(printed)  # what `wsrun import two.har > s.yaml` writes
    assert main(["validate", str(tmp_path / "stdout.yaml")]) == 0
    assert main(["import", str(har), "--only", "*/nothing", "--no-color"]) == 2
    assert "has no WebSocket entry (2 left out by --only)" in capsys.readouterr().out


def test_a_sanitized_har_warns_what_is_missing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    login = {
        "startedDateTime": "2026-12-01T09:59:59.000Z",
        "request": {"method": "POST", "url": "https://h/login", "headers": [],
                    "cookies": [{"name": "sid", "value": ""}]},
        "response": {"status": 200, "headers": [], "cookies": [{"name": "sid", "value": ""}],
                     "content": {"size": 120, "mimeType": "application/json"}},
    }  # fmt: skip
    socket = _entry("wss://h/live", [], {"Authorization": ""})
    del socket["_webSocketMessages"]
    har = _har(tmp_path / "sanitized.har", login, socket)
    out = tmp_path / "s.yaml"
    assert main(["import", str(har), "-o", str(out), "--no-color"]) == 0
    printed = capsys.readouterr().out
    assert (
        "warning: the HAR looks sanitized: Authorization, Cookie, Set-Cookie headers were stripped"
        in printed
    )
    assert "warning: the HAR looks sanitized: 1 HTTP response bodies are missing" in printed
    assert "entry 1 (wss://h/live) has no _webSocketMessages: its frames are missing" in printed
    text = out.read_text()
    http = yaml.safe_load(text)["steps"][0]["http"]
    assert http == {"method": "POST", "url": "https://h/login", "expect": {"status": 200}}
    assert main(["validate", str(out)]) == 0


@pytest.mark.parametrize(
    ("content", "message"),
    [("{", "is not a HAR file"), ('{"log": {"entries": []}}', "has no WebSocket entry")],
)
def test_a_file_that_is_no_har_or_has_no_websocket_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, message: str
) -> None:
    path = tmp_path / "x.har"
    path.write_text(content)
    assert main(["import", str(path), "--no-color"]) == 2
    assert message in capsys.readouterr().out


def test_a_login_over_http_becomes_an_http_step_whose_token_and_cookie_the_socket_uses(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with TestServer() as server:
        api = server.url.replace("ws://", "http://")
        login = urllib.request.Request(
            f"{api}/login", method="POST", headers={"X-User": "alice", "X-Password": "wonderland"}
        )
        with urllib.request.urlopen(login, timeout=timeout(5)) as reply:
            answer, cookie = reply.read().decode(), reply.headers["Set-Cookie"].split(";")[0]
        token = json.loads(answer)["token"]
        welcome = {
            "type": "welcome",
            "user": "alice",
            "visit": 1,
            "cookies": ["theme", "wsrun_session"],
        }
        http_entry = {
            "startedDateTime": "2026-12-01T10:00:00.000Z",
            "_resourceType": "fetch",
            "request": {"method": "POST", "url": f"{api}/login", "cookies": [],
                        "headers": [{"name": "X-User", "value": "alice"},
                                    {"name": "X-Password", "value": "wonderland"}]},
            "response": {"status": 200, "cookies": [{"name": "wsrun_session", "value": "x"}],
                         "headers": [{"name": "Set-Cookie", "value": cookie}],
                         "content": {"size": len(answer), "mimeType": "application/json",
                                     "text": answer}},
        }  # fmt: skip
        socket = _entry(
            f"{server.url}/session",
            [_message("receive", 1796119200.5, json.dumps(welcome))],
            {"Cookie": f"{cookie}; theme=dark", "Authorization": f"Bearer {token}"},
        )
        socket["startedDateTime"] = "2026-12-01T10:00:00.200Z"
        har = _har(tmp_path / "login.har", http_entry, socket)
        out = tmp_path / "login.yaml"
        assert main(["import", str(har), "-o", str(out), "--no-color"]) == 0
        text = out.read_text()
        assert token not in text and cookie.split("=")[1] not in text and "wonderland" not in text
        steps = yaml.safe_load(text)["steps"]
        assert steps[0]["http"] == {
            "method": "POST",
            "url": f"{api}/login",
            "headers": {"X-User": "alice", "X-Password": "${env.X_PASSWORD}"},
            "expect": {"status": 200, "json": {"token": "{{string}}", "user": "alice"}},
            "save": {"token": "$.token"},
        }
        assert steps[1]["connect"]["headers"] == {
            "Cookie": "${env.COOKIE}",  # theme=dark; the jar sends wsrun_session itself
            "Authorization": "Bearer ${token}",
        }
        monkeypatch.setenv("X_PASSWORD", "wonderland")
        monkeypatch.setenv("COOKIE", "theme=dark")
        capsys.readouterr()
        assert main(["run", str(out), "--no-color"]) == 0, capsys.readouterr().out


def test_a_mitmproxy_style_entry_with_an_http_url_and_binary_frames_imports(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """mitmproxy's savehar writes the flow's http(s):// URL and binary data in base64."""
    with TestServer() as server:
        url = server.url.replace("ws://", "http://") + "/echo"
        entry = _entry(url, [
            _message("send", 1796119200.1, "AP8Q", opcode=2),
            _message("receive", 1796119200.2, "AP8Q", opcode=2),
        ], {"Host": "127.0.0.1"})  # fmt: skip
        del entry["_resourceType"]
        har = _har(tmp_path / "flows.har", entry)
        out = tmp_path / "flows.yaml"
        assert main(["import", str(har), "-o", str(out), "--no-color"]) == 0
        steps = yaml.safe_load(out.read_text())["steps"]
        assert steps[0] == {"connect": {"conn": "echo", "url": f"{server.url}/echo"}}
        assert steps[2] == {"expect": {"conn": "echo", "binary": {"base64": "AP8Q"}}}
        assert main(["run", str(out), "--no-color"]) == 0, capsys.readouterr().out
