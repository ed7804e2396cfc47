"""A real, independent graphql-transport-ws server for the graphql-ws protocol's tests: Node's
graphql-ws (the protocol's reference implementation) on ws, tests/peers/graphql/server.js.

`.ci/run` installs its packages (``npm ci --prefix tests/peers/graphql``). Its schema: queries
``hello(name)``, ``add(a, b)``, ``sleep(ms)``, ``pongs`` (the pongs this connection sent),
``garbage`` (sends a frame that is not JSON first); the subscription ``count(to)``. It wants
``{"token": "secret"}`` in connection_init (else it closes 4403 Forbidden); ``"ping": true``
there makes it send a protocol ping after the ack.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support import timeout

PEER = Path(__file__).resolve().parents[1] / "peers" / "graphql"


@contextmanager
def graphql_peer() -> Iterator[str]:
    """`node server.js 0`; yields its ``ws://`` URL once it listens; stopped on exit."""
    assert (PEER / "node_modules" / "graphql-ws").is_dir(), (
        "run `npm ci --prefix tests/peers/graphql` first (.ci/run does)"
    )
    process = subprocess.Popen(
        ["node", "server.js", "0"], cwd=PEER, stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()  # "listening PORT" (or nothing if node died)
        assert line.startswith("listening "), f"the graphql-ws peer did not start: {line!r}"
        yield f"ws://127.0.0.1:{int(line.split()[1])}"
    finally:
        process.terminate()
        try:
            process.wait(timeout(5))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()
