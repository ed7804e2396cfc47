"""The README's Python version of the OpenHarmony guide's example runs as written."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from runner.server import TestServer
from tests.support import timeout

README = Path(__file__).resolve().parents[3] / "README.md"


def _guide_example() -> str:
    text = README.read_text(encoding="utf-8")
    section = text[text.index("### The guide's example, in Python") :]
    match = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert match is not None
    return match[1]


def _wait_for(capsys: pytest.CaptureFixture[str], line: str, seen: list[str]) -> None:
    deadline = time.monotonic() + timeout()
    while time.monotonic() < deadline:
        seen.extend(capsys.readouterr().out.splitlines())
        if line in seen:
            return
        time.sleep(0.01)
    raise AssertionError(f"{line!r} never printed; printed: {seen}")


def test_the_guide_example_connects_sends_and_closes_on_bye(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = _guide_example()
    assert 'default_ip_address = "ws://127.0.0.1:8765/echo"' in code
    with TestServer() as server:
        namespace: dict[str, object] = {}
        exec(code.replace("ws://127.0.0.1:8765", server.url), namespace)
        seen: list[str] = []
        _wait_for(capsys, "on message, message: Hello, server!", seen)
        ws = namespace["ws"]
        ws.send("bye")  # type: ignore[attr-defined]
        _wait_for(capsys, "on close, code is 1000, reason is ", seen)
    # connect's callback runs after the open listeners, which sent the first message
    assert seen[:4] == [
        "on open, status: 101, message: Switching Protocols",
        "Message sent successfully",
        "Connected successfully",
        "on message, message: Hello, server!",
    ]
    assert seen[4:] == [
        "on message, message: bye",
        "Connection closed successfully",
        "on close, code is 1000, reason is ",
    ]
