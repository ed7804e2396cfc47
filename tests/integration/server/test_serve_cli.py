"""`python -m runner.server` (`wsrun serve`) as a subprocess: the ready line, SIGINT, SIGTERM."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from runner.server import serve_main
from tests.support import timeout

READY = re.compile(r"^wsrun test server listening on (ws://127\.0\.0\.1:\d+)\n$")


@contextmanager
def serve(
    *args: str, module: tuple[str, ...] = ("runner.server",)
) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """Start `python -m runner.server ARGS`; yield it and its URL; kill it if still running."""
    command = [sys.executable, "-m", *module, "--port", "0", *args]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        match = READY.match(line)
        assert match, f"unexpected first line {line!r}"
        yield proc, match.group(1)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=timeout())


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
@pytest.mark.parametrize("module", [("runner.server",), ("runner", "serve")], ids=" ".join)
def test_serve_prints_its_url_serves_and_exits_0_on_signal(
    sig: signal.Signals, module: tuple[str, ...]
) -> None:
    from websockets.sync.client import connect

    with serve(module=module) as (proc, url):
        with connect(url + "/echo", open_timeout=timeout()) as ws:
            ws.send("over the process boundary")
            assert ws.recv(timeout=timeout()) == "over the process boundary"
        proc.send_signal(sig)
        assert proc.wait(timeout(5)) == 0
        assert proc.stdout is not None
        assert proc.stdout.read() == ""  # exactly one line


def test_serve_reports_a_taken_port_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with serve() as (proc, url):
        port = url.rsplit(":", 1)[1]
        assert serve_main(["--port", port]) == 2
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout(5))
    assert f"wsrun serve: cannot listen on 127.0.0.1:{port}:" in capsys.readouterr().err
