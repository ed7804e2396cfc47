"""Secrets never leave wsrun: ``--secret NAME=VALUE`` and ``${env.X}`` values are written ``***``
in the console, the JSON report, the JUnit XML, failure diffs and URLs (issue 9, "Secrets").

Each test runs `wsrun run` in-process against a real echo server and greps every output for
the secret values, raw and in the escaped forms JSON and XML give them.
"""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import pytest
from rich.console import Console

from runner.cli import ExitCode, main
from runner.events import ServiceOutput
from runner.report.redaction import Redactor
from tests.support import echo, url_of, websockets_server

PASSWORD = 'hunter2"<&>pw'  # JSON and XML escape it: "hunter2\"<&>pw", hunter2"&lt;&amp;&gt;pw
TOKEN = "tok-9f8e7d6c5b4a"
API_KEY = "env-key-0123456789"
URL_PASSWORD = "pw-in-the-url"

SCENARIO = """
name: logs in
timeout: 2s
steps:
  - connect: {conn: a, url: "${url}?token=${token}"}
  - connect: {conn: b, url: "${url_with_password}"}
  - send: {conn: a, json: {user: bob, password: "${password}", key: "${env.WSRUN_TEST_API_KEY}"}}
  - expect: {conn: a, json: {user: bob, password: "${password}"}}
  - send: {conn: a, text: "again ${password} and ${token}"}
  - expect: {conn: a, text: "again ${password} and ${token}"}
  - send: {conn: a, json: {user: bob, password: "${password}"}}
  - expect: {conn: a, json: {user: bob, password: "not-${token}"}, timeout: 300ms}
"""


def outputs_of(tmp_path: Path, *extra: str) -> tuple[int, dict[str, str]]:
    """Run the scenario; return the exit code and every output wsrun wrote, by name."""
    scenario = tmp_path / "login.yaml"
    scenario.write_text(SCENARIO, encoding="utf-8")
    report, junit = tmp_path / "report.json", tmp_path / "junit.xml"
    console = Console(file=StringIO(), width=100, color_system=None)
    with websockets_server(echo) as server:
        with_password = url_of(server).replace("ws://", f"ws://bob:{URL_PASSWORD}@", 1)
        argv = [
            str(scenario),
            "--var",
            f"url={url_of(server)}",
            "--var",
            f"url_with_password={with_password}",
            "--secret",
            f"password={PASSWORD}",
            "--secret",
            f"token={TOKEN}",
            "--json-report",
            str(report),
            "--junit-xml",
            str(junit),
            *extra,
        ]
        code = main(argv, console=console)
    texts = {
        "console": console.file.getvalue(),  # type: ignore[attr-defined]
        "json": report.read_text(encoding="utf-8"),
        "junit": junit.read_text(encoding="utf-8"),
    }
    return code, texts


def leaks(texts: dict[str, str]) -> list[str]:
    """Every (output, form of a secret) where the secret shows."""
    forms = {
        PASSWORD,
        json.dumps(PASSWORD)[1:-1],
        'hunter2"&lt;&amp;&gt;pw',
        "hunter2&quot;&lt;&amp;&gt;pw",
        "hunter2",
        TOKEN,
        API_KEY,
        URL_PASSWORD,
    }
    return [f"{name}: {form}" for name, text in texts.items() for form in forms if form in text]


@pytest.fixture(autouse=True)
def api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WSRUN_TEST_API_KEY", API_KEY)


@pytest.mark.parametrize("verbosity", [[], ["-v"]], ids=["normal", "verbose"])
def test_secrets_are_masked_in_every_output(tmp_path: Path, verbosity: list[str]) -> None:
    code, texts = outputs_of(tmp_path, *verbosity)
    assert code == ExitCode.FAILED, texts["console"]
    assert leaks(texts) == []
    console = texts["console"]
    assert "again *** and ***" in console  # the message, in the live log or the transcript
    assert '-  "password": "not-***"' in console  # the failure's diff, both sides
    assert '+  "password": "***"' in console
    assert "?token=***" in console  # the secret in a URL
    assert "bob:***@" in console  # the password of a URL with credentials
    report = json.loads(texts["json"])
    sent = [e["data"] for e in report["events"] if e["type"] == "frame_sent"]
    assert json.loads(sent[0]) == {"user": "bob", "password": "***", "key": "***"}
    assert "***" in texts["junit"]


def test_a_secret_too_short_to_mask_is_refused(tmp_path: Path) -> None:
    console = Console(file=StringIO(), width=100, color_system=None)
    code = main([str(tmp_path), "--secret", "pin=12"], console=console)
    assert code == ExitCode.USAGE
    out = console.file.getvalue()  # type: ignore[attr-defined]
    assert "--secret pin: a secret needs 3 characters or more" in out and "12" not in out


def test_a_secret_in_service_output_is_masked() -> None:
    redactor = Redactor([TOKEN])
    event = ServiceOutput(at=1.0, service="api", output=f"listening, token {TOKEN}\n")
    assert redactor.event(event).output == "listening, token ***\n"
    untouched = ServiceOutput(at=1.0, service="api", output="nothing secret")
    assert redactor.event(untouched) is untouched


def test_binary_payloads_and_escaped_forms_are_masked() -> None:
    redactor = Redactor([PASSWORD])
    assert redactor.payload(b"x" + PASSWORD.encode() + b"y") == b"x***y"
    assert redactor.text(json.dumps({"p": PASSWORD})) == '{"p": "***"}'
    assert redactor.text("ws://h/?p=hunter2%22%3C%26%3Epw") == "ws://h/?p=***"
    assert redactor.text("wss://u:anything@h:1/") == "wss://u:***@h:1/"
    assert redactor.text("ws://h:8080/path") == "ws://h:8080/path"


def test_a_secret_a_service_prints_is_masked_in_its_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "wsrun.toml").write_text("", encoding="utf-8")
    suite = """\
services:
  - name: shell
    command: 'echo "token=${token} key=${env.WSRUN_TEST_API_KEY}"; exec sleep 60'
    ready: {log: 'token='}
"""
    (tmp_path / "wsrun-suite.yaml").write_text(suite, encoding="utf-8")
    (tmp_path / "s.yaml").write_text("name: s\nsteps: [{sleep: 1ms}]\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    console = Console(file=StringIO(), width=100, color_system=None)
    argv = [".", "--secret", f"token={TOKEN}", "--json-report", "r.json", "--junit-xml", "j.xml"]
    code = main(argv, console=console)
    texts = {
        "console": console.file.getvalue(),  # type: ignore[attr-defined]
        "json": (tmp_path / "r.json").read_text(encoding="utf-8"),
        "junit": (tmp_path / "j.xml").read_text(encoding="utf-8"),
    }
    assert code == ExitCode.OK, texts["console"]
    assert leaks(texts) == []
    services = json.loads(texts["json"])["services"]
    assert "token=*** key=***" in services[0]["output"]
