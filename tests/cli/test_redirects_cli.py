"""`wsrun run` against a server that redirects the upgrade: the connect step fails, naming the
status and the Location, and nothing reaches the redirect's target (issue 9)."""

from __future__ import annotations

import json
from http import HTTPStatus
from io import StringIO
from pathlib import Path

from rich.console import Console
from websockets.http11 import Request, Response
from websockets.sync.server import ServerConnection

from runner.cli import ExitCode, main
from tests.support import echo, url_of, websockets_server

SCENARIO = """
name: redirected
steps:
  - connect: {conn: a, url: "${url}", headers: {Authorization: "Bearer t0ken"}}
  - send: {conn: a, text: hi}
"""


def test_an_unfollowed_redirect_fails_the_connect_step_with_status_and_location(
    tmp_path: Path,
) -> None:
    reached: list[str] = []

    def target(connection: ServerConnection, request: Request) -> None:
        reached.append(request.path)

    with websockets_server(echo, process_request=target) as other:
        location = url_of(other, "/elsewhere")

        def moved(connection: ServerConnection, request: Request) -> Response:
            response = connection.respond(HTTPStatus.MOVED_PERMANENTLY, "")
            response.headers["Location"] = location
            return response

        with websockets_server(echo, process_request=moved) as server:
            scenario, report = tmp_path / "s.yaml", tmp_path / "r.json"
            scenario.write_text(SCENARIO, encoding="utf-8")
            console = Console(file=StringIO(), width=200, color_system=None)
            argv = [str(scenario), "--var", f"url={url_of(server)}", "--json-report", str(report)]
            code = main(argv, console=console)
    out = console.file.getvalue()  # type: ignore[attr-defined]
    assert code != ExitCode.OK
    assert f"handshake redirected with HTTP 301 to '{location}'" in out
    assert "follow_redirects is off" in out
    assert reached == []
    failure = json.loads(report.read_text(encoding="utf-8"))["scenarios"][0]["failure"]
    assert "HTTP 301" in failure["message"] and location in failure["message"]


FOLLOWS = """
name: follows
steps:
  - connect:
      conn: a
      url: "${url}"
      follow_redirects: true
      headers: {Authorization: "Bearer t0ken", X-Trace: kept}
  - send: {conn: a, text: hi}
  - expect: {conn: a, text: hi}
  - close: {conn: a}
"""


def test_follow_redirects_true_follows_logs_the_final_url_and_drops_credentials(
    tmp_path: Path,
) -> None:
    seen: list[dict[str, str]] = []

    def target(connection: ServerConnection, request: Request) -> None:
        seen.append(dict(request.headers.raw_items()))

    with websockets_server(echo, process_request=target) as other:
        location = url_of(other, "/elsewhere")

        def moved(connection: ServerConnection, request: Request) -> Response:
            response = connection.respond(HTTPStatus.FOUND, "")
            response.headers["Location"] = location
            return response

        with websockets_server(echo, process_request=moved) as server:
            scenario, report = tmp_path / "s.yaml", tmp_path / "r.json"
            scenario.write_text(FOLLOWS, encoding="utf-8")
            console = Console(file=StringIO(), width=200, color_system=None)
            argv = [str(scenario), "--var", f"url={url_of(server)}", "--json-report", str(report)]
            code = main(argv, console=console)
    out = console.file.getvalue()  # type: ignore[attr-defined]
    assert code == ExitCode.OK, out
    assert f"● open      {location} (101)" in out
    assert len(seen) == 1 and "Authorization" not in seen[0] and seen[0]["X-Trace"] == "kept"
    events = json.loads(report.read_text(encoding="utf-8"))["events"]
    assert [e["url"] for e in events if e["type"] == "connection_opened"] == [location]
