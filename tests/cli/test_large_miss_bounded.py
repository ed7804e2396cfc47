"""A large message that an expect misses: scoring and diffing it stay bounded in time and memory.

The closest-match score ran `difflib` over the whole payload (a 60 MB message peaked at 5 GB and
stretched a 10 s timeout to 24 s); scores and diffs now look at bounded prefixes only.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from runner.matching import compile_matcher, show_message
from runner.scenario.steps import ExpectStep
from tests.support import timeout

SIZE = 30_000_000

#: Runs wsrun in a child and prints its exit code and peak RSS (KiB) on the last line of stdout.
#: The peak is the process's own VmHWM: Linux carries `ru_maxrss` over an exec, so a child of a
#: big pytest process would report pytest's size.
CHILD = """
import re, sys
from runner.cli import main
code = main(sys.argv[1:])
with open("/proc/self/status") as status:
    print(code, re.search(r"VmHWM:\\s*(\\d+) kB", status.read()).group(1))
"""

#: A server (a process of its own) that sends one large message to each client, then reads.
SERVER = """
import json, sys
from websockets.sync.server import serve
kind, size = sys.argv[1], int(sys.argv[2])
payload = {
    "text": lambda: "x" * size,
    "binary": lambda: bytes(range(256)) * (size // 256),
    "json": lambda: json.dumps({"a": 2, "data": "y" * size}),
}[kind]()
def handler(conn):
    conn.send(payload)
    for _ in conn:
        pass
with serve(handler, "127.0.0.1", 0, max_size=None, compression=None) as server:
    print(server.socket.getsockname()[1], flush=True)
    server.serve_forever()
"""

SCENARIO = """
name: large miss
timeout: 1s
steps:
  - connect: "${url}"
  - expect: {%s}
"""


@contextmanager
def large_sender(kind: str) -> Iterator[str]:
    """The URL of a server process sending one `SIZE` message of `kind`; stopped on exit."""
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER, kind, str(SIZE)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None
        yield f"ws://127.0.0.1:{server.stdout.readline().strip()}/"
    finally:
        server.kill()
        server.wait(timeout(5))
        if server.stdout is not None:
            server.stdout.close()


@pytest.mark.parametrize(
    ("kind", "matcher"),
    [("text", "text: hello"), ("binary", 'binary: {hex: "00 01 02"}'), ("json", "json: {a: 1}")],
)
def test_a_30_mb_message_missed_costs_bounded_memory_and_no_time(
    tmp_path: Path, kind: str, matcher: str
) -> None:
    scenario = tmp_path / "large.yaml"
    scenario.write_text(SCENARIO % matcher, encoding="utf-8")
    with large_sender(kind) as url:
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-c", CHILD, str(scenario), "--var", f"url={url}"],
            capture_output=True,
            text=True,
            timeout=timeout(60),
            cwd=Path(__file__).resolve().parents[2],
        )
        elapsed = time.monotonic() - started
    code, peak_kib = done.stdout.split()[-2:]
    assert code == "1", done.stdout[-2000:] + done.stderr[-2000:]
    assert "expected" in done.stdout
    assert elapsed < 1 + timeout(4)  # the step's 1 s timeout, and start-up; was 5 s and more
    # 4 times the message, and the interpreter with its libraries; it was 0.26 to 2.5 GB more
    assert int(peak_kib) * 1024 < 4 * SIZE + 150_000_000


@pytest.mark.parametrize(
    ("spec", "payload"),
    [
        ({"text": "hello"}, "x" * 4_000_000),
        ({"contains": "hello"}, "x" * 4_000_000),
        ({"binary": {"hex": "00 01"}}, b"\x00" * 4_000_000),
        ({"binary": {"hex": "00 ?? 01"}}, b"\x00" * 4_000_000),
        ({"json": {"a": "b"}}, json.dumps({"a": "c" * 4_000_000})),
        ({"json": [1]}, json.dumps(list(range(100_000)))),
    ],
    ids=["text", "contains", "binary", "binary-wildcards", "json-string", "json-list"],
)
def test_scores_diffs_and_shown_messages_look_at_prefixes(
    spec: dict[str, object], payload: str | bytes
) -> None:
    matcher = compile_matcher(ExpectStep.model_validate({"kind": "expect", **spec}))
    tracemalloc.start()
    started = time.monotonic()
    result = matcher.match(payload)
    diff = matcher.diff(payload)
    shown = show_message(payload)
    elapsed = time.monotonic() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert not result.ok and 0.0 <= result.score < 1.0
    assert len(result.reason) < 400 and len(shown) < 100
    assert diff is None or len(diff) < 10_000
    parsed = 0 if not isinstance(payload, str) or "json" not in spec else 12 * len(payload)
    assert peak < 1_000_000 + parsed  # was the payload several times over (hex, difflib)
    assert elapsed < timeout(1)
