"""Real, independent STOMP brokers over WebSocket for the stomp protocol's tests: RabbitMQ with
its Web STOMP plugin (STOMP 1.2; Debian's rabbitmq-server, `rabbitmq_peer`), and Node's
stomp-broker-js (STOMP 1.1) on a Node http server, tests/peers/stomp/server.js, at ``/stomp``.

`.ci/run` installs its packages (``npm ci --prefix tests/peers/stomp``). What it does and does
not do, read from its source: a CONNECT without the login it wants gets ``ERROR``
(``message:CONNECTION ERROR``); a RECEIPT answers only a SEND (a SUBSCRIBE's receipt is never
answered); a MESSAGE goes to the subscribers of other connections only; with ``--heartbeat
0,SY`` it expects the client's heart-beats and closes a connection silent for longer.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.protocols.peers_mqtt import stop
from tests.support import timeout

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


#: The RabbitMQ server script Debian's rabbitmq-server installs (the one in /usr/sbin switches
#: to the rabbitmq user; this one runs as whoever starts it).
RABBITMQ = Path("/usr/lib/rabbitmq/bin/rabbitmq-server")


@contextmanager
def rabbitmq_peer() -> Iterator[str]:
    """RabbitMQ with its Web STOMP plugin (STOMP 1.2 over WebSocket), a node of its own in a
    temporary directory on free loopback ports; yields its ``ws://.../ws`` URL once it listens
    (it accepts ``guest``/``guest``); stopped on exit, with the epmd it started."""
    assert RABBITMQ.exists(), "apt-get install rabbitmq-server first (.ci/run does)"
    with tempfile.TemporaryDirectory(prefix="wsrun-rabbitmq-") as home:
        amqp, web, dist, epmd = _free_ports(4)
        Path(home, "rabbitmq.conf").write_text(
            f"listeners.tcp.default = 127.0.0.1:{amqp}\n"
            f"web_stomp.tcp.port = {web}\nweb_stomp.tcp.ip = 127.0.0.1\n"
            "loopback_users = none\nlog.console = false\n",
            encoding="utf-8",
        )
        Path(home, "enabled_plugins").write_text("[rabbitmq_web_stomp].\n", encoding="utf-8")
        env = {
            **os.environ,
            "HOME": home,  # its Erlang cookie
            "RABBITMQ_NODENAME": f"wsrun-{os.getpid()}@localhost",
            "RABBITMQ_CONFIG_FILE": str(Path(home, "rabbitmq")),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(Path(home, "enabled_plugins")),
            "RABBITMQ_MNESIA_BASE": str(Path(home, "mnesia")),
            "RABBITMQ_LOG_BASE": str(Path(home, "log")),
            "RABBITMQ_PID_FILE": str(Path(home, "pid")),
            "RABBITMQ_DIST_PORT": str(dist),
            "ERL_EPMD_PORT": str(epmd),
        }
        process = subprocess.Popen(
            [str(RABBITMQ)],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            _wait_for_port(web, process, timeout(60))
            yield f"ws://127.0.0.1:{web}/ws"
        finally:
            _stop_group(process)
            subprocess.run(["epmd", "-kill"], env=env, capture_output=True, timeout=timeout(5))


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _wait_for_port(port: int, process: subprocess.Popen[bytes], wait: float) -> None:
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        assert process.poll() is None, f"rabbitmq-server exited with {process.returncode}"
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.1)
    raise AssertionError(f"RabbitMQ's Web STOMP did not listen on port {port} within {wait} s")


def _stop_group(process: subprocess.Popen[bytes]) -> None:
    """Stop the broker's process group (the script, the Erlang VM under it)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout(10))
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    with contextlib.suppress(ProcessLookupError):  # the VM may outlive the script a moment
        os.killpg(process.pid, signal.SIGKILL)
