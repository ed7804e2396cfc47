"""The `http` step against a real FastAPI app served by uvicorn on loopback (issue 10, "HTTP
steps"): a login over HTTP whose token and cookie open a WebSocket, the cookie jar both ways,
the failure output, the request events, and a secret in a JSON body masked in the reports.

Each scenario runs through the CLI, in-process (`runner.cli.main`).
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from io import StringIO
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from fastapi import FastAPI, Request, Response, WebSocket
from fastapi.responses import JSONResponse
from rich.console import Console

from runner.cli import ExitCode, main
from runner.executor import http as http_runner
from tests.support import timeout, uvicorn_server

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = 's3cret-"pw"-42'
#: Set when a request to /slow has come (the app's handler has it).
SLOW_ASKED = threading.Event()


def make_app() -> FastAPI:
    """A login API: POST /login (JSON) gives a token and a session cookie; /ws wants both and
    sets a cookie on its handshake; GET /me says which cookies came; POST /echo echoes."""
    app = FastAPI()
    sessions: dict[str, str] = {}  # session cookie -> token

    @app.post("/login")
    async def login(request: Request) -> Response:
        body = await request.json()
        if body.get("user") != "alice" or body.get("password") != PASSWORD:
            return JSONResponse({"detail": "bad credentials", "user": body.get("user")}, 401)
        token, sid = secrets.token_hex(8), secrets.token_hex(8)
        sessions[sid] = token
        response = JSONResponse({"token": token})
        response.set_cookie("sid", sid, httponly=True)
        return response

    @app.get("/me")
    async def me(request: Request) -> dict[str, Any]:
        return {"cookies": dict(request.cookies)}

    @app.post("/echo")
    async def echo(request: Request) -> Response:
        return Response(await request.body(), media_type="application/json")

    @app.get("/slow")
    async def slow(request: Request) -> dict[str, Any]:
        SLOW_ASKED.set()
        for _ in range(300):  # 30 s, unless the client is gone (so that uvicorn stops at once)
            if await request.is_disconnected():
                break
            await asyncio.sleep(0.1)
        return {}

    @app.websocket("/ws")
    async def ws(websocket: WebSocket) -> None:
        sid = websocket.cookies.get("sid", "")
        token = websocket.headers.get("authorization", "").removeprefix("Bearer ")
        if sid not in sessions or sessions[sid] != token:
            await websocket.close(code=4401, reason="no session")
            return
        two = [(b"set-cookie", b"seen=yes; Path=/"), (b"set-cookie", b"theme=dark; HttpOnly")]
        await websocket.accept(headers=two)
        await websocket.send_json({"type": "hello", "cookies": dict(websocket.cookies)})
        await websocket.close()

    return app


@contextmanager
def fastapi_server() -> Iterator[str]:
    """The app on 127.0.0.1, a free port; yields its http:// base URL; stopped on exit."""
    with uvicorn_server(make_app(), "http") as url:
        yield url


LOGIN = """
name: login
timeout: 3s
steps:
  - http:
      method: POST
      url: "${api}/login"
      headers: {X-Trace: t1}
      json: {user: alice, password: "${env.WSRUN_TEST_PASSWORD}"}
      timeout: 5s
      expect: {status: 200, headers: {content-type: "{{regex:json}}"}, json: {token: "{{string}}"}}
      save: {token: $.token}
  - connect: {url: "${ws}/ws", headers: {Authorization: "Bearer ${token}"}}
  - expect: {json: {type: hello, cookies: {sid: "{{string}}"}}}
  - expect_close: {code: 1000}
  - http:
      url: "${api}/me"
      expect:
        jsonpath: {$.cookies.seen: "yes", $.cookies.theme: dark, $.cookies.sid: "{{string}}"}
"""


def run(tmp_path: Path, text: str, api: str, *extra: str) -> tuple[int, str, dict[str, Any]]:
    """Run `text` as a scenario; the exit code, the console's text and the JSON report."""
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(text, encoding="utf-8")
    report = tmp_path / "report.json"
    console = Console(file=StringIO(), width=200, color_system=None)
    ws = api.replace("http://", "ws://", 1)
    argv = [str(scenario), "--var", f"api={api}", "--var", f"ws={ws}"]
    code = main([*argv, "--json-report", str(report), *extra], console=console)
    output = console.file.getvalue()  # type: ignore[attr-defined]
    return code, output, json.loads(report.read_text(encoding="utf-8"))


@pytest.fixture
def password(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("WSRUN_TEST_PASSWORD", PASSWORD)
    return PASSWORD


def test_a_login_over_http_opens_a_websocket_with_its_token_and_cookie(
    tmp_path: Path, password: str
) -> None:
    with fastapi_server() as api:
        code, output, report = run(tmp_path, LOGIN, api)
    assert code == ExitCode.OK, output
    requests = [e for e in report["events"] if e["type"] == "http_request"]
    assert [(e["method"], e["url"], e["status"]) for e in requests] == [
        ("POST", f"{api}/login", 200),
        ("GET", f"{api}/me", 200),
    ]
    assert all(isinstance(e["latency"], float) and e["latency"] > 0 for e in requests)
    assert f"POST {api}/login → HTTP 200" in output  # the live log
    schema = json.loads((ROOT / "schemas" / "report.schema.json").read_text())
    jsonschema.validate(report, schema)


def test_the_jar_sends_a_cookie_only_to_its_host(tmp_path: Path, password: str) -> None:
    """The same token to `localhost`, not the 127.0.0.1 that set `sid`: no cookie goes, and the
    app refuses the handshake (403) - the cookie the first test's handshake sent came from the
    jar."""
    text = LOGIN.split("  - expect:")[0].replace(
        '"${ws}/ws", headers:', '"${other}/ws", expect_status: 403, headers:'
    )
    with fastapi_server() as api:
        other = api.replace("http://127.0.0.1", "ws://localhost", 1)
        code, output, _ = run(tmp_path, text, api, "--var", f"other={other}")
    assert code == ExitCode.OK, output
    assert "(HTTP 403, as expected)" in output


def test_a_failed_expectation_shows_the_status_headers_and_body(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WSRUN_TEST_PASSWORD", "wrong")
    with fastapi_server() as api:
        code, output, report = run(tmp_path, LOGIN, api)
    assert code == ExitCode.FAILED, output
    assert f"POST {api}/login: expected HTTP 200, found 401" in output
    assert "closest:  HTTP 401 Unauthorized | date: " in output
    assert "; server: uvicorn; content-length: 43; content-type: application/json | " in output
    assert "(step 1, http)" in output
    assert 'body: {"detail":"bad credentials","user":"alice"}' in output
    failure = report["scenarios"][0]["failure"]
    assert failure["kind"] == "http" and failure["expected"] == "HTTP 200"
    assert [e["status"] for e in report["events"] if e["type"] == "http_request"] == [401]


def test_a_body_matcher_failure_shows_its_reason_and_diff(tmp_path: Path, password: str) -> None:
    text = LOGIN.replace('$.cookies.seen: "yes"', '$.cookies.seen: "no"')
    with fastapi_server() as api:
        code, output, report = run(tmp_path, text, api)
    assert code == ExitCode.FAILED, output
    assert f"GET {api}/me: the response's body did not match" in output
    failure = report["scenarios"][0]["failure"]
    assert '"seen": "yes"' in failure["closest"] or '"seen":"yes"' in failure["closest"]
    assert failure["reason"] and "seen" in failure["reason"]


def test_no_answer_is_an_error_with_the_request_event(tmp_path: Path) -> None:
    with fastapi_server() as api:
        pass  # stopped: its port refuses
    code, output, report = run(tmp_path, 'name: gone\nsteps:\n  - http: "${api}/me"\n', api)
    assert code == ExitCode.FAILED, output
    assert report["scenarios"][0]["status"] == "error"
    assert f"GET {api}/me: no answer" in output
    (event,) = [e for e in report["events"] if e["type"] == "http_request"]
    assert event["status"] is None and event["error"].startswith("no answer")


ECHO = """
name: echo the secret
steps:
  - http:
      method: POST
      url: "${api}/echo"
      json: {user: alice, password: "${env.WSRUN_TEST_PASSWORD}"}
      expect: {json: {user: bob}}
"""


def test_a_secret_in_a_json_body_is_masked_in_the_reports(tmp_path: Path, password: str) -> None:
    junit = tmp_path / "junit.xml"
    with fastapi_server() as api:
        code, output, report = run(tmp_path, ECHO, api, "--junit-xml", str(junit))
    assert code == ExitCode.FAILED, output
    text = json.dumps(report)
    assert "***" in report["scenarios"][0]["failure"]["closest"]
    for written in (output, text, (tmp_path / "report.json").read_text(), junit.read_text()):
        assert PASSWORD not in written and "s3cret" not in written
        assert json.dumps(PASSWORD)[1:-1] not in written


def test_form_text_and_binary_bodies_are_sent(tmp_path: Path) -> None:
    text = """
name: bodies
steps:
  - http: {method: POST, url: "${api}/echo", text: '{"a": 1}', expect: {json: {a: 1}}}
  - http:
      method: POST
      url: "${api}/echo"
      binary: {hex: "7b 22 62 22 3a 32 7d"}
      expect: {text: '{"b":2}', jsonpath: {$.b: 2}}
  - http:
      method: POST
      url: "${api}/echo"
      form: {x: "1 2"}
      expect: {status: [200, 201], text: x=1+2, not: {contains: "y="}}
"""
    with fastapi_server() as api:
        code, output, _ = run(tmp_path, text, api)
    assert code == ExitCode.OK, output


def test_the_readme_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The README's `http` example, as written (but its vars), against the app."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index("```yaml\nname: log in over HTTP\n") + len("```yaml\n")
    text = readme[start : readme.index("```", start)]
    monkeypatch.setenv("PASSWORD", PASSWORD)
    with fastapi_server() as api:
        code, output, report = run(tmp_path, text, api)
    assert code == ExitCode.OK, output
    assert report["scenarios"][0]["steps_passed"] == 3


def test_a_cookie_header_written_on_connect_goes_with_the_jar(
    tmp_path: Path, password: str
) -> None:
    text = LOGIN.replace(
        'headers: {Authorization: "Bearer ${token}"}}',
        'headers: {Authorization: "Bearer ${token}", cookie: "mine=1"}}',
    ).replace("cookies: {sid:", "cookies: {mine: '1', sid:")
    assert "mine=1" in text and "mine: '1'" in text
    with fastapi_server() as api:
        code, output, _ = run(tmp_path, text, api)
    assert code == ExitCode.OK, output


def test_a_body_over_the_limit_fails_the_step_unread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(http_runner, "MAX_BODY", 64)
    text = (
        "name: big\nsteps:\n"
        '  - http: {method: POST, url: "${api}/echo", json: {pad: "' + "x" * 100 + '"}}\n'
    )
    with fastapi_server() as api:
        code, output, report = run(tmp_path, text, api)
    assert code == ExitCode.FAILED, output
    assert f"POST {api}/echo: the response's body is over 64 bytes" in output
    assert [e["status"] for e in report["events"] if e["type"] == "http_request"] == [200]


def test_ctrl_c_ends_a_request_in_flight_at_once(tmp_path: Path) -> None:
    scenario = tmp_path / "slow.yaml"
    scenario.write_text('name: slow\nsteps:\n  - http: {url: "${api}/slow", timeout: 20s}\n')
    entry = "from runner.cli import entry; print('ready', flush=True); entry()"
    SLOW_ASKED.clear()
    with fastapi_server() as api:
        command = [sys.executable, "-c", entry, str(scenario), "--no-color", "--var", f"api={api}"]
        proc = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=os.environ
        )
        try:
            assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
            # the request is in flight: /slow has it, and answers after 30 s
            assert SLOW_ASKED.wait(timeout(10)), "no request to /slow came"
            time.sleep(0.1)  # wsrun is waiting for the answer
            started = time.monotonic()
            proc.send_signal(signal.SIGINT)
            out, _ = proc.communicate(timeout=timeout(6))
            ended = time.monotonic() - started
        finally:
            proc.kill()
    assert proc.returncode == ExitCode.INTERRUPTED, out
    assert ended < timeout(3), (ended, out)
    assert "interrupted" in out.lower() and "Traceback" not in out
