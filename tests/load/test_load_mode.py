"""`wsrun load` end to end: Locust users against the built-in server, each run a subprocess.

Locust monkey-patches the standard library with gevent when it is imported, so nothing here
imports it: every run is a child process (`python -m runner load ...`, or `locust -f ...`),
and the built-in server runs in a process of its own.
"""

from __future__ import annotations

import csv
import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import timeout

ROOT = Path(__file__).resolve().parents[2]
#: The children import this checkout's `runner`, from any folder.
ENV = {
    **os.environ,
    "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
}
LOAD = (sys.executable, "-m", "runner", "load")
READY = re.compile(r"^wsrun test server listening on (ws://127\.0\.0\.1:\d+)\n$")

ECHO = """\
name: echo load
timeout: 5s
steps:
  - connect: {url: "${base_url}/echo", name: open}
  - send: hello
  - expect: {text: hello, name: hear hello}
  - close
"""

FAILING = """\
name: wrong answer
timeout: 5s
steps:
  - connect: "${base_url}/echo"
  - send: hello
  - expect: {text: goodbye, timeout: 100ms}
  - send: never sent
"""


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    """The built-in server, in its own process, on a free port."""
    command = [sys.executable, "-m", "runner.server", "--port", "0"]
    proc = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        match = READY.match(line)
        assert match, f"unexpected first line {line!r}"
        yield match.group(1)
    finally:
        proc.kill()
        proc.communicate(timeout=timeout())


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def load(*args: str | Path, wait: float = 60) -> subprocess.CompletedProcess[str]:
    """`python -m runner load ARGS`, to its end."""
    command = [sys.executable, "-m", "runner", "load", *map(str, args)]
    return subprocess.run(
        command, capture_output=True, text=True, timeout=timeout(wait / 5), env=ENV
    )


def stats_rows(prefix: Path) -> dict[tuple[str, str], dict[str, str]]:
    """Locust's ``PREFIX_stats.csv``, by (Type, Name)."""
    with open(f"{prefix}_stats.csv", encoding="utf-8", newline="") as file:
        return {(row["Type"], row["Name"]): row for row in csv.DictReader(file)}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_each_step_is_a_locust_request_with_its_type_and_name(
    base_url: str, tmp_path: Path
) -> None:
    scenario = write(tmp_path, "echo.yaml", ECHO)
    prefix = tmp_path / "run"
    html = tmp_path / "run.html"
    done = load(
        scenario, "--var", f"base_url={base_url}", "--users", "3", "--spawn-rate", "30",
        "--iterations", "2", "--csv", prefix, "--html-report", html,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    rows = stats_rows(prefix)
    assert set(rows) == {
        ("CONNECT", "echo load open"),
        ("SEND", "echo load echo.yaml:5"),
        ("EXPECT", "echo load hear hello"),
        ("CLOSE", "echo load echo.yaml:7"),
        ("", "Aggregated"),
    }
    for key, row in rows.items():
        count = 24 if key[1] == "Aggregated" else 6  # 3 users x 2 iterations (x 4 steps)
        assert (row["Request Count"], row["Failure Count"]) == (str(count), "0"), key
    with open(f"{prefix}_stats.csv", encoding="utf-8") as file:
        columns = file.readline().strip().split(",")
    assert columns[:4] == ["Type", "Name", "Request Count", "Failure Count"]
    assert "95%" in columns and "99%" in columns
    assert "<html" in html.read_text(encoding="utf-8")[:2000].lower()
    table = [line for line in done.stdout.splitlines() if line.startswith("EXPECT")]
    assert len(table) == 1 and table[0].split()[-7:-5] == ["6", "0"]  # count, failures


def test_a_failed_step_is_a_locust_failure_with_wsruns_reason(
    base_url: str, tmp_path: Path
) -> None:
    scenario = write(tmp_path, "failing.yaml", FAILING)
    prefix = tmp_path / "run"
    done = load(
        scenario, "--var", f"base_url={base_url}", "-u", "1", "--iterations", "3",
        "--csv", prefix,
    )  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr  # no threshold: a failure fails
    rows = stats_rows(prefix)
    expect = rows[("EXPECT", "wrong answer failing.yaml:6")]
    assert (expect["Request Count"], expect["Failure Count"]) == ("3", "3")
    assert ("SEND", "wrong answer failing.yaml:7") not in rows  # the iteration ended there
    assert rows[("SEND", "wrong answer failing.yaml:5")]["Request Count"] == "3"
    # the echo nobody took is counted, not kept
    assert rows[("WS UNEXPECTED", "wrong answer default")]["Request Count"] == "3"
    with open(f"{prefix}_failures.csv", encoding="utf-8", newline="") as file:
        failures = list(csv.DictReader(file))
    assert failures and all(f["Method"] == "EXPECT" for f in failures)
    assert all("no message on 'default' matched within" in f["Error"] for f in failures)
    assert sum(int(f["Occurrences"]) for f in failures) == 3


SUITE = """\
vars: {greeting: hi}
services:
  - name: server
    command: [PYTHON, -m, runner.server, --port, "0"]
    ready: {log: 'listening on (?P<url>ws://\\S+)'}
    timeout: 10s
    provides: {base_url: "${url}"}
"""

ROWS = """\
name: rows
parametrize:
  - {who: alice}
  - {who: bob}
timeout: 2s
steps:
  - connect: "${base_url}/echo"
  - send: "${greeting} ${who}"
  - expect: {text: "${greeting} ${who}", name: echoed}
  - close
"""


def test_suite_services_start_and_rows_are_spread_over_users(tmp_path: Path) -> None:
    """As in `wsrun run`: the suite file's service (the built-in server) starts first and
    provides base_url, the suite's vars apply, and user i runs parametrize row i % 2."""
    write(tmp_path, "wsrun-suite.yaml", SUITE.replace("PYTHON", sys.executable))
    scenario = write(tmp_path, "rows.yaml", ROWS)
    prefix = tmp_path / "run"
    done = load(scenario, "-u", "2", "-r", "20", "--iterations", "2", "--csv", prefix)
    assert done.returncode == 0, done.stdout + done.stderr
    rows = stats_rows(prefix)
    names = {name for kind, name in rows if kind == "EXPECT"}
    assert names == {"rows[alice] echoed", "rows[bob] echoed"}
    for kind in ("CONNECT", "SEND", "EXPECT", "CLOSE"):
        counts = [int(r["Request Count"]) for (k, _), r in rows.items() if k == kind]
        assert counts == [2, 2], kind  # each row: one user, two iterations


def test_thresholds_decide_the_exit_code(base_url: str, tmp_path: Path) -> None:
    scenario = write(tmp_path, "echo.yaml", ECHO)
    common = (scenario, "--var", f"base_url={base_url}", "-u", "2", "--iterations", "2")
    met = load(*common, "--threshold", "expect:p95<5s", "--threshold", "errors<1%")
    assert met.returncode == 0, met.stdout + met.stderr
    assert "threshold expect:p95<5s: met" in met.stdout
    assert "threshold errors<1%: met: 0.00% (0 of 16 requests failed)" in met.stdout
    missed = load(*common, "--threshold", "errors<1%", "--threshold", "connect:max<0ms")
    assert missed.returncode == 1, missed.stdout + missed.stderr
    assert "threshold errors<1%: met" in missed.stdout
    assert "threshold connect:max<0ms: NOT met" in missed.stdout
    none = load(*common, "--threshold", "http:p50<1s")  # no such request: not met
    assert none.returncode == 1
    assert "threshold http:p50<1s: NOT met: no HTTP requests were made" in none.stdout


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (("--threshold", "p95<fast"), "expected [TYPE:]METRIC<VALUE"),
        (("--threshold", "errors<3ms"), "errors take a percentage"),
        (("--wait", "3s..1s"), "the longest wait comes second"),
        (("--users", "0"), "expected a whole number above 0"),
        (("--spawn-rate", "0"), "expected a rate above 0"),
        (("--master", "--worker"), "--master and --worker exclude each other"),
        (("--csv", "/no/such/folder/x"), "the folder /no/such/folder does not exist"),
    ],
)
def test_bad_input_exits_2_with_a_message(tmp_path: Path, args: tuple[str, ...], said: str) -> None:
    scenario = write(tmp_path, "echo.yaml", ECHO)
    done = load(scenario, *args)
    assert done.returncode == 2
    assert said in done.stderr
    assert "Traceback" not in done.stderr + done.stdout


def test_bad_files_exit_2_with_wsruns_errors(tmp_path: Path) -> None:
    missing = load(tmp_path / "nowhere.yaml")
    assert missing.returncode == 2 and "no such file or folder" in missing.stdout
    typo = write(tmp_path, "typo.yaml", "name: t\nsteps:\n  - conect: ws://127.0.0.1:1/\n")
    bad = load(typo)
    assert bad.returncode == 2
    assert "unknown step kind 'conect'" in bad.stdout and "Traceback" not in bad.stderr
    no_file = load()
    assert no_file.returncode == 2 and "the scenario FILE is missing" in no_file.stderr


def test_a_master_and_two_workers_total_the_workers_requests(base_url: str, tmp_path: Path) -> None:
    scenario = write(tmp_path, "echo.yaml", ECHO)
    port = str(free_port())
    prefix = tmp_path / "run"
    common = ("--var", f"base_url={base_url}")
    master = subprocess.Popen(
        [sys.executable, "-m", "runner", "load", str(scenario), *common, "--master",
         "--expect-workers", "2", "--master-bind-host", "127.0.0.1", "--master-bind-port", port,
         "-u", "4", "-r", "40", "--duration", "2s", "--csv", str(prefix)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV,
    )  # fmt: skip
    # one worker with its own copy of the scenario, one without: the master sends it the files
    own = [str(scenario), *common]
    workers = [
        subprocess.Popen(
            [*LOAD, *args, "--worker", "--master-host", "127.0.0.1", "--master-port", port],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=ENV,
            cwd=tmp_path,
        )
        for args in (own, [])
    ]
    try:
        out, err = master.communicate(timeout=timeout(30))
        said = [w.communicate(timeout=timeout(10)) for w in workers]
    finally:
        for proc in (master, *workers):
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    assert master.returncode == 0, out + err
    assert [w.returncode for w in workers] == [0, 0], said
    counts = []
    for worker_out, _ in said:
        match = re.search(r"^worker \d+: (\d+) requests reported$", worker_out, re.MULTILINE)
        assert match, worker_out
        counts.append(int(match.group(1)))
    assert all(count > 0 for count in counts)  # both ran users
    assert "got 1 file from the master" in said[1][0]  # the scenario (it has no suite file)
    total = stats_rows(prefix)[("", "Aggregated")]
    assert int(total["Request Count"]) == sum(counts)
    assert f"workers reported {sum(counts)} requests (2 workers)" in out


def test_a_hand_written_locustfile_runs_a_scenario_user(base_url: str, tmp_path: Path) -> None:
    write(tmp_path, "echo.yaml", ECHO)
    locustfile = write(
        tmp_path,
        "locustfile.py",
        textwrap.dedent(
            f"""\
            from locust import constant
            from runner.load import ScenarioUser

            class Echo(ScenarioUser):
                scenario = "echo.yaml"
                vars = {{"base_url": "{base_url}"}}
                wait_time = constant(0.05)
            """
        ),
    )
    command = [
        sys.executable, "-m", "locust", "-f", str(locustfile), "--headless", "-u", "2",
        "-r", "20", "--run-time", "3s", "--csv", str(tmp_path / "lf"), "--only-summary",
    ]  # fmt: skip
    done = subprocess.run(
        command, capture_output=True, text=True, cwd=tmp_path, timeout=timeout(8), env=ENV
    )
    assert done.returncode == 0, done.stdout + done.stderr
    rows = stats_rows(tmp_path / "lf")
    for key in (("CONNECT", "echo load open"), ("EXPECT", "echo load hear hello")):
        assert int(rows[key]["Request Count"]) > 0 and rows[key]["Failure Count"] == "0"


def test_the_tests_process_has_no_gevent() -> None:
    """Nothing above imported Locust here: gevent would have patched every other test."""
    assert "gevent" not in sys.modules and "locust" not in sys.modules


def test_wsrun_run_imports_neither_gevent_nor_locust() -> None:
    """`wsrun run` of the example suite, in a child that then lists what it imported."""
    code = textwrap.dedent(
        """\
        import sys
        from runner.cli import main
        code = main(["run", "scenarios/", "-q", "--no-color"])
        print("exit", code, "heavy", sorted({"gevent", "locust", "zmq"} & set(sys.modules)))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=ENV,
        timeout=timeout(24),
    )  # fmt: skip
    assert done.stdout.splitlines()[-1] == "exit 0 heavy []", done.stdout[-3000:] + done.stderr


def test_only_runner_load_imports_locust_or_gevent() -> None:
    """Locust and gevent are imported by runner/load alone (and runner.cli only lazily, in the
    `load` command's branch): nothing else can patch a `wsrun run`."""
    import ast

    offenders = []
    for path in sorted((ROOT / "runner").rglob("*.py")):
        if path.is_relative_to(ROOT / "runner" / "load"):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            if any(n.split(".")[0] in ("locust", "gevent") for n in names):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []


def test_ctrl_c_stops_the_users_and_still_reports(base_url: str, tmp_path: Path) -> None:
    scenario = write(tmp_path, "echo.yaml", ECHO)
    prefix = tmp_path / "run"
    proc = subprocess.Popen(
        [*LOAD, str(scenario), "--var", f"base_url={base_url}", "-u", "2", "--csv", str(prefix)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().startswith("load: echo load: 2 users")
        time.sleep(1)  # no --duration: it would run until stopped
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=timeout(6))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, out + err
    assert "interrupted (Ctrl-C): stopping the users" in out
    assert "Traceback" not in err
    assert int(stats_rows(prefix)[("", "Aggregated")]["Request Count"]) > 0


def test_web_serves_locusts_ui_while_the_test_runs(base_url: str, tmp_path: Path) -> None:
    import json
    import urllib.request

    scenario = write(tmp_path, "echo.yaml", ECHO)
    port = free_port()
    proc = subprocess.Popen(
        [*LOAD, str(scenario), "--var", f"base_url={base_url}", "-u", "2", "-t", "4s", "--web",
         "--web-host", "127.0.0.1", "--web-port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == f"web UI on http://127.0.0.1:{port}\n"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=timeout()) as page:
            assert b"<html" in page.read(2000).lower()
        time.sleep(1)
        url = f"http://127.0.0.1:{port}/stats/requests"
        with urllib.request.urlopen(url, timeout=timeout()) as answer:
            stats = json.load(answer)
        names = {row["name"] for row in stats["stats"]}
        assert "echo load open" in names, names
        out, err = proc.communicate(timeout=timeout(4))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, out + err


def test_a_scenario_failing_after_its_steps_is_one_scenario_failure(
    base_url: str, tmp_path: Path
) -> None:
    """Its steps all passed, but the echo nobody took fails it (fail_on_unexpected)."""
    scenario = write(
        tmp_path,
        "strict.yaml",
        "name: strict\nfail_on_unexpected: true\nsteps:\n"
        '  - connect: "${base_url}/echo"\n  - send: hello\n  - sleep: 100ms\n',
    )
    prefix = tmp_path / "run"
    done = load(scenario, "--var", f"base_url={base_url}", "--iterations", "2", "--csv", prefix)
    assert done.returncode == 1, done.stdout + done.stderr
    rows = stats_rows(prefix)
    assert rows[("SEND", "strict strict.yaml:5")]["Failure Count"] == "0"
    failed = rows[("SCENARIO", "strict")]
    assert (failed["Request Count"], failed["Failure Count"]) == ("2", "2")
    assert rows[("WS UNEXPECTED", "strict default")]["Request Count"] == "2"
    assert "left unexpected on default (fail_on_unexpected)" in done.stdout
