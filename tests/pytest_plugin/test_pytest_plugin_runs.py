"""The pytest plugin end to end, in real pytest runs against the built-in server as a suite
service: the example suite with and without pytest-xdist, a failure's block in the terminal and
in JUnit, steps as subtests, services started once and stopped after a worker crash, a Ctrl-C
and a service that does not start."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path

import pytest

from runner.scenario import load_suite
from tests.pytest_plugin.projects import (
    ECHO,
    FAILING,
    SUITE,
    env,
    project,
    pytest_command,
    refuses,
    run_pytest,
    served_urls,
)
from tests.support import timeout

ROOT = Path(__file__).resolve().parents[2]

#: The starts of the lines of wsrun's failure block for FAILING, in order: what failed (its
#: timing varies), where, expected, closest, diff, last frames.
FAILURE_BLOCK = [
    "no message on 'default' matched within 0.",
    "  at scen/failing.yaml:7:5 (step 3, expect on default)",
    '  expected: JSON containing {"a": 1, "b": "three"}',
    '  closest:  {"a":1,"b":"two"}',
    "  diff (expected → closest):",
    "    --- expected",
    "  last frames on default:",
    "    +0.",
    "  failed: failing echo (2 of 3 steps passed, ",
]


def shows_block(text: str) -> bool:
    """Whether `text` has lines starting as those of `FAILURE_BLOCK` do, in that order."""
    lines = iter(text.splitlines())
    return all(any(line.startswith(wanted) for line in lines) for wanted in FAILURE_BLOCK)


@pytest.mark.parametrize("xdist", [[], ["-n", "2", "--dist", "loadfile"]], ids=["plain", "xdist"])
def test_the_example_suite_passes_with_an_item_per_scenario_row(xdist: list[str]) -> None:
    result = run_pytest(ROOT, "--wsrun", "scenarios/", "-v", *xdist, units=120)
    assert result.returncode == 0, result.stdout + result.stderr
    scenarios = load_suite([ROOT / "scenarios"]).scenarios
    assert re.search(rf"\b{len(scenarios)} passed\b", result.stdout), result.stdout
    if not xdist:  # a subtest per step of each (a loop is one)
        for scenario in scenarios:
            nodeid = f"{scenario.file.relative_to(ROOT)}::{scenario.name}"
            assert result.stdout.count(f"{nodeid} SUBPASSED[") == len(scenario.steps), nodeid
    started = re.findall(r"service '(\w+)' started once for the run: .*?=(\S+)", result.stdout)
    assert sorted(name for name, _ in started) == ["deflate_server", "server", "tls_server"]
    assert all(refuses(url.rstrip(",")) for _, url in started)  # stopped with the run
    if xdist:  # --dist loadfile: each file's scenarios on one worker
        workers: dict[str, set[str]] = defaultdict(set)
        for worker, file in re.findall(r"\[(gw\d+)\] \[\s*\d+%\] PASSED (\S+?)::", result.stdout):
            workers[file].add(worker)
        files = {str(scenario.file.relative_to(ROOT)) for scenario in scenarios}
        assert set(workers) == files and all(len(w) == 1 for w in workers.values()), workers


def test_a_failing_scenario_shows_the_failure_block_and_each_step(tmp_path: Path) -> None:
    root = project(
        tmp_path,
        {"scen/wsrun-suite.yaml": SUITE, "scen/echo.yaml": ECHO, "scen/failing.yaml": FAILING},
        'junit_family = "xunit1"',
    )
    result = run_pytest(root, "--wsrun", "scen", "-v", "--junitxml", "junit.xml")
    assert result.returncode == 1, result.stdout + result.stderr
    out = result.stdout
    assert shows_block(out), out
    assert "FAILED scen/failing.yaml::failing echo - no message on 'default' matched" in out
    assert "SUBPASSED[step 1 connect on default (scen/failing.yaml:5:5)]" in out
    assert "SUBPASSED[step 2 send on default (scen/failing.yaml:6:5)]" in out
    assert "SUBFAILED[step 3 expect on default (scen/failing.yaml:7:5)]" in out
    assert "2 failed, 2 passed, 8 subtests passed" in out  # the scenario and its step 3
    cases = {c.get("name"): c for c in ET.parse(root / "junit.xml").getroot().iter("testcase")}
    assert sorted(cases) == ["echo[${uuid()}]", "echo[hello]", "failing echo"]
    failing = cases["failing echo"]
    assert (failing.get("file"), failing.get("line")) == ("scen/failing.yaml", "1")
    texts = [f.text or "" for f in failing.iter("failure")]
    assert any(shows_block(text) for text in texts), texts
    urls = served_urls(root / "scen" / "serve.log")
    assert len(urls) == 1 and refuses(urls[0])


CRASH_TEST = "import os\n\ndef test_crash():\n    os._exit(3)\n"


def test_under_xdist_services_start_once_and_stop_after_a_worker_crash(tmp_path: Path) -> None:
    root = project(
        tmp_path,
        {
            "scen/wsrun-suite.yaml": SUITE,
            "scen/echo.yaml": ECHO,
            "scen/failing.yaml": FAILING,
            "tests/test_crash.py": CRASH_TEST,
        },
    )
    result = run_pytest(root, "tests/test_crash.py", "--wsrun", "scen", "-n", "2", units=60)
    out = result.stdout
    assert result.returncode == 1, out + result.stderr
    assert re.search(r"worker 'gw\d' crashed while running 'tests/test_crash.py::test_crash'", out)
    assert shows_block(out), out  # the block crossed from the worker as it is
    assert re.search(r"\b3 failed, 2 passed\b", out), out  # the crash, the scenario, step 3
    urls = served_urls(root / "scen" / "serve.log")
    assert len(urls) == 1, urls  # once, for both workers and the one replacing the crashed
    assert refuses(urls[0])


WAITS = """\
name: waits long
steps:
  - connect: "${base_url}/echo"
  - expect: {text: never, timeout: 60s}
"""


def test_ctrl_c_under_xdist_stops_the_scenarios_and_the_services(tmp_path: Path) -> None:
    root = project(tmp_path, {"scen/wsrun-suite.yaml": SUITE, "scen/waits.yaml": WAITS})
    log = root / "scen" / "serve.log"
    proc = subprocess.Popen(
        pytest_command("--wsrun", "scen", "-n", "2"),
        cwd=root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env(),
        start_new_session=True,  # a process group of its own, as a terminal's job is
    )  # fmt: skip
    try:
        deadline = time.monotonic() + timeout(60)
        while not served_urls(log) and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.1)
        assert served_urls(log), "the service never started"
        time.sleep(timeout(1.5))  # a worker is in the scenario's 60 s wait
        began = time.monotonic()
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C: every process of the job
        out, _ = proc.communicate(timeout=timeout(30))
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert time.monotonic() - began < timeout(20)
    assert "KeyboardInterrupt" in out, out
    assert refuses(served_urls(log)[0]), out


BROKEN_SUITE = """\
services:
  - name: server
    command: [python3, -c, "print('no port for you'); raise SystemExit(3)"]
    ready: {log: 'listening on (?P<url>ws://\\\\S+)'}
    provides: {base_url: "${url}"}
"""


def test_items_of_a_suite_whose_service_does_not_start_are_errors(tmp_path: Path) -> None:
    root = project(tmp_path, {"scen/wsrun-suite.yaml": BROKEN_SUITE, "scen/echo.yaml": ECHO})
    result = run_pytest(root, "--wsrun", "scen")
    out = result.stdout
    assert result.returncode == 1, out + result.stderr
    assert "2 errors" in out and "ERROR at setup of echo[hello]" in out
    assert "the services of scen/wsrun-suite.yaml did not start: service 'server'" in out
    assert "no port for you" in out  # its output, in the summary
