"""The process supervisor: real subprocesses started, waited for, captured and stopped."""

from __future__ import annotations

import _thread
import re
import socket
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from websockets.sync.client import connect

from runner.errors import ServiceError
from runner.scenario import Service
from runner.scenario.files import Ready
from runner.supervisor import ServiceGroup
from tests.support import timeout

README = Path(__file__).resolve().parents[2] / "README.md"


def service(name: str, command: list[str] | str, ready: dict[str, Any], **fields: Any) -> Service:
    """A service as a suite file declares it (the supervisor takes the model as it is)."""
    return Service.model_validate({"name": name, "command": command, "ready": ready, **fields})


SERVE = service(
    "server",
    ["wsrun", "serve", "--port", "0"],
    {"log": r"listening on (?P<url>ws://\S+)"},
    timeout=timeout(10),
)


def alive(pid: int) -> bool:
    """Whether process `pid` runs (a zombie nobody reaped counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def started(
    *services: Service, grace: float = 5.0
) -> Iterator[tuple[ServiceGroup, dict[str, str]]]:
    with ServiceGroup(services, grace=grace) as group:
        yield group, group.start()


def test_builtin_server_as_a_list_command_provides_its_url() -> None:
    with started(SERVE) as (group, variables):
        assert variables["url"].startswith("ws://127.0.0.1:")
        assert group.captures("server") == variables
        with connect(variables["url"] + "/echo", open_timeout=timeout()) as ws:
            ws.send("through a service")
            assert ws.recv(timeout=timeout()) == "through a service"
        assert "wsrun test server listening on" in group.output("server")
        pid = group.pid("server")
    assert not alive(pid)
    assert group.returncode("server") == 0  # the server exits 0 on SIGTERM


def test_shell_command_with_env_cwd_and_ready_port(tmp_path: Path) -> None:
    port = free_port()
    (tmp_path / "marker.txt").write_text("from cwd\n")
    script = (
        f"{sys.executable} -m runner.server --port $PORT & "
        'cat marker.txt; echo "greeting=$GREETING" >&2; wait'
    )
    spec = service(
        "sh",
        script,
        {"port": port},
        cwd=str(tmp_path),
        env={"PORT": str(port), "GREETING": "hi"},
        timeout=timeout(10),
    )
    with started(spec) as (group, variables):
        assert variables == {"port": str(port)}
        with connect(f"ws://127.0.0.1:{port}/echo", open_timeout=timeout()) as ws:
            ws.send("x")
            assert ws.recv(timeout=timeout()) == "x"
        output = group.output("sh")
    assert "from cwd" in output
    assert "greeting=hi" in output


def test_ready_url_waits_for_the_url_to_accept() -> None:
    port = free_port()
    spec = service(
        "late",
        [
            sys.executable,
            "-c",
            f"import time, runner.server as s; time.sleep(0.3); s.serve_main(['--port', '{port}'])",
        ],
        {"url": f"ws://localhost:{port}/echo"},
        timeout=timeout(10),
    )
    with started(spec), connect(f"ws://127.0.0.1:{port}/echo", open_timeout=timeout()) as ws:
        ws.send("y")
        assert ws.recv(timeout=timeout()) == "y"


def test_command_that_exits_at_once_is_a_service_error_with_its_output() -> None:
    spec = service(
        "crash",
        [sys.executable, "-c", "import sys; print('boom'); sys.exit(3)"],
        {"log": "never printed"},
        timeout=timeout(10),
    )
    started_at = time.monotonic()
    with pytest.raises(ServiceError) as caught, started(spec):
        raise AssertionError("unreachable: starting must fail")
    assert time.monotonic() - started_at < timeout(5)
    error = caught.value
    assert error.name == "crash"
    assert error.message.startswith("exited with code 3 before it was ready;")
    assert "a line of output matching 'never printed'" in error.message
    assert error.output == "boom\n"
    assert str(error).startswith("service 'crash': exited with code 3")


def test_command_never_ready_fails_within_its_timeout() -> None:
    port = free_port()
    spec = service(
        "idle",
        [sys.executable, "-c", "import time; print('idling', flush=True); time.sleep(60)"],
        {"port": port},
        timeout=0.5,
    )
    group = ServiceGroup([spec])
    started_at = time.monotonic()
    with pytest.raises(ServiceError) as caught:
        group.start()
    elapsed = time.monotonic() - started_at
    assert 0.5 <= elapsed < 0.5 + timeout(3)  # the wait, plus stopping the service
    assert caught.value.message == (
        f"not ready within 0.5s; waited for port {port} to accept connections"
    )
    assert "idling" in caught.value.output
    assert not alive(group.pid("idle"))  # start() stopped what it started


def test_command_that_cannot_be_started_is_a_service_error(tmp_path: Path) -> None:
    spec = service("ghost", [str(tmp_path / "no-such-program")], {"log": "ready"})
    with pytest.raises(ServiceError, match=r"cannot start .*no-such-program: No such file"):
        ServiceGroup([spec]).start()


def test_a_failing_later_service_stops_the_earlier_ones() -> None:
    crash = service("crash", "exit 1", {"log": "ready"})
    group = ServiceGroup([SERVE, crash])
    with pytest.raises(ServiceError, match="exited with code 1"):
        group.start()
    assert not alive(group.pid("server"))


def test_stop_kills_the_whole_process_group_even_when_sigterm_is_ignored() -> None:
    script = (
        "trap '' TERM; "
        "sleep 60 & echo child=$!; "
        "sh -c \"trap '' TERM; echo grandchild=\\$\\$; sleep 60\" & "
        "wait"
    )
    spec = service("stubborn", script, {"log": r"grandchild=(?P<grand>\d+)"})
    group = ServiceGroup([spec], grace=0.3)
    captures = group.start()
    pids = [group.pid("stubborn"), int(captures["grand"])]
    pids.append(int(group.output("stubborn").split("child=")[1].split()[0]))
    assert all(alive(pid) for pid in pids)
    started_at = time.monotonic()
    group.stop()
    assert time.monotonic() - started_at < timeout(5)
    assert not any(alive(pid) for pid in pids)
    group.stop()  # idempotent


def test_output_is_bounded_and_keeps_the_last_lines() -> None:
    spec = service(
        "chatty",
        [
            sys.executable,
            "-c",
            "for i in range(5000): print(f'line {i:04}')\nprint('ready', flush=True)\n"
            "import time; time.sleep(60)",
        ],
        {"log": "^ready$"},
    )
    with ServiceGroup([spec], output_limit=1000) as group:
        group.start()
        output = group.output("chatty")
    assert output.startswith("[earlier output dropped]\n")
    assert output.endswith("line 4999\nready\n")
    assert len(output) <= 1000 + len("[earlier output dropped]\n")


def test_no_ready_condition_means_ready_at_once() -> None:
    # The language asks for one condition; the supervisor alone also takes none.
    written = service("bg", [sys.executable, "-c", "import time; time.sleep(60)"], {"port": 1})
    spec = written.model_copy(update={"ready": Ready.model_construct()})
    with ServiceGroup([spec]) as group:
        assert group.start() == {}
        assert group.returncode("bg") is None


def test_duplicate_names_are_refused() -> None:
    with pytest.raises(ValueError, match="unique"):
        ServiceGroup([SERVE, SERVE])


def test_ctrl_c_while_waiting_stops_the_started_services() -> None:
    spec = service(
        "slow",
        [
            sys.executable,
            "-c",
            "import signal, time; signal.signal(signal.SIGINT, signal.SIG_IGN); "
            "print('up', flush=True); time.sleep(60)",
        ],
        {"log": "never"},
        timeout=timeout(10),
    )
    group = ServiceGroup([spec])
    timer = threading.Timer(0.3, _thread.interrupt_main)
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            group.start()
    finally:
        timer.cancel()
    assert not alive(group.pid("slow"))


def test_a_ready_log_that_is_no_regex_is_a_service_error() -> None:
    # The suite file's models refuse it; a caller who builds the model without them gets this.
    written = service("odd", [sys.executable, "-c", "pass"], {"log": "ok"})
    spec = written.model_copy(update={"ready": Ready.model_construct(log="up (")})
    with pytest.raises(
        ServiceError, match=r"ready.log is not a valid regular expression: missing \)"
    ):
        ServiceGroup([spec]).start()


def test_the_readme_example_runs() -> None:
    text = README.read_text(encoding="utf-8")
    section = text[text.index("From Python, the process supervisor") :]
    example = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert example is not None
    namespace: dict[str, Any] = {}
    exec(compile(example[1], "README.md", "exec"), namespace)
    assert namespace["captures"]["url"].startswith("ws://127.0.0.1:")
    assert "listening on" in namespace["services"].output("server")
