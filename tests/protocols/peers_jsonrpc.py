"""A real, independent JSON-RPC 2.0 server over WebSocket for the json-rpc protocol's tests:
Node's rpc-websockets (tests/peers/jsonrpc/server.js), installed by `.ci/run`
(``npm ci --prefix tests/peers/jsonrpc``).

Its methods: ``sum([a, b])``; ``slow([ms, value])`` answers `value` after `ms`; ``tick()``
answers "ok" and then fires its event ``tick`` to the connections that subscribed to it
(``rpc.on ["tick"]``), in rpc-websockets' own shape ``{"notification": "tick", "params": ...}``
(no ``"jsonrpc"`` member: strict json-rpc calls that frame malformed).
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support import timeout

PEER = Path(__file__).resolve().parents[1] / "peers" / "jsonrpc"


@contextmanager
def jsonrpc_peer() -> Iterator[str]:
    """`node server.js`; yields its ``ws://`` URL once it listens; stopped on exit."""
    assert (PEER / "node_modules" / "rpc-websockets").is_dir(), (
        "run `npm ci --prefix tests/peers/jsonrpc` first (.ci/run does)"
    )
    process = subprocess.Popen(["node", "server.js"], cwd=PEER, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()  # "listening on ws://127.0.0.1:PORT"
        assert line.startswith("listening on ws://"), f"the json-rpc peer did not start: {line!r}"
        yield line.split()[-1]
    finally:
        process.terminate()
        try:
            process.wait(timeout(5))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()
