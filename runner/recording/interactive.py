"""`wsrun record URL`: an interactive session, like wscat, written as a scenario at the end.

Lines typed are sent as text; a line that starts a JSON object or array that is not complete
yet goes on over the next lines until it parses (an empty line sends what was typed as is).
Commands: ``/binary HEX`` sends bytes, ``/close CODE [REASON]`` closes and ends, ``/save``
writes the scenario so far, ``/quit`` (or end of input) closes with 1000 and ends. What arrives
is shown as it arrives (`← ...`), on the client core's thread.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable
from typing import Any

from runner.client import create_websocket
from runner.recording.session import Close, Frame, Session

__all__ = ["run_interactive"]

Out = Callable[[str, str], None]
_WAIT = 10.0
HELP = "type a message; /binary HEX, /close CODE [REASON], /save, /quit"


class _Recorder:
    def __init__(self, url: str, out: Out) -> None:
        self.out = out
        self.session = Session()
        self.conn = self.session.add_connection(url, time.time()).name
        self.closed = threading.Event()
        self.ws = create_websocket()
        self.ws.on("message", self._received)
        self.ws.on("close", self._closed)

    def _received(self, err: object, data: str | bytes) -> None:
        self.session.frames.append(Frame(self.conn, "receive", time.time(), data))
        shown = f"(binary) {data.hex(' ')}" if isinstance(data, bytes) else data
        self.out(f"← {shown}", "cyan")

    def _closed(self, err: object, result: Any) -> None:
        if not self.session.closes:  # the server closed first
            self.session.closes.append(
                Close(self.conn, "receive", time.time(), result.code, result.reason)
            )
            self.out(f"closed by the server: {result.code} {result.reason}".rstrip(), "yellow")
        self.closed.set()

    def send(self, data: str | bytes) -> None:
        frame = Frame(self.conn, "send", time.time(), data)
        self.session.frames.append(frame)  # before it goes: its answer may come at once
        try:
            self.ws.send(data).result(_WAIT)
        except Exception as exc:  # the client core's BusinessError (closed meanwhile), a timeout
            self.session.frames.remove(frame)
            self.out(f"not sent: {exc}", "red")

    def close(self, code: int, reason: str) -> None:
        if self.closed.is_set():
            return
        self.session.closes.append(Close(self.conn, "send", time.time(), code, reason))
        with contextlib.suppress(Exception):  # already closing: the close event comes anyway
            self.ws.close({"code": code, "reason": reason}).result(_WAIT)
        self.closed.wait(_WAIT)


def run_interactive(
    url: str, output: str | None, out: Out, read: Callable[[str], str] = input
) -> int:
    """Talk to `url` until /quit, /close or the end of input; write the scenario; exit code."""
    from runner.recording.commands import write_scenario

    with contextlib.suppress(ImportError):  # line editing and history where there is readline
        import readline  # noqa: F401

    recorder = _Recorder(url, out)
    try:
        recorder.ws.connect(url, {"pingInterval": 0}).result(_WAIT)
    except Exception as exc:
        out(f"wsrun record: cannot connect to {url}: {exc}", "red")
        return 1
    out(f"connected to {url} ({HELP})", "green")
    header = f"Recorded by wsrun record {url}: review before use."

    def save() -> int:
        return write_scenario(recorder.session, recorder.conn, header, output, out)

    _loop(recorder, read, out, save)
    return save()


def _loop(
    recorder: _Recorder, read: Callable[[str], str], out: Out, save: Callable[[], int]
) -> None:
    while not recorder.closed.is_set():
        try:
            line = _message(read)
        except (EOFError, KeyboardInterrupt):  # the end of input, Ctrl-D, Ctrl-C: as /quit
            recorder.close(1000, "")
            return
        if recorder.closed.is_set():
            return
        if not _command(recorder, line, out, save):
            return


def _message(read: Callable[[str], str]) -> str:
    """One line, or the lines of a JSON value that goes on (until it parses or a blank line)."""
    line = read("> ")
    if not line.lstrip().startswith(("{", "[")):
        return line
    lines = [line]
    while True:
        with contextlib.suppress(ValueError):
            json.loads("\n".join(lines))
            return "\n".join(lines)
        more = read("... ")
        if not more.strip():
            return "\n".join(lines)
        lines.append(more)


def _command(recorder: _Recorder, line: str, out: Out, save: Callable[[], int]) -> bool:
    """Do what `line` says; False when the session ends."""
    word, _, rest = line.strip().partition(" ")
    if word == "/quit":
        recorder.close(1000, "")
        return False
    if word == "/close":
        code, _, reason = rest.strip().partition(" ")
        try:
            recorder.close(int(code or 1000), reason)
        except ValueError:
            out(f"/close takes a number, found {code!r}", "red")
            return True
        return False
    if word == "/save":
        save()
        return True
    if word == "/binary":
        try:
            recorder.send(bytes.fromhex(rest))
        except ValueError:
            out(f"/binary takes hex digits, found {rest!r}", "red")
        return True
    if word.startswith("/") and word not in ("//",):
        out(f"unknown command {word}: {HELP}", "red")
        return True
    recorder.send(line)
    return True
