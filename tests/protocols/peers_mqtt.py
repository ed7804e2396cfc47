"""A real, independent MQTT broker over WebSocket for the mqtt protocol's tests: Node's aedes
served by websocket-stream, tests/peers/mqtt/server.mjs.

`.ci/run` installs its packages (``npm ci --prefix tests/peers/mqtt``). A SUBSCRIBE to a filter
under ``forbidden/`` is refused (SUBACK 0x80); a PUBLISH to ``silent/...`` is never
acknowledged. The broker prints a JSON line per PUBACK of a delivery it receives: `Aedes.pubacks`.
"""

from __future__ import annotations

import json
import queue
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support import timeout

PEER = Path(__file__).resolve().parents[1] / "peers" / "mqtt"


@dataclass
class Aedes:
    """The running broker: its URL, and the events it printed (read on a thread)."""

    url: str
    events: queue.Queue[dict[str, Any]] = field(default_factory=queue.Queue)

    def next_event(self, wait: float) -> dict[str, Any]:
        return self.events.get(timeout=wait)


@contextmanager
def aedes_peer(
    username: str | None = None, password: str | None = None, split: int = 0
) -> Iterator[Aedes]:
    """`node server.mjs`; yields the broker once it listens; stopped on exit (also when the
    test dies: the broker exits when its standard input closes)."""
    assert (PEER / "node_modules" / "aedes").is_dir(), (
        "run `npm ci --prefix tests/peers/mqtt` first (.ci/run does)"
    )
    command = ["node", "server.mjs", "--stdin", "--split", str(split)]
    if username is not None:
        command += ["--username", username, "--password", password or ""]
    process = subprocess.Popen(
        command, cwd=PEER, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()  # {"port": N} (or nothing if node died)
        assert line.startswith('{"port"'), f"the aedes peer did not start: {line!r}"
        broker = Aedes(f"ws://127.0.0.1:{json.loads(line)['port']}")
        threading.Thread(target=_read, args=(process.stdout, broker), daemon=True).start()
        yield broker
    finally:
        stop(process)


def _read(stream: Any, broker: Aedes) -> None:
    for line in stream:
        broker.events.put(json.loads(line))


def stop(process: subprocess.Popen[str]) -> None:
    """Stop a peer: close its standard input, then terminate, then kill."""
    if process.stdin is not None:
        process.stdin.close()
    process.terminate()
    try:
        process.wait(timeout(5))
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    if process.stdout is not None:
        process.stdout.close()
