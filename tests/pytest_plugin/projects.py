"""Small pytest projects on disk for the plugin's end-to-end tests, and pytest run on them.

Each project has its own pyproject.toml (pytest's configuration, and the root where wsrun's
suite file lookup stops), so that the runs are independent of this repository's settings. The
plugin comes in through its `pytest11` entry point, as it does for a user.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

from tests.support import timeout

#: A suite file whose service, the built-in server, appends each line it prints to serve.log
#: (a log that tells how often it started, and its URL).
SUITE = """\
services:
  - name: server
    command: "wsrun serve --port 0 | tee -a serve.log"
    ready: {log: 'listening on (?P<url>ws://\\S+)'}
    timeout: 20s
    provides: {base_url: "${url}"}
"""

#: A scenario that passes, parametrized; a row holds a template function, left unrendered in
#: its id (collection runs no function).
ECHO = """\
name: echo
tags: [smoke]
parametrize:
  - {word: "${uuid()}"}
  - {word: hello}
steps:
  - connect: "${base_url}/echo"
  - send: "${word}"
  - expect: "${word}"
"""

#: A scenario that fails at its third step, line 7, with a JSON diff.
FAILING = """\
# the scenario's name is on line 2
name: failing echo
tags: [smoke, slow-net, "owner: web", skip]
steps:
  - connect: "${base_url}/echo"
  - send: {json: {a: 1, b: "two"}}
  - expect: {json: {a: 1, b: "three"}, timeout: 300ms}
"""


def project(root: Path, files: dict[str, str], pytest_options: str = "") -> Path:
    """Write `files` (path → text) under `root`, with a pyproject.toml holding the pytest
    options `pytest_options` (TOML lines); return `root`."""
    config = f"[tool.pytest.ini_options]\n{pytest_options}\n"
    (root / "pyproject.toml").write_text(config, encoding="utf-8")
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def env() -> dict[str, str]:
    """The environment of an inner pytest: this one's, without what would steer it (`CI` and
    `BUILD_NUMBER` make pytest print its short summary whole, as on a CI machine, and
    `GITHUB_ACTIONS` adds wsrun's annotations: the inner runs are what a terminal shows)."""
    steering = ("CI", "BUILD_NUMBER", "GITHUB_ACTIONS")
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PYTEST_", "COV_")) and k not in steering
    }


def pytest_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args]


def run_pytest(root: Path, *args: str, units: float = 30) -> subprocess.CompletedProcess[str]:
    """Run pytest in `root`; its exit code, stdout and stderr."""
    return subprocess.run(
        pytest_command(*args),
        cwd=root,
        capture_output=True,
        text=True,
        env=env(),
        timeout=timeout(units),
    )


def collected(result: subprocess.CompletedProcess[str]) -> list[str]:
    """The node ids that ``--collect-only -q`` printed."""
    return [line for line in result.stdout.splitlines() if "::" in line]


def served_urls(log: Path) -> list[str]:
    """The URLs the built-in server said it listens on, one per start."""
    text = log.read_text(encoding="utf-8") if log.exists() else ""
    return re.findall(r"listening on (ws://\S+)", text)


def refuses(url: str) -> bool:
    """Whether nothing listens at `url` any more."""
    port = int(url.rsplit(":", 1)[1].split("/")[0])
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0
