"""`wsrun record URL`: an interactive session, driven through the stdin of a subprocess."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from runner.cli import main
from runner.server import TestServer
from tests.recording.lines import Wsrun
from tests.support import timeout


def test_an_interactive_session_becomes_a_scenario_that_passes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "typed.yaml"
    with TestServer() as server:
        session = Wsrun("record", f"{server.url}/echo", "-o", str(out), "--no-color", stdin=True)
        try:
            session.wait_for("connected to ")
            session.type("hello\n")
            session.wait_for("← hello")
            session.type('{"op": "add",\n "params": [1, 2]}\n')  # JSON over two lines
            session.wait_for('"params": [1, 2]}')
            session.type("/binary 00 ff 10\n")
            session.wait_for("← (binary) 00 ff 10")
            session.type("/nope\n")
            session.wait_for("unknown command /nope")
            session.type("/save\n")
            session.wait_for(f"wrote {out}")
            session.type("/close 4002 typed bye\n")
            session.wait_for(f"wrote {out}: 1 connection, 8 steps")
        finally:
            assert session.stop(wait=timeout(10)) == 0, session.rest()
        steps = yaml.safe_load(out.read_text())["steps"]
        assert steps[3] == {"send": {"conn": "echo", "json": {"op": "add", "params": [1, 2]}}}
        assert steps[5] == {"send": {"conn": "echo", "binary": {"base64": "AP8Q"}}}
        assert steps[-1] == {"close": {"conn": "echo", "code": 4002, "reason": "typed bye"}}
        assert main(["run", str(out), "--no-color"]) == 0, capsys.readouterr().out


def test_the_end_of_input_closes_and_writes_a_server_close_as_expect_close(
    tmp_path: Path,
) -> None:
    with TestServer() as server:
        session = Wsrun(
            "record", f"{server.url}/close?code=4001&reason=go", "--no-color", stdin=True
        )
        try:
            session.wait_for("closed by the server: 4001 go")
            session.type("ignored\n")
            session.wait_for("# wrote stdout: 1 connection, 2 steps")
        finally:
            assert session.stop(wait=timeout(10)) == 0, session.rest()
    assert "      code: 4001" in "\n".join(session.rest())
