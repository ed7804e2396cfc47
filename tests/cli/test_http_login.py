"""The http-login example against the built-in server, through the CLI (issue 10, "HTTP steps"):
`/login` answers plain HTTP with a token and a cookie, `/session` wants both on its handshake
and sets a cookie of its own, which the jar sends on the next request; each scenario has its
own jar.
"""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console

from runner.cli import ExitCode, main
from runner.server import TestServer
from runner.server.tls import make_server_context

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "scenarios" / "18-http-login.yaml"


def run(paths: list[Path], server: TestServer, tmp_path: Path) -> tuple[int, str, dict[str, Any]]:
    report = tmp_path / "report.json"
    console = Console(file=StringIO(), width=200, color_system=None)
    address = server.url.removeprefix("ws://")
    argv = [*map(str, paths), "--var", f"base_url={server.url}", "--var", f"address={address}"]
    code = main([*argv, "-j", "1", "--json-report", str(report)], console=console)
    return code, console.file.getvalue(), json.loads(report.read_text())  # type: ignore[attr-defined]


def test_the_example_logs_in_and_connects_with_the_token_and_the_cookie(tmp_path: Path) -> None:
    with TestServer() as server:
        code, output, report = run([EXAMPLE], server, tmp_path)
    assert code == ExitCode.OK, output
    statuses = [(e["method"], e["status"]) for e in report["events"] if e["type"] == "http_request"]
    assert statuses == [("POST", 200), ("POST", 401), ("GET", 200), ("GET", 200)]
    welcome = '{"type":"welcome","user":"alice","visit":1,"cookies":["wsrun_session"]}'
    assert welcome in output


def test_each_scenario_has_its_own_cookie_jar(tmp_path: Path) -> None:
    """A second scenario, after the example's login, sends no cookie: its /session refuses."""
    other = tmp_path / "z-no-login.yaml"
    other.write_text(
        "name: no login\nsteps:\n"
        '  - http: {url: "http://${address}/whoami", expect: {not: {contains: wsrun}}}\n'
        '  - connect: {url: "${base_url}/session", expect_status: 401,\n'
        "              expect_body: {contains: no valid session cookie}}\n",
        encoding="utf-8",
    )
    with TestServer() as server:
        code, output, report = run([EXAMPLE, other], server, tmp_path)
    assert code == ExitCode.OK, output
    assert [s["status"] for s in report["scenarios"]] == ["passed", "passed"]


def test_the_handshake_cookie_goes_on_the_next_handshake_too(tmp_path: Path) -> None:
    """`Set-Cookie` on /session's 101 is kept: the next handshake sends it with the session's."""
    scenario = tmp_path / "twice.yaml"
    text = EXAMPLE.read_text(encoding="utf-8").split('  - http: "http://${address}/whoami"')[0]
    text += (
        "  - close: {conn: session}\n"
        '  - connect: {conn: again, url: "${base_url}/session",\n'
        '              headers: {Authorization: "Bearer ${token}"}}\n'
        "  - expect: {conn: again, json: {visit: 2, cookies: [wsrun_session, wsrun_visit]}}\n"
    )
    scenario.write_text(text, encoding="utf-8")
    with TestServer() as server:
        code, output, _ = run([scenario], server, tmp_path)
    assert code == ExitCode.OK, output


def test_login_and_whoami_answer_plain_http() -> None:
    with TestServer() as server:
        api = server.url.replace("ws://", "http://", 1)
        with httpx.Client() as client:
            bad = client.post(f"{api}/login", headers={"X-User": "alice", "X-Password": "x"})
            good = client.post(
                f"{api}/login", headers={"X-User": "alice", "X-Password": "wonderland"}
            )
            me = client.get(f"{api}/whoami")
    assert bad.status_code == 401 and "wrong password" in bad.json()["error"]
    assert good.status_code == 200 and good.headers["content-type"] == "application/json"
    assert good.json()["user"] == "alice" and len(good.json()["token"]) > 10
    assert good.headers["set-cookie"].startswith("wsrun_session=")
    assert list(me.json()["cookies"]) == ["wsrun_session"]


def test_https_takes_the_tls_options_of_connect(tmp_path: Path) -> None:
    """Over the TLS server: its CA verifies, `verify: false` skips, the system's CAs refuse."""
    folder = tmp_path / "tls"
    folder.mkdir()
    scenario = tmp_path / "tls.yaml"
    scenario.write_text(
        "name: https\nsteps:\n"
        '  - http: {url: "${api_url}/whoami", tls: {ca: "${dir}/ca.pem", min_version: "1.2"}}\n'
        '  - http: {url: "${api_url}/whoami", tls: {verify: false}}\n'
        '  - http: {url: "${api_url}/whoami", tls: {ca: "${dir}/ca.pem", cert: "${dir}/client.pem",'
        ' key: "${dir}/client.key"}}\n'
        '  - http: "${api_url}/whoami"\n',
        encoding="utf-8",
    )
    with TestServer(ssl_context=make_server_context("127.0.0.1", folder)) as server:
        api = server.url.replace("wss://", "https://", 1)
        report = tmp_path / "report.json"
        console = Console(file=StringIO(), width=200, color_system=None)
        argv = [str(scenario), "--var", f"api_url={api}", "--var", f"dir={folder}"]
        code = main([*argv, "--json-report", str(report)], console=console)
    output = console.file.getvalue()  # type: ignore[attr-defined]
    assert code == ExitCode.FAILED, output
    assert json.loads(report.read_text())["scenarios"][0]["steps_passed"] == 3
    assert f"GET {api}/whoami: no answer: [SSL: CERTIFICATE_VERIFY_FAILED]" in output
