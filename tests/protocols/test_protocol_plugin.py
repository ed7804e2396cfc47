"""A protocol from a plugin: tests/data/protocol_plugin (the README's worked example) installed
with pip into a temporary folder, put on the PYTHONPATH of a `python -m runner` subprocess, so
that its ``wsrun.protocols`` entry point is found by importlib.metadata, as an installed
plugin's would be. It runs against the built-in server's `/echo`, on loopback.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from runner.server.running import TestServer
from tests.support import timeout

ROOT = Path(__file__).resolve().parents[2]
PLUGIN = ROOT / "tests" / "data" / "protocol_plugin"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The plugin installed by pip (built from a copy: the build leaves files behind)."""
    work = tmp_path_factory.mktemp("plugin")
    source = work / "source"
    shutil.copytree(PLUGIN, source)
    target = work / "site"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-build-isolation",
            "--no-deps",
            "--no-index",
            "--disable-pip-version-check",
            "--quiet",
            "--target",
            str(target),
            str(source),
        ],
        capture_output=True,
        text=True,
        timeout=timeout(60),
    )
    assert done.returncode == 0, done.stderr
    assert (target / "wsrun_upper-1.0.0.dist-info" / "entry_points.txt").is_file()
    return target


@pytest.fixture(scope="module")
def server() -> Iterator[TestServer]:
    running = TestServer().start()
    try:
        yield running
    finally:
        running.stop()


def wsrun(site: Path, scenario: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(ROOT)]), "COLUMNS": "250"}
    return subprocess.run(
        [sys.executable, "-m", "runner", *args, str(scenario)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout(60),
    )


def test_a_plugins_protocol_is_found_by_its_entry_point(
    installed: Path, server: TestServer, tmp_path: Path
) -> None:
    scenario = tmp_path / "plugin.yaml"
    scenario.write_text(
        f"""
name: plugin protocol
steps:
  - connect: {{url: "{server.url}/echo", protocol: upper, protocol_options: {{shout: true}}}}
  - call: {{text: hello, expect: {{json: {{text: HELLO}}}}}}
  - send: {{json: {{text: again}}}}
  - expect: {{json: {{text: AGAIN}}}}
  - send: ping                           # raw text: echoed, answered as a heartbeat
  - send: {{json: {{text: done}}}}
  - expect: {{next: true, json: {{text: DONE}}}}
""",
        encoding="utf-8",
    )
    done = wsrun(installed, scenario, "run")
    assert done.returncode == 0, done.stdout + done.stderr
    assert '← received  {"id": 1, "text": "HELLO"}' in done.stdout
    assert "pong" not in done.stdout  # the heartbeat's answer: shown with -v only
    verbose = wsrun(installed, scenario, "run", "-v")
    assert "→ sent      pong" in verbose.stdout, verbose.stdout


def test_a_plugins_protocol_is_listed_and_its_options_checked(
    installed: Path, tmp_path: Path
) -> None:
    scenario = tmp_path / "bad.yaml"
    scenario.write_text(
        """
name: bad
steps:
  - connect: {url: "ws://h/", protocol: uper}
  - connect: {url: "ws://h/", conn: b, protocol: upper, protocol_options: {shout: loud}}
""",
        encoding="utf-8",
    )
    done = wsrun(installed, scenario, "validate")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "json-rpc, upper); did you mean 'upper'?" in done.stdout
    assert "bad.yaml:5:83: wrong type for 'shout'" in done.stdout
    without = wsrun(Path(tmp_path / "nothing"), scenario, "validate")
    assert "unknown protocol 'upper'" in without.stdout  # not installed: not known


def test_the_readme_shows_this_plugin_and_its_scenario_runs(
    installed: Path, server: TestServer, tmp_path: Path
) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    code = readme.split("```python\n# wsrun_upper/__init__.py\n", 1)[1].split("```", 1)[0]
    source = (PLUGIN / "wsrun_upper" / "__init__.py").read_text(encoding="utf-8").splitlines()
    missing = [line for line in code.splitlines() if line.strip() and line not in source]
    assert missing == []  # the README's worked example is the package the tests install
    entry = 'upper = "wsrun_upper:Upper"'
    assert entry in readme and entry in (PLUGIN / "pyproject.toml").read_text(encoding="utf-8")
    block = readme.split("```yaml-plugin\n", 1)[1].split("```", 1)[0]
    scenario = tmp_path / "readme.yaml"
    scenario.write_text(block.replace("ws://127.0.0.1:8765", server.url), encoding="utf-8")
    done = wsrun(installed, scenario, "run")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "4/4 steps" in done.stdout
