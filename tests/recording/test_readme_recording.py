"""The README's "Recording and importing" examples are real: its HAR gives its scenario."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runner.cli import main

ROOT = Path(__file__).resolve().parents[2]


def _section() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index("### `wsrun import`")
    return text[start : text.index("\n### ", start + 1)]


def _session_har(path: Path) -> Path:
    messages = [
        (0.004, "receive", '{"type":"join","room":"lobby","user":"guest-1","members":["guest-1"]}'),
        (0.120, "send", '{"type":"say","text":"hi"}'),
        (0.125, "receive", '{"type":"said","id":1,"room":"lobby","from":"guest-1","text":"hi"}'),
    ]
    entry = {
        "startedDateTime": "2026-12-01T10:00:00.000Z",
        "request": {"method": "GET", "url": "ws://127.0.0.1:8765/chat/lobby", "cookies": [],
                    "headers": [{"name": "Authorization", "value": "Bearer eyJhbGciOi.secret"},
                                {"name": "User-Agent", "value": "Mozilla/5.0"},
                                {"name": "Sec-WebSocket-Key", "value": "x"}]},
        "response": {"status": 101, "headers": [], "cookies": [], "content": {"size": 0}},
        "_resourceType": "websocket",
        "_webSocketMessages": [
            {"type": kind, "time": 1796119200 + at, "opcode": 1, "data": data}
            for at, kind, data in messages
        ],
    }  # fmt: skip
    path.write_text(json.dumps({"log": {"version": "1.2", "entries": [entry]}}))
    return path


def test_the_import_example_is_what_wsrun_import_writes_and_prints(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    _session_har(tmp_path / "session.har")
    assert main(["import", "session.har", "-o", "chat.yaml", "--no-color"]) == 0
    section = _section()
    shown_output = section.split("$ wsrun import session.har -o chat.yaml\n", 1)[1].split("```")[0]
    assert capsys.readouterr().out == shown_output
    shown_yaml = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    assert (tmp_path / "chat.yaml").read_text() == shown_yaml
    assert "eyJhbGciOi" not in shown_yaml
