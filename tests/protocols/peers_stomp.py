"""A real, independent STOMP broker over WebSocket for the stomp protocol's tests: Node's
stomp-broker-js (STOMP 1.1) on a Node http server, tests/peers/stomp/server.js, at ``/stomp``.

`.ci/run` installs its packages (``npm ci --prefix tests/peers/stomp``). What it does and does
not do, read from its source: a CONNECT without the login it wants gets ``ERROR``
(``message:CONNECTION ERROR``); a RECEIPT answers only a SEND (a SUBSCRIBE's receipt is never
answered); a MESSAGE goes to the subscribers of other connections only; with ``--heartbeat
0,SY`` it expects the client's heart-beats and closes a connection silent for longer.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.protocols.peers_mqtt import stop

PEER = Path(__file__).resolve().parents[1] / "peers" / "stomp"


@contextmanager
def stomp_peer(
    login: str | None = None, passcode: str | None = None, heartbeat: str = "0,0"
) -> Iterator[str]:
    """`node server.js`; yields its ``ws://.../stomp`` URL once it listens; stopped on exit."""
    assert (PEER / "node_modules" / "stomp-broker-js").is_dir(), (
        "run `npm ci --prefix tests/peers/stomp` first (.ci/run does)"
    )
    command = ["node", "server.js", "--stdin", "--heartbeat", heartbeat]
    if login is not None:
        command += ["--login", login, "--passcode", passcode or ""]
    process = subprocess.Popen(
        command, cwd=PEER, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith('{"port"'), f"the stomp-broker-js peer did not start: {line!r}"
        yield f"ws://127.0.0.1:{json.loads(line)['port']}/stomp"
    finally:
        stop(process)
